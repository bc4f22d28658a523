// The `dnssec` kind: at every authoritative server, a zone's keys, signatures and denial of existence valid, the DS at the parent matching.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Answer, RecordType } from 'dns-packet';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, parseServer, type DnsReply, type DnsServer } from '../protocols/dns/wire.ts';
import { fqdn } from '../protocols/dns/records.ts';
import { dnsName, queryFields, serverText } from '../protocols/dns/config.ts';
import {
  algorithmName,
  dsMatches,
  isSep,
  keyTag,
  verifyRrset,
  type Dnskey,
  type Ds,
  type Rrsig,
} from '../protocols/dns/dnssec.ts';
import { nsec3DenialProblem, nsecDenialProblem, type Nsec, type Nsec3 } from '../protocols/dns/denial.ts';

const fields = z.object({
  zone: dnsName(),
  /** The zone's authoritative servers, each checked on its own. */
  servers: z.array(serverText()).min(1),
  /** Where to ask for the zone's DS: a server of the parent zone, or a resolver (`recursion: true`). */
  parent: z
    .object({ server: serverText(), recursion: z.boolean().default(false) })
    .strict()
    .optional(),
  /** More RRsets whose signatures to check, as `name TYPE` (the zone's DNSKEY, SOA and NS always are). */
  rrsets: z
    .array(z.string().regex(/^\S+\s+[A-Za-z0-9]+$/, 'must be "name TYPE", e.g. "www.example.com A"'))
    .default([]),
  /** Ask for a name that does not exist and check its NSEC or NSEC3 proof. */
  denial: z.boolean().default(true),
  /** Signatures expiring within this many days make the run warn, and within criticalDays fail. */
  warnDays: z.number().min(0).default(7),
  criticalDays: z.number().min(0).default(2),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  ...queryFields,
});

export type DnssecSpec = z.output<typeof fields>;

const DAY = 86_400;

type Ask = (name: string, type: RecordType, server: DnsServer, recursion?: boolean) => Promise<DnsReply>;

/** The records of one name and type in a section, and the RRSIGs over them. */
function rrsetOf(records: readonly Answer[], name: string, type: string): { rrset: Answer[]; rrsigs: Rrsig[] } {
  const owner = fqdn(name);
  const at = records.filter((record) => fqdn(record.name) === owner);
  return {
    rrset: at.filter((record) => record.type === type),
    rrsigs: at
      .filter((record) => record.type === 'RRSIG')
      .map((record) => (record as { data: Rrsig }).data)
      .filter((rrsig) => rrsig.typeCovered === type),
  };
}

interface ServerVerdict {
  keys: Dnskey[];
  problems: string[];
  expiresAt: number | undefined;
  denial: 'NSEC' | 'NSEC3' | undefined;
}

/** Checks one signed RRset among `records`; adds what is wrong to the verdict. */
function verifyIn(
  verdict: ServerVerdict,
  records: readonly Answer[],
  name: string,
  type: string,
  zone: string,
  at: number,
  requireSep = false,
): void {
  const { rrset, rrsigs } = rrsetOf(records, name, type);
  const keys = requireSep ? verdict.keys.filter(isSep) : verdict.keys;
  const result = verifyRrset(rrset, rrsigs, keys, zone, at);
  if (!result.valid) verdict.problems.push(`${fqdn(name)} ${type}: ${result.problems.join('; ')}`);
  if (result.expiresAt !== undefined) verdict.expiresAt = Math.min(verdict.expiresAt ?? Infinity, result.expiresAt);
}

/** Checks an answered RRset: it must exist, and be signed. */
function checkRrset(
  verdict: ServerVerdict,
  reply: DnsReply,
  name: string,
  type: string,
  zone: string,
  at: number,
): void {
  if (reply.rcode !== 'NOERROR' || rrsetOf(reply.answers, name, type).rrset.length === 0) {
    verdict.problems.push(`${fqdn(name)} ${type}: no records (${reply.rcode})`);
    return;
  }
  verifyIn(verdict, reply.answers, name, type, zone, at);
}

/** The NXDOMAIN for a random name: its denial records must be signed and prove it. */
function checkDenial(verdict: ServerVerdict, reply: DnsReply, name: string, zone: string, at: number): void {
  if (reply.rcode !== 'NXDOMAIN') {
    verdict.problems.push(`${name}: ${reply.rcode} where NXDOMAIN was expected`);
    return;
  }
  const denials = reply.authorities.filter((record) => record.type === 'NSEC' || record.type === 'NSEC3');
  if (denials.length === 0) {
    verdict.problems.push(`${name}: NXDOMAIN without NSEC or NSEC3 records`);
    return;
  }
  for (const owner of new Set(denials.map((record) => fqdn(record.name))))
    verifyIn(verdict, reply.authorities, owner, denials[0]?.type ?? 'NSEC', zone, at);
  const type = denials[0]?.type === 'NSEC3' ? 'NSEC3' : 'NSEC';
  verdict.denial = type;
  const problem =
    type === 'NSEC'
      ? nsecDenialProblem(
          name,
          zone,
          denials.map(
            (record) =>
              ({
                owner: record.name,
                nextDomain: (record as { data: { nextDomain: string } }).data.nextDomain,
              }) satisfies Nsec,
          ),
        )
      : nsec3DenialProblem(
          name,
          zone,
          denials.map((record) => nsec3Of(record, zone)),
        );
  if (problem) verdict.problems.push(`${name}: the ${type} proof fails: ${problem}`);
}

function nsec3Of(record: Answer, zone: string): Nsec3 {
  const data = (record as { data: Omit<Nsec3, 'ownerHash' | 'zone'> }).data;
  return { ...data, ownerHash: record.name.split('.')[0] ?? '', zone };
}

async function checkServer(spec: DnssecSpec, ask: Ask, server: DnsServer, at: number): Promise<ServerVerdict> {
  const zone = fqdn(spec.zone);
  const verdict: ServerVerdict = { keys: [], problems: [], expiresAt: undefined, denial: undefined };
  const keysReply = await ask(zone, 'DNSKEY', server);
  verdict.keys = rrsetOf(keysReply.answers, zone, 'DNSKEY').rrset.map((record) => (record as { data: Dnskey }).data);
  if (verdict.keys.length === 0) {
    verdict.problems.push(`${zone} DNSKEY: none published (${keysReply.rcode}): the zone is not signed`);
    return verdict;
  }
  if (!verdict.keys.some(isSep)) verdict.problems.push(`${zone} DNSKEY: no key has the SEP flag`);
  verifyIn(verdict, keysReply.answers, zone, 'DNSKEY', zone, at, verdict.keys.some(isSep));
  const rrsets = [`${zone} SOA`, `${zone} NS`, ...spec.rrsets].map((text) => text.split(/\s+/) as [string, string]);
  for (const [name, type] of rrsets)
    checkRrset(
      verdict,
      await ask(fqdn(name), type.toUpperCase() as RecordType, server),
      fqdn(name),
      type.toUpperCase(),
      zone,
      at,
    );
  if (spec.denial) {
    const missing = `scaiprobe-${randomBytes(6).toString('hex')}.${zone}`;
    checkDenial(verdict, await ask(missing, 'A', server), missing, zone, at);
  }
  return verdict;
}

/** Whether the parent's DS set points at a SEP key the zone publishes. */
async function checkDs(spec: DnssecSpec, ask: Ask, keys: Dnskey[]): Promise<{ match: boolean; problem?: string }> {
  const parent = spec.parent;
  if (!parent) return { match: false };
  const zone = fqdn(spec.zone);
  const reply = await ask(zone, 'DS', parseServer(parent.server), parent.recursion);
  const ds = rrsetOf(reply.answers, zone, 'DS').rrset.map((record) => (record as { data: Ds }).data);
  if (ds.length === 0)
    return {
      match: false,
      problem: `no DS for ${zone} at ${parent.server} (${reply.rcode}): the chain of trust is broken`,
    };
  const sep = keys.filter(isSep);
  if (ds.some((record) => sep.some((key) => dsMatches(zone, record, key)))) return { match: true };
  const published = ds.map((record) => `${record.keyTag}/${algorithmName(record.algorithm)}`).join(', ');
  const offered = sep.map((key) => `${keyTag(key)}/${algorithmName(key.algorithm)}`).join(', ') || 'none';
  return { match: false, problem: `the DS at the parent (${published}) matches no SEP key of the zone (${offered})` };
}

function createDnssecProber(spec: DnssecSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const servers = spec.servers.map((text) => parseServer(text));
  return {
    async probe(ctx: ProbeContext): Promise<Measurement> {
      const ask: Ask = (name, type, server, recursion = false) =>
        client.query({
          name,
          type,
          server,
          recursion,
          signal: ctx.signal,
          dnssecOk: true,
          transport: spec.transport,
          timeoutMs: spec.queryTimeout,
          retries: spec.queryRetries,
        });
      const at = Math.floor(ctx.clock.now() / 1000);
      const verdicts = await Promise.all(
        servers.map((server) =>
          checkServer(spec, ask, server, at).catch((error: unknown): ServerVerdict => {
            // One server that does not answer is that server's problem; the run goes on with the others.
            if (ctx.signal.aborted) throw error;
            return {
              keys: [],
              problems: [`no answer: ${(error as Error).message}`],
              expiresAt: undefined,
              denial: undefined,
            };
          }),
        ),
      );
      const keys = verdicts.find((verdict) => verdict.keys.length > 0)?.keys ?? [];
      const ds = await checkDs(spec, ask, keys).catch((error: unknown) => {
        if (ctx.signal.aborted) throw error;
        return { match: false, problem: `the parent did not answer for the DS: ${(error as Error).message}` };
      });
      return measurementOf(spec, servers, verdicts, ds, at);
    },
    close: () => client.close(),
  };
}

function measurementOf(
  spec: DnssecSpec,
  servers: DnsServer[],
  verdicts: ServerVerdict[],
  ds: { match: boolean; problem?: string },
  at: number,
): Measurement {
  const problems = verdicts.flatMap((verdict, i) => verdict.problems.map((p) => `${servers[i]?.label}: ${p}`));
  if (ds.problem) problems.push(ds.problem);
  const expiries = verdicts.map((verdict) => verdict.expiresAt).filter((t): t is number => t !== undefined);
  const daysLeft = expiries.length ? Math.round(((Math.min(...expiries) - at) / DAY) * 10) / 10 : null;
  const keys = verdicts[0]?.keys ?? [];
  const observations: Observations = {
    valid: problems.length === 0,
    dnskeys: keys.length,
    algorithms: [...new Set(keys.map((key) => algorithmName(key.algorithm)))],
    'rrsig.daysLeft': daysLeft,
    'ds.match': spec.parent ? ds.match : null,
    denial: verdicts[0]?.denial ?? null,
    problems: problems.slice(0, 50),
  };
  servers.forEach((server, i) => {
    observations[`valid.${server.label}`] = verdicts[i]?.problems.length === 0;
  });
  const zone = fqdn(spec.zone);
  const warnings: string[] = [];
  let error: Measurement['error'] = null;
  if (problems.length > 0)
    error = { code: 'DNS', message: `${zone}: DNSSEC is broken: ${problems.slice(0, 3).join('; ')}` };
  else if (daysLeft !== null && daysLeft < spec.criticalDays)
    error = {
      code: 'DNS',
      message: `${zone}: the earliest RRSIG expires in ${daysLeft} days (under ${spec.criticalDays}): re-sign the zone now`,
    };
  else if (daysLeft !== null && daysLeft < spec.warnDays)
    warnings.push(
      `the earliest RRSIG expires in ${daysLeft} days (under ${spec.warnDays}): check that the signer runs`,
    );
  const message =
    error?.message ??
    `${zone}: signed with ${keys.length} key(s) (${(observations.algorithms as string[]).join(', ')}), valid at ${servers.length} server(s)${spec.parent ? ', DS at the parent matches' : ''}${verdicts[0]?.denial ? `, ${verdicts[0].denial} denial proven` : ''}; earliest RRSIG expiry in ${daysLeft} days`;
  return { observations, warnings, message, error };
}

export const dnssecKind: ProbeKind<DnssecSpec> = {
  kind: 'dnssec',
  feeds: { observations: { dnsAuthDetail: /^(valid|dnskeys|algorithms|rrsig|ds|denial)\b/ } },
  fields,
  create: createDnssecProber,
};
