// Mail for browser checks: the probe message fetched over IMAP, and the send statistics summed.
import type { FetchMessageObject, ImapFlow } from 'imapflow';
import { ProbeFailure } from '../../core/errors.ts';
import { parseHeaderBlock } from '../mail-auth/auth-results.ts';
import { connectImap, withSignal, type ImapAccount } from '../imap/watch.ts';
import { apiErrorText } from '../smtp/send.ts';
import type { Logger } from 'pino';
import { pause, type Clock } from '../../util/clock.ts';
import type { HttpClient } from '../http/client.ts';
import { subjectToken, TOKEN_HEADER } from '../smtp/probe-token.ts';

/** The newest probe message of a mail probe, as a recipient's mail client would show it. */
export interface ProbeMail {
  uid: number;
  subject: string;
  /** The token it carries in X-Scaiprobe-Id and in its subject: one the mail probe sent. */
  token: string;
  html: string | undefined;
  /** Epoch ms the server stored it (INTERNALDATE). */
  receivedAt: number | null;
}

/** A message with the subject marker that is not opened, and why. */
export interface PassedOver {
  uid: number;
  subject: string;
  reason: string;
}

export interface MailLookup {
  /** The message to open, when one carries a token the mail probe sent. */
  mail: ProbeMail | undefined;
  /** Messages with the marker not opened because nothing shows the mail probe sent them. */
  passedOver: PassedOver[];
}

/**
 * At most this many of the newest messages with the marker are looked at (their
 * headers only). The mail probe sweeps the folder each run, so more means a flood.
 */
const MAX_CANDIDATES = 100;

interface Candidate {
  uid: number;
  subject: string;
  /** The sent token it carries, or why it is not one of the mail probe's messages. */
  verdict: { token: string } | { reason: string };
}

/** The single token in X-Scaiprobe-Id, or why there is none. */
function headerToken(message: FetchMessageObject): { token: string } | { reason: string } {
  const values = parseHeaderBlock(message.headers ?? '').filter((field) => field.name === TOKEN_HEADER.toLowerCase());
  if (values.length === 0) return { reason: `no ${TOKEN_HEADER} header` };
  if (values.length > 1) return { reason: `${values.length} ${TOKEN_HEADER} headers` };
  return { token: values[0]!.value };
}

/** Whether `message` is one the mail probe sent: one X-Scaiprobe-Id, the same token after the subject marker, and that token sent. */
function judgeCandidate(message: FetchMessageObject, marker: string, sent: ReadonlySet<string>): Candidate {
  const subject = message.envelope?.subject ?? '';
  const header = headerToken(message);
  const inSubject = subjectToken(subject, marker);
  let verdict: Candidate['verdict'];
  if ('reason' in header) verdict = header;
  else if (inSubject !== header.token) verdict = { reason: `its subject's token is not its ${TOKEN_HEADER}` };
  else if (!sent.has(header.token)) verdict = { reason: 'a token the mail probe did not send' };
  else verdict = { token: header.token };
  return { uid: message.uid, subject, verdict };
}

/**
 * The candidate to open: the one carrying the newest token sent. A second
 * message with that token is a copy someone else mailed (the token is in the
 * probe's own run records and links): the first delivered, lowest UID, is ours.
 */
function choose(
  candidates: Candidate[],
  tokens: readonly string[],
): { chosen: Candidate | undefined; passedOver: PassedOver[] } {
  const passedOver: PassedOver[] = [];
  const genuine: Candidate[] = [];
  for (const candidate of candidates) {
    if ('reason' in candidate.verdict)
      passedOver.push({ uid: candidate.uid, subject: candidate.subject, reason: candidate.verdict.reason });
    else genuine.push(candidate);
  }
  const rank = (candidate: Candidate) =>
    'token' in candidate.verdict ? tokens.indexOf(candidate.verdict.token) : Infinity;
  genuine.sort((a, b) => rank(a) - rank(b) || a.uid - b.uid);
  const [chosen, ...older] = genuine;
  for (const copy of older) {
    if (chosen && rank(copy) === rank(chosen))
      passedOver.push({ uid: copy.uid, subject: copy.subject, reason: 'a second message with the same token' });
  }
  return { chosen, passedOver };
}

async function lookup(
  client: ImapFlow,
  marker: string,
  tokens: readonly string[],
  signal: AbortSignal,
): Promise<MailLookup> {
  const guard = <T>(promise: Promise<T>) => withSignal(promise, signal, () => client.close());
  // A message may arrive (or be swept by the mail probe) between two calls: NOOP to see the folder as it is now.
  await guard(client.noop());
  const uids = await guard(client.search({ subject: marker }, { uid: true }));
  if (!Array.isArray(uids) || uids.length === 0) return { mail: undefined, passedOver: [] };
  const newest = [...uids].sort((a, b) => b - a).slice(0, MAX_CANDIDATES);
  // Headers only: a message is not downloaded, let alone rendered, before it is known to be the probe's.
  const messages = await guard(
    client.fetchAll(newest.join(','), { uid: true, envelope: true, headers: [TOKEN_HEADER] }, { uid: true }),
  );
  // SEARCH SUBJECT matches case-insensitive substrings: keep only subjects with the marker as written.
  const candidates = messages
    .filter((message) => (message.envelope?.subject ?? '').includes(marker))
    .map((message) => judgeCandidate(message, marker, new Set(tokens)));
  const { chosen, passedOver } = choose(candidates, tokens);
  if (!chosen || !('token' in chosen.verdict)) return { mail: undefined, passedOver };
  const full = await guard(client.fetchOne(String(chosen.uid), { source: true, internalDate: true }, { uid: true }));
  if (!full || !full.source) return { mail: undefined, passedOver };
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(full.source);
  const html = typeof parsed.html === 'string' ? parsed.html : undefined;
  const receivedAt = full.internalDate ? new Date(full.internalDate).getTime() : null;
  return {
    mail: { uid: chosen.uid, subject: chosen.subject, token: chosen.verdict.token, html, receivedAt },
    passedOver,
  };
}

/**
 * Finds in `folder` the message with the subject `marker` whose token the mail
 * probe sent (`sentTokens()`, newest first, read again at each look as the
 * mail probe may record a run meanwhile), waiting up to `waitMs` (polling once
 * a second) for one to exist. Messages with the marker but no such token are
 * passed over, never fetched whole.
 */
export async function fetchProbeMail(
  account: ImapAccount,
  folder: string,
  marker: string,
  sentTokens: () => string[],
  waitMs: number,
  ctx: { signal: AbortSignal; clock: Clock; logger: Logger },
): Promise<MailLookup> {
  const client = await connectImap(account, ctx.signal, ctx.logger);
  try {
    try {
      await withSignal(client.mailboxOpen(folder), ctx.signal, () => client.close());
    } catch (error) {
      if (error instanceof ProbeFailure) throw error;
      throw new ProbeFailure(
        'CONFIG',
        `IMAP ${account.user}@${account.host}:${account.port}: cannot open folder ${folder}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const until = ctx.clock.now() + waitMs;
    for (;;) {
      const found = await lookup(client, marker, sentTokens(), ctx.signal);
      if (found.mail || ctx.clock.now() >= until) return found;
      await pause(ctx.clock, Math.min(1000, until - ctx.clock.now()), ctx.signal);
    }
  } finally {
    await Promise.race([
      client.logout().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
    client.close();
  }
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
export async function readStatsSum(
  source: StatsSource,
  start: string,
  ctx: { signal: AbortSignal; clock: Clock; http: HttpClient },
): Promise<StatsSum> {
  const url = `${source.api.replace(/\/+$/, '')}/v3/stats/sum?start_date=${start}&end_date=${utcDate(ctx.clock.now())}`;
  const response = await ctx.http.request({
    url,
    method: 'GET',
    headers: { authorization: `Bearer ${source.apiKey}` },
    signal: ctx.signal,
    maxRedirects: 0,
  });
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
  if (typeof opens !== 'number' || typeof clicks !== 'number')
    throw new ProbeFailure('PROTOCOL', `stats: GET ${url} did not answer {"metrics": {"opens": n, "clicks": n, ...}}`);
  return { opens, clicks };
}

export { utcDate };
