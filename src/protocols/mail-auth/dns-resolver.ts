// mailauth's `resolver` for a whole message (DKIM keys, DMARC, ARC, SPF): the SPF resolver over the project's DNS client, with a lookup cap.
import type { DnsClient, DnsServer } from '../dns/wire.ts';
import type { LookupBudget } from '../dns/lookup.ts';
import { SpfDnsError, spfResolver } from './spf-dns.ts';
import type { SpfRecordType } from './spf.ts';

/** What mailauth calls: Node's dns.promises.resolve shape (TXT as string lists, MX as objects). */
export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown[]>;

const TYPES = new Set<string>(['TXT', 'A', 'AAAA', 'MX', 'PTR'] satisfies SpfRecordType[]);

/**
 * Asks `server` (RD on) within `budget`, as the SPF resolver does, and counts
 * lookups so that one message cannot make a run ask without end: past
 * `maxLookups` every lookup is a temporary failure.
 */
export function mailauthResolver(
  client: DnsClient,
  server: DnsServer,
  budget: LookupBudget,
  maxLookups = 64,
): MailauthResolver {
  const ask = spfResolver(client, server, budget);
  let lookups = 0;
  return (name, rrtype) => {
    const type = rrtype.toUpperCase();
    if (!TYPES.has(type)) return Promise.reject(new SpfDnsError('ENOTIMP', `${name} ${rrtype}: not asked`));
    if (++lookups > maxLookups)
      return Promise.reject(new SpfDnsError('ETIMEOUT', `${name} ${rrtype}: more than ${maxLookups} lookups`));
    return ask(name, type);
  };
}
