import type { ImapFlow } from 'imapflow';
import { ProbeFailure } from '../net/errors.ts';
import { connectImap, withSignal, type ImapAccount } from './imap-watch.ts';
import { apiErrorText } from './mail-send.ts';
import type { ProbeContext } from './types.ts';

/** The newest probe message of a mail probe, as a recipient's mail client would show it. */
export interface ProbeMail {
  uid: number;
  subject: string;
  html: string | undefined;
  /** Epoch ms the server stored it (INTERNALDATE). */
  receivedAt: number | null;
}

async function newest(client: ImapFlow, marker: string, signal: AbortSignal): Promise<ProbeMail | undefined> {
  // A message may arrive (or be swept by the mail probe) between two calls: NOOP to see the folder as it is now.
  await withSignal(client.noop(), signal, () => client.close());
  const uids = await withSignal(client.search({ subject: marker }, { uid: true }), signal, () => client.close());
  if (!Array.isArray(uids) || uids.length === 0) return undefined;
  for (const uid of [...uids].sort((a, b) => b - a)) {
    const message = await withSignal(client.fetchOne(String(uid), { source: true, envelope: true, internalDate: true }, { uid: true }), signal, () => client.close());
    // SEARCH SUBJECT matches substrings anywhere; keep only our marker's messages.
    if (!message || !message.source || !(message.envelope?.subject ?? '').includes(marker)) continue;
    const { simpleParser } = await import('mailparser');
    const parsed = await simpleParser(message.source);
    const html = typeof parsed.html === 'string' ? parsed.html : undefined;
    const receivedAt = message.internalDate ? new Date(message.internalDate).getTime() : null;
    return { uid, subject: message.envelope?.subject ?? '', html, receivedAt };
  }
  return undefined;
}

/**
 * Fetches the newest message whose subject contains `marker` from `folder`,
 * waiting up to `waitMs` (polling once a second) for one to exist.
 */
export async function fetchProbeMail(account: ImapAccount, folder: string, marker: string, waitMs: number, ctx: ProbeContext): Promise<ProbeMail | undefined> {
  const client = await connectImap(account, ctx.signal, ctx.logger);
  try {
    try {
      await withSignal(client.mailboxOpen(folder), ctx.signal, () => client.close());
    } catch (error) {
      if (error instanceof ProbeFailure) throw error;
      throw new ProbeFailure('CONFIG', `IMAP ${account.user}@${account.host}:${account.port}: cannot open folder ${folder}: ${(error as Error).message}`, { cause: error });
    }
    const until = ctx.clock.now() + waitMs;
    for (;;) {
      const found = await newest(client, marker, ctx.signal);
      if (found || ctx.clock.now() >= until) return found;
      await pause(Math.min(1000, until - ctx.clock.now()), ctx.signal);
    }
  } finally {
    await Promise.race([client.logout().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    client.close();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

export interface StatsSource {
  api: string;
  apiKey: string;
}

export interface StatsSum {
  opens: number;
  clicks: number;
}

function utcDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

/** ScaiSend's /v3/stats/sum over [start, today] (UTC) for the key's tenant: opens and clicks. */
export async function readStatsSum(source: StatsSource, start: string, ctx: ProbeContext): Promise<StatsSum> {
  const url = `${source.api.replace(/\/+$/, '')}/v3/stats/sum?start_date=${start}&end_date=${utcDate(ctx.clock.now())}`;
  const response = await ctx.http.request({ url, method: 'GET', headers: { authorization: `Bearer ${source.apiKey}` }, signal: ctx.signal, maxRedirects: 0 });
  if (response.status !== 200) {
    const code = response.status === 401 || response.status === 403 ? 'AUTH' : 'PROTOCOL';
    throw new ProbeFailure(code, `stats: GET ${url} answered ${response.status}: ${apiErrorText(response.body)}`);
  }
  let metrics: Record<string, unknown> | undefined;
  try {
    metrics = (JSON.parse(response.body.toString('utf8')) as { metrics?: Record<string, unknown> }).metrics;
  } catch {
    metrics = undefined;
  }
  const opens = metrics?.opens;
  const clicks = metrics?.clicks;
  if (typeof opens !== 'number' || typeof clicks !== 'number') throw new ProbeFailure('PROTOCOL', `stats: GET ${url} did not answer {"metrics": {"opens": n, "clicks": n, ...}}`);
  return { opens, clicks };
}

export { utcDate, pause };
