// Every probe kind, by name.
import type { ProbeKind } from './kind.ts';
import { httpKind } from './http.ts';
import { dnsKind } from './dns.ts';
import { rblKind } from './rbl.ts';
import { zoneSyncKind } from './zone-sync.ts';
import { emailAuthKind } from './email-auth.ts';
import { mailKind } from './mail.ts';
import { statsKind } from './stats.ts';
import { prometheusKind } from './prometheus.ts';
import { queueKind } from './queue.ts';
import { browserKind } from './browser.ts';
import { dnssecKind } from './dnssec.ts';
import { smtpKind } from './smtp.ts';

/** Every probe kind, one line each. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const PROBE_KINDS: ProbeKind<any>[] = [
  httpKind,
  dnsKind,
  rblKind,
  zoneSyncKind,
  emailAuthKind,
  mailKind,
  statsKind,
  prometheusKind,
  queueKind,
  browserKind,
  dnssecKind,
  smtpKind,
];

export function findKind(kind: string): ProbeKind | undefined {
  return PROBE_KINDS.find((candidate) => candidate.kind === kind);
}
