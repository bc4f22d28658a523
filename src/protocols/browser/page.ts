// Pages in Chromium: allowed hosts, link visits with their redirect hops, and screenshots.
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page, Response } from 'playwright-core';
import type { Clock } from '../../util/clock.ts';
import type { ObservationValue } from '../../core/probe.ts';

/** `host` or `host:port`; an IPv6 address in brackets. */
export const HOST_ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i;

interface HostEntry {
  hostname: string;
  /** Undefined: every port of the host. */
  port: string | undefined;
}

function parseEntry(entry: string): HostEntry | undefined {
  const match = HOST_ENTRY.exec(entry.trim());
  if (!match) return undefined;
  try {
    // Spelled as a URL spells it (case, IDN, IPv6 and IPv4 short forms), so it compares with a request's host.
    return { hostname: new URL(`http://${match[1]}/`).hostname, port: match[2] };
  } catch {
    return undefined;
  }
}

function portOf(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}

/** `host:port` of an http(s) URL, the port spelled out: the unit a page's requests are allowed by. */
export function hostOf(href: string): string | undefined {
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? `${url.hostname.toLowerCase()}:${portOf(url)}`
      : undefined;
  } catch {
    return undefined;
  }
}

/** The distinct `host:port`s of the http(s) URLs among `hrefs`. */
export function hostsOf(hrefs: string[]): string[] {
  return [...new Set(hrefs.map(hostOf).filter((host): host is string => host !== undefined))];
}

/**
 * Whether a page may fetch a URL: http(s) to a listed host (`host` allows
 * every port, `host:port` one), and data:/about:/blob: inside the page.
 * Nothing else — loopback included, where the daemon's own API and the
 * lab's servers listen.
 */
export function allowList(entries: Iterable<string>): (href: string) => boolean {
  const parsed = [...entries].map(parseEntry).filter((entry): entry is HostEntry => entry !== undefined);
  return (href) => {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      return false;
    }
    if (url.protocol === 'data:' || url.protocol === 'about:' || url.protocol === 'blob:') return true;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const hostname = url.hostname.toLowerCase();
    const port = portOf(url);
    return parsed.some((entry) => entry.hostname === hostname && (entry.port === undefined || entry.port === port));
  };
}

/**
 * Lets the context's pages reach only what `mayFetch` allows; everything else
 * is aborted and recorded in `blocked`, so a page never reaches a host the
 * probe did not name. Where scripts run, WebSockets, which Playwright's HTTP
 * routing does not see, are held to the same list (routing them costs every
 * page an injected script, so a context without scripts goes without).
 */
export async function restrictRequests(
  context: BrowserContext,
  mayFetch: (href: string) => boolean,
  blocked: string[],
  options: { scripts: boolean },
): Promise<(page: Page) => Promise<void>> {
  const block = (href: string) => {
    if (blocked.length < 20) blocked.push(href.slice(0, 200));
  };
  await context.route('**/*', async (route) => {
    if (mayFetch(route.request().url())) return route.continue();
    block(route.request().url());
    await route.abort('blockedbyclient');
  });
  if (options.scripts) {
    await context.routeWebSocket(/.*/, (socket) => {
      // A WebSocket is allowed when an HTTP request to its host would be.
      const asHttp = socket.url().replace(/^ws/i, 'http');
      if (mayFetch(asHttp)) return socket.connectToServer();
      block(socket.url());
      return socket.close({ code: 1008, reason: 'blocked by the probe' });
    });
  }
  /*
   * Playwright does not route the hops of a redirect the browser follows, so a
   * tracked link could still redirect anywhere. Chromium's own Fetch domain
   * pauses every hop: it guards each page we navigate.
   */
  return async (page: Page) => {
    const cdp = await context.newCDPSession(page);
    cdp.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string } }) => {
      const ok = mayFetch(event.request.url);
      if (!ok) block(event.request.url);
      const sent = ok
        ? cdp.send('Fetch.continueRequest', { requestId: event.requestId })
        : cdp.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'BlockedByClient' });
      sent.catch(() => undefined);
    });
    await cdp.send('Fetch.enable', { patterns: [{ urlPattern: '*', requestStage: 'Request' }] });
  };
}

export interface Hop {
  url: string;
  status: number;
}

export interface LinkVisit {
  /** Where the chain ended (the last URL answered, or the one that failed). */
  finalUrl: string;
  status: number | null;
  /** Redirects followed (0 when the link answered directly). */
  hops: number;
  chain: Hop[];
  ms: number;
  /** Why the navigation failed (loop, blocked, timeout), when it did. */
  error?: string;
}

/** Playwright's error text without its call log. */
export function shortError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text
    .split('\n')[0]!
    .replace(/^page\.\w+: /, '')
    .slice(0, 300);
}

/** Navigates `page` to `url`, recording every main-frame response (each redirect hop) and the time to `load`. */
export async function visit(page: Page, url: string, timeoutMs: number, clock: Clock): Promise<LinkVisit> {
  const chain: Hop[] = [];
  const onResponse = (response: Response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame())
      chain.push({ url: response.url(), status: response.status() });
  };
  page.on('response', onResponse);
  const started = clock.monotonic();
  try {
    const response = await page.goto(url, { timeout: timeoutMs, waitUntil: 'load' });
    const ms = Math.round(clock.monotonic() - started);
    const last = chain.at(-1);
    return {
      finalUrl: response?.url() ?? last?.url ?? page.url(),
      status: response?.status() ?? last?.status ?? null,
      hops: Math.max(0, chain.length - 1),
      chain,
      ms,
    };
  } catch (error) {
    const ms = Math.round(clock.monotonic() - started);
    const last = chain.at(-1);
    return {
      finalUrl: last?.url ?? url,
      status: last?.status ?? null,
      hops: chain.length,
      chain,
      ms,
      error: shortError(error),
    };
  } finally {
    page.off('response', onResponse);
  }
}

/** Milliseconds left for one browser wait: the step's own limit, never past the run's deadline (less a margin to report). */
export function waitBudget(stepMs: number, deadline: number, clock: Clock): number {
  return Math.max(1, Math.min(stepMs, deadline - clock.now() - 750));
}

/** A file name from a probe name or run id. */
function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100) || 'probe';
}

/**
 * Writes a full-page PNG of `page` to `<dir>/<probe>/<run>.png` and keeps only
 * the newest `keep` files of the probe. Returns the path, or undefined when the
 * page could not be captured (closed at the deadline).
 */
export async function keepScreenshot(
  page: Page,
  options: { dir: string; probe: string; runId: string; keep: number },
): Promise<string | undefined> {
  const folder = join(options.dir, safeName(options.probe));
  const path = join(folder, `${safeName(options.runId)}.png`);
  try {
    await mkdir(folder, { recursive: true });
    await page.screenshot({ path, fullPage: true, timeout: 5000 });
  } catch {
    return undefined;
  }
  await prune(folder, options.keep).catch(() => undefined);
  return path;
}

async function prune(folder: string, keep: number): Promise<void> {
  const names = (await readdir(folder)).filter((name) => name.endsWith('.png'));
  if (names.length <= keep) return;
  const dated = await Promise.all(names.map(async (name) => ({ name, at: (await stat(join(folder, name))).mtimeMs })));
  dated.sort((a, b) => b.at - a.at);
  await Promise.all(dated.slice(keep).map((file) => unlink(join(folder, file.name))));
}

/** Observations of one followed link under `link.<n>.`. */
export function linkObservations(
  n: number,
  href: string,
  seen: LinkVisit,
  ok: boolean,
): Record<string, ObservationValue> {
  const prefix = `link.${n}`;
  return {
    [`${prefix}.url`]: href,
    [`${prefix}.finalUrl`]: seen.finalUrl,
    [`${prefix}.status`]: seen.status,
    [`${prefix}.hops`]: seen.hops,
    [`${prefix}.ms`]: seen.ms,
    [`${prefix}.ok`]: ok,
    [`${prefix}.error`]: seen.error ?? null,
  };
}
