// Every zone at every server: each zone's SOA serial and NS set asked of each authoritative server, against the API's.
import type { DnsReply, DnsServer } from './wire.ts';
import { fqdn, soaSerial } from './records.ts';
import { mapLimit } from '../../util/map-limit.ts';
import { globMatch } from '../../util/glob.ts';

/** A zone the API lists, with the serial it says the servers should have. */
export interface ListedZone {
  name: string;
  serial: number | undefined;
}

/** What one server says of one zone: its serial and NS set, or why it gave neither. */
export interface ZoneAtServer {
  serial?: number;
  ns?: string[];
  error?: string;
}

export interface SweptZone {
  zone: string;
  apiSerial: number | undefined;
  /** By server label, in the servers' order. */
  servers: Array<{ label: string } & ZoneAtServer>;
  /** Why the zone is out of sync; empty when every server agrees with the API and with each other. */
  problems: string[];
}

/** Asks one question of one server (the caller binds transport, timeout, retries and the run's signal). */
export type AskDns = (name: string, type: 'SOA' | 'NS', server: DnsServer) => Promise<DnsReply>;

/** An answer that is not the zone's own, authoritative data: why, or undefined when it is. */
function notServed(reply: DnsReply): string | undefined {
  if (reply.rcode !== 'NOERROR') return reply.rcode;
  if (!reply.aa) return 'not authoritative';
  return undefined;
}

async function atServer(ask: AskDns, zone: string, server: DnsServer): Promise<ZoneAtServer> {
  try {
    const [soa, ns] = await Promise.all([ask(zone, 'SOA', server), ask(zone, 'NS', server)]);
    const refused = notServed(soa) ?? notServed(ns);
    if (refused) return { error: refused };
    const serial = soaSerial(soa.answers);
    if (serial === undefined) return { error: 'no SOA in the answer' };
    const names = ns.answers
      .filter((record) => record.type === 'NS')
      .map((record) => fqdn(String((record as { data?: unknown }).data)));
    return { serial, ns: [...new Set(names)].sort() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Why a zone's answers disagree, in the words an operator reads in a run message. */
export function zoneProblems(zone: ListedZone, servers: SweptZone['servers']): string[] {
  const problems: string[] = [];
  for (const server of servers) {
    if (server.error !== undefined) problems.push(`${server.label}: ${server.error}`);
    else if (zone.serial !== undefined && server.serial !== zone.serial)
      problems.push(`${server.label}: serial ${server.serial}, API ${zone.serial}`);
  }
  const nsSets = new Set(servers.filter((s) => s.ns !== undefined).map((s) => (s.ns ?? []).join(' ')));
  if (nsSets.size > 1)
    problems.push(
      `NS sets differ: ${servers
        .filter((s) => s.ns !== undefined)
        .map((s) => `${s.label} ${(s.ns ?? []).join(',') || '(none)'}`)
        .join('; ')}`,
    );
  return problems;
}

/**
 * Sweeps the zones: at most `concurrency` zones in flight, each asked of every server at once. Errors are
 * per zone and server, never thrown; a run that is aborted stops sending and throws the signal's reason.
 */
export async function sweepZones(options: {
  zones: readonly ListedZone[];
  servers: readonly DnsServer[];
  ask: AskDns;
  concurrency: number;
  signal: AbortSignal;
}): Promise<SweptZone[]> {
  return mapLimit(options.zones, options.concurrency, async (zone) => {
    options.signal.throwIfAborted();
    const name = fqdn(zone.name);
    const answers = await Promise.all(options.servers.map((server) => atServer(options.ask, name, server)));
    const servers = answers.map((answer, index) => ({ label: options.servers[index]?.label ?? '?', ...answer }));
    return { zone: name, apiSerial: zone.serial, servers, problems: zoneProblems(zone, servers) };
  });
}

/** Whether a zone name matches one of the configuration's globs (`*` any run of characters; `all` every zone). */
export function zoneMatcher(patterns: readonly string[]): (zone: string) => boolean {
  if (patterns.includes('all')) return () => true;
  const globs = patterns.map((pattern) => fqdn(pattern));
  return (zone) => globs.some((glob) => globMatch(glob, fqdn(zone)));
}
