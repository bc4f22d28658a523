// MTA-STS (RFC 8461) and SMTP TLS reporting (RFC 8460): the TXT records, the policy file, and which MX hosts a policy covers.
import { parseTags } from './tags.ts';

/** A policy is at most 64 KiB (RFC 8461 §3.2 lets a sender stop reading there). */
export const MAX_POLICY_BYTES = 64 * 1024;

export interface StsRecord {
  id?: string;
  problems: string[];
}

/** The `_mta-sts` TXT records (RFC 8461 §3.1): exactly one that starts `v=STSv1`, with an `id` of 1–32 letters and digits. */
export function parseStsRecords(texts: readonly string[]): StsRecord {
  const records = texts.filter((text) => /^v=STSv1\s*(;|$)/.test(text.trim()));
  if (records.length === 0) return { problems: ['no _mta-sts TXT record starting v=STSv1'] };
  if (records.length > 1) return { problems: [`${records.length} _mta-sts records: a sender ignores them all`] };
  const id = parseTags(records[0] ?? '').id;
  if (!id || !/^[A-Za-z0-9]{1,32}$/.test(id))
    return { problems: [`id=${id ?? '(missing)'} is not 1-32 letters and digits`] };
  return { id, problems: [] };
}

export interface StsPolicy {
  mode?: 'enforce' | 'testing' | 'none';
  maxAge?: number;
  mx: string[];
  problems: string[];
}

/** The policy file (RFC 8461 §3.2): `key: value` lines; version STSv1, a mode, max_age up to a year, mx patterns. */
export function parsePolicy(text: string): StsPolicy {
  const fields = new Map<string, string[]>();
  for (const line of text.slice(0, MAX_POLICY_BYTES).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    fields.set(key, [...(fields.get(key) ?? []), line.slice(colon + 1).trim()]);
  }
  const problems: string[] = [];
  const one = (key: string) => fields.get(key)?.[0];
  if (one('version') !== 'STSv1') problems.push(`version is ${one('version') ?? '(missing)'}, not STSv1`);
  const mode = one('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    problems.push(`mode is ${mode ?? '(missing)'}, not enforce, testing or none`);
  const maxAgeText = one('max_age');
  const maxAge = maxAgeText !== undefined && /^\d{1,10}$/.test(maxAgeText) ? Number(maxAgeText) : undefined;
  if (maxAge === undefined || maxAge > 31_557_600)
    problems.push(`max_age is ${maxAgeText ?? '(missing)'}, not a number of seconds up to 31557600`);
  const mx = fields.get('mx') ?? [];
  if (mx.length === 0 && mode !== 'none') problems.push('no mx lines: the policy covers no MX');
  return {
    ...(mode === 'enforce' || mode === 'testing' || mode === 'none' ? { mode } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
    mx,
    problems,
  };
}

/** Whether an MX host matches a policy's `mx` pattern: the name itself, or `*.` standing for exactly one label. */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const want = pattern.toLowerCase().replace(/\.$/, '');
  if (!want.startsWith('*.')) return name === want;
  const rest = want.slice(2);
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === rest;
}

export interface TlsRptRecord {
  rua: string[];
  problems: string[];
}

/** The `_smtp._tls` TXT record (RFC 8460 §3): one `v=TLSRPTv1` record whose `rua` lists mailto: or https: URIs. */
export function parseTlsRptRecords(texts: readonly string[]): TlsRptRecord {
  const records = texts.filter((text) => /^v=TLSRPTv1\s*(;|$)/.test(text.trim()));
  if (records.length === 0) return { rua: [], problems: ['no _smtp._tls TXT record starting v=TLSRPTv1'] };
  if (records.length > 1) return { rua: [], problems: [`${records.length} _smtp._tls records`] };
  const rua = (parseTags(records[0] ?? '').rua ?? '')
    .split(',')
    .map((uri) => uri.trim())
    .filter(Boolean);
  const problems: string[] = [];
  if (rua.length === 0) problems.push('rua is missing: reports go nowhere');
  for (const uri of rua)
    if (!/^mailto:[^@\s]+@[^@\s]+$/i.test(uri) && !/^https:\/\/[^\s]+$/i.test(uri))
      problems.push(`rua ${uri} is neither mailto: nor https:`);
  return { rua, problems };
}
