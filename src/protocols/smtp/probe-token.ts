// How a probe message is marked and recognised: its token in a header and after the subject marker.
import { randomBytes } from 'node:crypto';
import { MAIL_MESSAGE_ITEM, MAX_MAIL_SEEDS } from '../../core/items.ts';
import type { RecordedItems } from '../../core/probe.ts';

/**
 * How a probe message is recognised: a random token in the X-Scaiprobe-Id
 * header and again at the end of the subject, after a marker naming the probe.
 */
export function newToken(): string {
  return `sp-${randomBytes(8).toString('hex')}`;
}

/** What newToken() makes; anything else in a token's place is not ours. */
const TOKEN = /^sp-[0-9a-f]{16}$/;

/** The header that carries a probe message's token. */
export const TOKEN_HEADER = 'X-Scaiprobe-Id';

/**
 * The start of every probe message's subject; the token follows it. In a fleet the location is part of it
 * (`[scaiprobe] mail-roundtrip@eu-west `): the locations share the seed inboxes, and each location's probe
 * sweeps and reads only its own messages.
 */
export function subjectMarker(subjectPrefix: string, probe: string, location?: string): string {
  return `${subjectPrefix} ${probe}${location ? `@${location}` : ''} `;
}

/** The token a subject carries after `marker` (its last occurrence), if what follows is one token and nothing else. */
export function subjectToken(subject: string, marker: string): string | undefined {
  const at = subject.lastIndexOf(marker);
  if (at < 0) return undefined;
  const rest = subject.slice(at + marker.length).trim();
  return TOKEN.test(rest) ? rest : undefined;
}

/**
 * The tokens mail probe `probe` sent in its last `runs` runs, newest first, as
 * its recorded items say. Only a message carrying one of these is the probe's:
 * anyone can mail a seed a subject with the marker.
 */
export function sentTokens(recorded: RecordedItems, probe: string, runs = 10): string[] {
  const tokens: string[] = [];
  // One item per seed per run: enough items for `runs` runs of the most seeds a probe may have.
  for (const item of recorded.newest(probe, MAIL_MESSAGE_ITEM, runs * MAX_MAIL_SEEDS)) {
    const token = item.data.token;
    if (typeof token === 'string' && TOKEN.test(token) && !tokens.includes(token)) tokens.push(token);
  }
  return tokens.slice(0, runs);
}
