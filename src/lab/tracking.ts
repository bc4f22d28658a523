// The lab's click and open tracking: rewritten links, redirect hops, the pixel and landing pages.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import { sendJson, type Faults, type LabApp, type LabRequest } from './http-app.ts';

/**
 * Lab part six: click and open tracking of the ScaiSend stand-in.
 *
 * When a send asks for it (`tracking_settings.click_tracking.enable` /
 * `open_tracking.enable`) or a switch forces it, each http(s) link of the HTML
 * part becomes `/t/c?id=…` on the stand-in (302 to `/t/r?id=…`, 302 to the
 * original URL) and an open pixel `/t/o.gif?id=…` is appended. Opens and clicks
 * land in the same per-tenant counters `/v3/stats` and `/v3/stats/sum` report.
 * (The stand-in routes exact paths only, hence ids in the query.)
 */

/** Tracking switches (in the stand-in's faults, POST /__lab/faults). */
export interface TrackingFaults {
  /** Tracking on for every send, whatever the request says. */
  trackingForce?: boolean;
  /** Tracking off for every send, whatever the request says. */
  trackingOff?: boolean;
  /** The click redirect breaks: true or "500" answers 500, "loop" redirects in a circle, "404" answers 404. */
  trackingBroken?: boolean | '500' | 'loop' | '404';
}

/** What the stand-in counts (a subset of the mail-send counters). */
export interface TrackingCounters {
  add(tenant: string, metric: 'opens' | 'unique_opens' | 'clicks' | 'unique_clicks', count?: number): void;
}

export interface TrackingSettings {
  clicks: boolean;
  opens: boolean;
}

interface TrackedLink {
  tenant: string;
  /** One delivered message to one personalization: uniqueness is per this. */
  message: string;
  target?: string;
}

/** The landing pages probe mail can link to: GET /landing/<name>. */
export const LAB_LANDING_PAGES = ['welcome', 'pricing', 'signup'] as const;

const MAX_IDS = 50_000;
// The smallest transparent GIF (43 bytes).
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const LINK = /(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?:\/\/[^"']+)\2/gi;

export interface Tracking {
  /** The HTML to relay: links rewritten and the pixel added when tracking applies; otherwise `html` unchanged. */
  apply(tenant: string, body: unknown, message: string, html: string | undefined): string | undefined;
}

function isOn(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { enable?: unknown }).enable === true;
}

/** What the send body asks for, after the switches. */
export function trackingSettings(body: unknown, faults: Faults & TrackingFaults): TrackingSettings {
  if (faults.trackingOff) return { clicks: false, opens: false };
  if (faults.trackingForce) return { clicks: true, opens: true };
  const settings =
    typeof body === 'object' && body !== null
      ? (body as { tracking_settings?: Record<string, unknown> }).tracking_settings
      : undefined;
  return { clicks: isOn(settings?.click_tracking), opens: isOn(settings?.open_tracking) };
}

function decodeEntities(url: string): string {
  return url.replace(/&amp;/g, '&');
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** The pixel and the two redirect hops, counting opens and clicks (unique ones once per message). */
function mountTrackingRoutes(app: LabApp, counters: TrackingCounters, links: Map<string, TrackedLink>): void {
  const opened = new Set<string>();
  const clicked = new Set<string>();
  /** The link behind ?id=, or a 404 already sent. */
  const lookup = (request: LabRequest, res: ServerResponse): (TrackedLink & { target: string }) | undefined => {
    const link = links.get(request.url.searchParams.get('id') ?? '');
    if (link?.target === undefined) {
      sendJson(res, 404, { error: 'unknown tracking id' });
      return undefined;
    }
    return { ...link, target: link.target };
  };

  app.route('GET', '/t/o.gif', (request, res) => {
    const link = links.get(request.url.searchParams.get('id') ?? '');
    if (link) {
      counters.add(link.tenant, 'opens');
      if (!opened.has(link.message)) counters.add(link.tenant, 'unique_opens');
      opened.add(link.message);
    }
    // A pixel answers even for unknown ids, as a real tracker does.
    res.writeHead(200, { 'content-type': 'image/gif', 'content-length': PIXEL.length, 'cache-control': 'no-store' });
    res.end(PIXEL);
  });

  app.route('GET', '/t/c', (request, res) => {
    const broken = (request.faults as TrackingFaults).trackingBroken;
    const id = request.url.searchParams.get('id') ?? '';
    if (broken === 'loop') return redirect(res, `/t/r?id=${encodeURIComponent(id)}&loop=1`);
    if (broken === '404') return sendJson(res, 404, { error: 'tracking link not found (lab fault)' });
    if (broken) return sendJson(res, 500, { error: 'tracking redirect failed (lab fault)' });
    const link = lookup(request, res);
    if (!link) return;
    counters.add(link.tenant, 'clicks');
    if (!clicked.has(link.message)) counters.add(link.tenant, 'unique_clicks');
    clicked.add(link.message);
    redirect(res, `/t/r?id=${encodeURIComponent(id)}`);
  });

  // The second hop, as real trackers bounce through a redirect host.
  app.route('GET', '/t/r', (request, res) => {
    if (request.url.searchParams.has('loop'))
      return redirect(res, `/t/c?id=${encodeURIComponent(request.url.searchParams.get('id') ?? '')}`);
    const link = lookup(request, res);
    if (link) redirect(res, link.target);
  });
}

/** Mounts /t/c, /t/r, /t/o.gif and the landing pages on `app`; returns the rewriter mail send calls. */
export function mountTracking(app: LabApp, counters: TrackingCounters): Tracking {
  const links = new Map<string, TrackedLink>();

  const remember = (link: TrackedLink): string => {
    const id = randomBytes(9).toString('base64url');
    links.set(id, link);
    // Oldest first: a Map iterates in insertion order.
    if (links.size > MAX_IDS) links.delete(links.keys().next().value as string);
    return id;
  };
  const baseUrl = () => {
    const address = app.server.address() as AddressInfo | null;
    return `http://127.0.0.1:${address?.port ?? 0}`;
  };
  mountTrackingRoutes(app, counters, links);
  for (const name of LAB_LANDING_PAGES) app.route('GET', `/landing/${name}`, (_request, res) => sendLanding(res, name));

  return {
    apply(tenant, body, message, html) {
      if (html === undefined) return html;
      const settings = trackingSettings(body, app.faults);
      let out = html;
      if (settings.clicks) {
        out = out.replace(LINK, (_all, start: string, quote: string, href: string) => {
          const id = remember({ tenant, message, target: decodeEntities(href) });
          return `${start}${quote}${baseUrl()}/t/c?id=${id}${quote}`;
        });
      }
      if (settings.opens) {
        const id = remember({ tenant, message });
        const pixel = `<img src="${escapeAttr(`${baseUrl()}/t/o.gif?id=${id}`)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
        out = /<\/body>/i.test(out) ? out.replace(/<\/body>/i, `${pixel}</body>`) : `${out}${pixel}`;
      }
      return out;
    },
  };
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

const LANDING_TEXT: Record<(typeof LAB_LANDING_PAGES)[number], string> = {
  welcome: 'Welcome to ScaiSend',
  pricing: 'ScaiSend pricing',
  signup: 'Sign up for ScaiSend',
};

/** A small page; `signup` has a form whose button writes a greeting (for scripted page checks). */
function sendLanding(res: ServerResponse, name: (typeof LAB_LANDING_PAGES)[number]): void {
  const title = LANDING_TEXT[name];
  const form =
    name === 'signup'
      ? `<form id="signup" onsubmit="event.preventDefault(); document.getElementById('result').textContent = 'Thanks, ' + document.getElementById('email').value;">
<label>Email <input id="email" name="email" type="email"></label> <button id="go" type="submit">Sign up</button></form><p id="result"></p>`
      : `<p><a id="next" href="/landing/signup">Sign up</a></p>`;
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>Landing page "${name}" of the lab.</p>${form}</body></html>`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
  res.end(html);
}
