// rrsets as sets of records, and what differs between two sides.
import { z } from 'zod';
import { fqdn, presentationText } from './records.ts';

/** An rrset as written in a configuration or answered by PowerDNS's API: records as text, or with a disabled flag. */
export const rrsetInput = z.object({
  name: z.string(),
  type: z.string(),
  ttl: z.number().int().optional(),
  records: z.array(z.union([z.string(), z.object({ content: z.string(), disabled: z.boolean().optional() })])),
});

export type RrsetInput = z.infer<typeof rrsetInput>;

/** An rrset as compared: its records as a set of presentation texts. */
export interface Rrset {
  name: string;
  type: string;
  ttl?: number;
  records: Set<string>;
}

/** The key of an rrset in the maps below: `name. TYPE`. */
export const rrsetKey = (name: string, type: string) => `${fqdn(name)} ${type.toUpperCase()}`;

/** rrsets as sets of normalized content, disabled records skipped. */
export function normalizeRrsets(input: RrsetInput[]): Map<string, Rrset> {
  const map = new Map<string, Rrset>();
  for (const rrset of input) {
    const type = rrset.type.toUpperCase();
    const records = rrset.records
      .filter((record) => typeof record === 'string' || !record.disabled)
      .map((record) => presentationText(type, typeof record === 'string' ? record : record.content));
    if (records.length === 0) continue;
    const key = rrsetKey(rrset.name, type);
    const existing = map.get(key);
    if (existing) for (const record of records) existing.records.add(record);
    else
      map.set(key, {
        name: fqdn(rrset.name),
        type,
        ...(rrset.ttl === undefined ? {} : { ttl: rrset.ttl }),
        records: new Set(records),
      });
  }
  return map;
}

/** Differences of `actual` against `expected`: records missing, records extra, TTLs that differ. */
export function diffRrsets(
  expected: Map<string, Rrset>,
  actual: Map<string, Rrset>,
  label: string,
): { missing: string[]; extra: string[]; ttl: string[] } {
  const missing: string[] = [];
  const extra: string[] = [];
  const ttl: string[] = [];
  for (const [key, want] of expected) {
    const got = actual.get(key);
    for (const record of want.records)
      if (!got?.records.has(record)) missing.push(`${label}: ${key} ${record} missing`);
    if (got && want.ttl !== undefined && got.ttl !== undefined && got.ttl !== want.ttl)
      ttl.push(`${label}: ${key} TTL ${got.ttl}, expected ${want.ttl}`);
  }
  for (const [key, got] of actual) {
    const want = expected.get(key);
    for (const record of got.records) if (!want?.records.has(record)) extra.push(`${label}: ${key} ${record} extra`);
  }
  return { missing, extra, ttl };
}
