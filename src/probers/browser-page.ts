import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page, Response } from 'playwright-core';
import type { Clock } from '../util/clock.ts';
import type { ObservationValue } from './types.ts';

/** Loopback names and addresses a page may always reach. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Whether a page may fetch `href`: loopback and `allowed` over http(s), data:/about:/blob: inside the page. */
export function mayFetch(href: string, allowed: Set<string>): boolean {
  const url = new URL(href);
  if (url.protocol === 'data:' || url.protocol === 'about:' || url.protocol === 'blob:') return true;
  return (url.protocol === 'http:' || url.protocol === 'https:') && (isLoopback(url.hostname) || allowed.has(url.hostname.toLowerCase()));
}

/**
 * Lets the context's pages reach only loopback and `allowHosts`; everything
 * else is aborted and recorded in `blocked`, so a probe mail's third-party
 * content never leaves the host.
 */
export async function restrictRequests(context: BrowserContext, allowHosts: string[], blocked: string[]): Promise<(page: Page) => Promise<void>> {
  const allowed = new Set(allowHosts.map((host) => host.toLowerCase()));
  const block = (href: string) => {
    if (blocked.length < 20) blocked.push(href.slice(0, 200));
  };
  await context.route('**/*', async (route) => {
    if (mayFetch(route.request().url(), allowed)) return route.continue();
    block(route.request().url());
    await route.abort('blockedbyclient');
  });
  /*
   * Playwright does not route the hops of a redirect the browser follows, so a
   * tracked link could still redirect anywhere. Chromium's own Fetch domain
   * pauses every hop: it guards each page we navigate.
   */
  return async (page: Page) => {
    const cdp = await context.newCDPSession(page);
    cdp.on('Fetch.requestPaused', (event: { requestId: string; request: { url: string } }) => {
      const ok = mayFetch(event.request.url, allowed);
      if (!ok) block(event.request.url);
      const sent = ok ? cdp.send('Fetch.continueRequest', { requestId: event.requestId }) : cdp.send('Fetch.failRequest', { requestId: event.requestId, errorReason: 'BlockedByClient' });
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
  const text = (error as Error)?.message ?? String(error);
  return text.split('\n')[0]!.replace(/^page\.\w+: /, '').slice(0, 300);
}

/** Navigates `page` to `url`, recording every main-frame response (each redirect hop) and the time to `load`. */
export async function visit(page: Page, url: string, timeoutMs: number, clock: Clock): Promise<LinkVisit> {
  const chain: Hop[] = [];
  const onResponse = (response: Response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) chain.push({ url: response.url(), status: response.status() });
  };
  page.on('response', onResponse);
  const started = clock.monotonic();
  try {
    const response = await page.goto(url, { timeout: timeoutMs, waitUntil: 'load' });
    const ms = Math.round(clock.monotonic() - started);
    const last = chain.at(-1);
    return { finalUrl: response?.url() ?? last?.url ?? page.url(), status: response?.status() ?? last?.status ?? null, hops: Math.max(0, chain.length - 1), chain, ms };
  } catch (error) {
    const ms = Math.round(clock.monotonic() - started);
    const last = chain.at(-1);
    return { finalUrl: last?.url ?? url, status: last?.status ?? null, hops: chain.length, chain, ms, error: shortError(error) };
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
export async function keepScreenshot(page: Page, options: { dir: string; probe: string; runId: string; keep: number }): Promise<string | undefined> {
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
export function linkObservations(n: number, href: string, seen: LinkVisit, ok: boolean): Record<string, ObservationValue> {
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
