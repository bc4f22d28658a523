// Recursive-enough lookups: answers and the authoritative servers of a name, within a budget.
import net from 'node:net';
import type { RecordType } from 'dns-packet';
import { ProbeFailure } from '../../core/errors.ts';
import { parseServer, type DnsClient, type DnsReply, type DnsServer } from './wire.ts';
import { fqdn } from './records.ts';

export interface LookupBudget {
  signal: AbortSignal;
  timeoutMs: number;
  retries: number;
}

/** A recursive lookup through a resolver (RD on). */
export function resolve(
  client: DnsClient,
  resolver: DnsServer,
  name: string,
  type: RecordType,
  budget: LookupBudget,
): Promise<DnsReply> {
  return client.query({
    name,
    type,
    server: resolver,
    recursion: true,
    signal: budget.signal,
    timeoutMs: budget.timeoutMs,
    retries: budget.retries,
  });
}

/** The data of every answer of `type` owned by any name (CNAME chains followed by the resolver). */
export function answersOf(reply: DnsReply, type: string): unknown[] {
  return reply.answers.filter((record) => record.type === type).map((record) => (record as { data: unknown }).data);
}

/**
 * The zone's authoritative servers: its NS set through the resolver, each NS
 * name resolved to its addresses (v4 and v6), asked later by address on `port`.
 */
export async function authoritativeServers(
  client: DnsClient,
  zone: string,
  resolver: DnsServer,
  port: number,
  budget: LookupBudget,
): Promise<DnsServer[]> {
  const nsReply = await resolve(client, resolver, zone, 'NS', budget);
  if (nsReply.rcode !== 'NOERROR')
    throw new ProbeFailure('DNS', `NS lookup of ${zone} at ${resolver.label} answered ${nsReply.rcode}`);
  const names = [...new Set(answersOf(nsReply, 'NS').map((name) => fqdn(String(name))))];
  if (names.length === 0) throw new ProbeFailure('DNS', `${zone} has no NS records (asked ${resolver.label})`);
  const addresses = new Set<string>();
  await Promise.all(
    names.flatMap((name) =>
      (['A', 'AAAA'] as const).map(async (type) => {
        const reply = await resolve(client, resolver, name, type, budget).catch(() => undefined);
        for (const address of reply ? answersOf(reply, type) : []) addresses.add(String(address));
      }),
    ),
  );
  if (addresses.size === 0) throw new ProbeFailure('DNS', `no address for any NS of ${zone} (${names.join(', ')})`);
  return [...addresses]
    .sort()
    .map((address) => parseServer(net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`));
}

/**
 * A `lookup` for sockets and the HTTP client that asks the configured resolver over the wire (A, then AAAA)
 * instead of the system's: a probe's names resolve where its DNS lookups do. `signal` bounds each lookup.
 */
export function resolverLookup(client: DnsClient, resolver: DnsServer, budget: LookupBudget): net.LookupFunction {
  return (hostname, options, callback) => {
    const addresses = async (): Promise<Array<{ address: string; family: number }>> => {
      if (net.isIP(hostname)) return [{ address: hostname, family: net.isIP(hostname) }];
      const found: Array<{ address: string; family: number }> = [];
      for (const [type, family] of [
        ['A', 4],
        ['AAAA', 6],
      ] as const) {
        if (options.family !== undefined && options.family !== 0 && options.family !== family) continue;
        const reply = await resolve(client, resolver, hostname, type, budget);
        for (const address of answersOf(reply, type)) found.push({ address: String(address), family });
      }
      return found;
    };
    addresses().then(
      (found) => {
        const first = found[0];
        if (!first) {
          const error = Object.assign(new Error(`${hostname} has no address (asked ${resolver.label})`), {
            code: 'ENOTFOUND',
          });
          callback(error, '', 4);
        } else if (options.all) callback(null, found);
        else callback(null, first.address, first.family);
      },
      (error: unknown) => {
        callback(error as NodeJS.ErrnoException, '', 4);
      },
    );
  };
}
