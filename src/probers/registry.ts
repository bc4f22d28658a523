import type { ProbeKind } from './types.ts';
import { httpKind } from './http.ts';
import { dnsKind } from './dns.ts';

/** Every probe kind, one line each. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const PROBE_KINDS: ProbeKind<any>[] = [httpKind, dnsKind];

export function findKind(kind: string): ProbeKind | undefined {
  return PROBE_KINDS.find((candidate) => candidate.kind === kind);
}
