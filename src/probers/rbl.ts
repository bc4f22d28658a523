// The rbl kind: addresses and domains looked up on blocklists, listings kept as items.
import net from 'node:net';
import { z } from 'zod';
import { ProbeFailure, classifyNetworkError } from '../core/errors.ts';
import { mapLimit } from '../util/map-limit.ts';
import { RBL_LISTING_ITEM } from '../core/items.ts';
import type { CommonProbeSpec, Measurement, Observations, RunItem } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, type DnsServer } from '../protocols/dns/wire.ts';
import { txtText } from '../protocols/dns/records.ts';
import { dnsName, isPublicResolver, queryFields, resolverOf, serverText } from '../protocols/dns/config.ts';
import {
  judge,
  loadCatalogue,
  lookupName,
  testPoints,
  type BlocklistZone,
  type LookupOutcome,
  type Severity,
  type Verdict,
} from '../protocols/dnsbl/lists.ts';

const severity = z.enum(['alert', 'warn', 'info']);
const customZone = z
  .object({
    zone: dnsName(),
    /** Not needed for catalogue zones; required for others. */
    type: z.enum(['ip', 'domain']).optional(),
    severity: severity.optional(),
    /** Return code -> meaning, or {meaning, severity}. */
    codes: z.record(z.string(), z.union([z.string(), z.object({ meaning: z.string(), severity })])).optional(),
    /** Return codes that are errors (never listings), with their meaning. */
    errors: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const fields = z.object({
  ips: z.array(z.string().refine((ip) => net.isIP(ip) !== 0, { error: 'is not an IPv4 or IPv6 address' })).default([]),
  domains: z.array(dnsName()).default([]),
  /** A name from data/dnsbl-catalogue.json, or a zone with its own details. */
  zones: z.array(z.union([dnsName(), customZone])).min(1),
  /** The resolver asked (default: the system's). Spamhaus and URIBL refuse the big public ones. */
  resolver: serverText().optional(),
  /** Lookups in flight at once. */
  concurrency: z.number().int().min(1).max(5000).default(200),
  /** Ask TXT for the reason of each listing. */
  reasons: z.boolean().default(true),
  ...queryFields,
});

export type RblSpec = z.output<typeof fields>;

/** Zone entries of the config resolved against the catalogue; unknown names are reported by `check`. */
export function resolveZones(entries: RblSpec['zones']): {
  zones: BlocklistZone[];
  problems: Array<{ index: number; message: string }>;
} {
  const catalogue = loadCatalogue();
  const zones: BlocklistZone[] = [];
  const problems: Array<{ index: number; message: string }> = [];
  entries.forEach((entry, index) => {
    const name = (typeof entry === 'string' ? entry : entry.zone).toLowerCase().replace(/\.$/, '');
    const known = catalogue.zones.find((zone) => zone.zone === name);
    if (typeof entry === 'string') {
      if (known) zones.push(known);
      else
        problems.push({
          index,
          message: `"${name}" is not in the catalogue (data/dnsbl-catalogue.json): give it as {zone, type: ip|domain, severity}`,
        });
      return;
    }
    const type = entry.type ?? known?.type;
    if (!type) {
      problems.push({
        index,
        message: `zone ${name} is not in the catalogue: say whether it lists ips or domains (type: ip|domain)`,
      });
      return;
    }
    const codes = entry.codes
      ? Object.fromEntries(
          Object.entries(entry.codes).map(([code, value]) => [
            code,
            typeof value === 'string'
              ? { meaning: value, severity: entry.severity ?? known?.severity ?? 'alert' }
              : value,
          ]),
        )
      : known?.codes;
    zones.push({
      ...known,
      zone: name,
      type,
      severity: entry.severity ?? known?.severity ?? 'alert',
      ...(codes ? { codes } : {}),
      errors: { ...known?.errors, ...entry.errors },
    });
  });
  return { zones, problems };
}

function check(spec: RblSpec): Array<{ path: (string | number)[]; message: string; warning?: boolean }> {
  const problems: Array<{ path: (string | number)[]; message: string; warning?: boolean }> = resolveZones(
    spec.zones,
  ).problems.map((problem) => ({
    path: ['zones', problem.index],
    message: problem.message,
  }));
  if (spec.ips.length === 0 && spec.domains.length === 0)
    problems.push({ path: ['ips'], message: 'give ips or domains to look up' });
  if (spec.resolver && isPublicResolver(spec.resolver)) {
    problems.push({
      path: ['resolver'],
      warning: true,
      message: `${spec.resolver} is a public resolver: Spamhaus and URIBL refuse it (answers become error codes, reported as unknown); use your own resolver`,
    });
  }
  return problems;
}

interface Pair {
  target: string;
  zone: BlocklistZone;
  key: string;
  /** The DNS name asked, computed once per prober rather than per run. */
  name: string;
}

interface RblState {
  listedSince?: Record<string, number>;
}

/** An RFC 5782 test point of one zone and the verdict it must get. */
interface PointCheck {
  zone: BlocklistZone;
  point: string;
  want: 'listed' | 'clean';
  name: string;
}

function pointChecks(zones: BlocklistZone[]): PointCheck[] {
  return zones.flatMap((zone) => {
    const points = testPoints(zone);
    return [
      { zone, point: points.listed, want: 'listed' as const, name: lookupName(points.listed, zone.zone) },
      { zone, point: points.clean, want: 'clean' as const, name: lookupName(points.clean, zone.zone) },
    ];
  });
}

function createRblProber(spec: RblSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock, recvBufferSize: 8 * 1024 * 1024 });
  const { zones } = resolveZones(spec.zones);
  const resolver = resolverOf(spec.resolver);
  const pairs: Pair[] = zones.flatMap((zone) => {
    const targets = zone.type === 'ip' ? spec.ips : spec.domains;
    return targets.map((target) => ({
      target,
      zone,
      key: `${target}@${zone.zone}`,
      name: lookupName(target, zone.zone),
    }));
  });
  const checks = pointChecks(zones);

  return {
    async probe(ctx) {
      const lookup = makeLookup(client, resolver, spec, ctx);
      const failing = new Map<string, string>();
      const looked = new Array<{ verdict: Verdict; reason: string | undefined }>(pairs.length);
      // One queue, so that at most `concurrency` queries are in flight in all (more only makes the
      // server drop packets, and a dropped packet costs a whole retry wait): test points first, then
      // the lookups, each listed one followed by its TXT reason in the same slot. A zone that fails
      // its test points has its verdicts replaced afterwards, so no lookup waits for them.
      await mapLimit(new Array<undefined>(checks.length + pairs.length), spec.concurrency, async (_, index) => {
        if (index < checks.length) {
          const { zone, point, want, name } = checks[index]!;
          const verdict = judge(zone, await lookup(name));
          if (verdict.verdict !== want && !failing.has(zone.zone)) {
            failing.set(
              zone.zone,
              `test point ${point} should be ${want} but is ${verdict.verdict}${verdict.why ? ` (${verdict.why})` : ''}`,
            );
          }
          return;
        }
        const pair = pairs[index - checks.length]!;
        const verdict = judge(pair.zone, await lookup(pair.name));
        const reason =
          verdict.verdict === 'listed' && spec.reasons
            ? await reasonOf(client, resolver, spec, ctx, pair.name)
            : undefined;
        looked[index - checks.length] = { verdict, reason };
      });
      const verdicts = looked.map(({ verdict }, index): Verdict => {
        const zone = pairs[index]!.zone.zone;
        return failing.has(zone)
          ? { verdict: 'unknown', codes: [], meanings: [], why: `${zone} failed its RFC 5782 ${failing.get(zone)}` }
          : verdict;
      });
      const reasonByIndex = new Map(looked.map(({ reason }, index) => [index, reason]));
      return summarize(pairs, verdicts, reasonByIndex, failing, ctx, spec.resolver);
    },
    close: () => client.close(),
  };
}

function makeLookup(
  client: DnsClient,
  resolver: DnsServer,
  spec: RblSpec,
  ctx: ProbeContext,
): (name: string) => Promise<LookupOutcome> {
  return async (name) => {
    try {
      const reply = await client.query({
        name,
        type: 'A',
        server: resolver,
        recursion: true,
        signal: ctx.signal,
        timeoutMs: spec.queryTimeout,
        retries: spec.queryRetries,
      });
      // A loop, not filter+map: thousands of lookups a run, most of them with no answer at all.
      const addresses: string[] = [];
      for (const record of reply.answers)
        if (record.type === 'A') addresses.push(String((record as { data: unknown }).data));
      return { rcode: reply.rcode, addresses };
    } catch (error) {
      // The run's deadline ends the whole run; a single lookup's failure is only that pair's `unknown`.
      if (ctx.signal.aborted) throw classifyNetworkError(error, ctx.signal);
      return { addresses: [], error: error instanceof ProbeFailure ? error.message : String(error) };
    }
  };
}

async function reasonOf(
  client: DnsClient,
  resolver: DnsServer,
  spec: RblSpec,
  ctx: ProbeContext,
  name: string,
): Promise<string | undefined> {
  try {
    const reply = await client.query({
      name,
      type: 'TXT',
      server: resolver,
      recursion: true,
      signal: ctx.signal,
      timeoutMs: spec.queryTimeout,
      retries: spec.queryRetries,
    });
    const texts = reply.answers
      .filter((record) => record.type === 'TXT')
      .map((record) => txtText((record as { data: unknown }).data));
    return texts.length ? texts.join(' | ') : undefined;
  } catch {
    return undefined; // the reason is a courtesy; the listing stands without it
  }
}

/** The verdict counters every run starts from. */
const NO_VERDICTS: Observations = {
  'listed.alert': 0,
  'listed.warn': 0,
  'listed.info': 0,
  listed: 0,
  unknown: 0,
  clean: 0,
};

function summarize(
  pairs: Pair[],
  verdicts: Verdict[],
  reasons: Map<number, string | undefined>,
  failing: Map<string, string>,
  ctx: ProbeContext,
  resolverText: string | undefined,
): Measurement {
  const now = ctx.clock.now();
  const previous = ((ctx.previousState ?? {}) as RblState).listedSince ?? {};
  const listedSince: Record<string, number> = {};
  const observations: Observations = { ...NO_VERDICTS };
  const items: RunItem[] = [];
  const unknownByZone = new Map<string, { count: number; why: string }>();
  const listings: string[] = [];
  pairs.forEach((pair, index) => {
    const verdict = verdicts[index] ?? { verdict: 'unknown', codes: [], meanings: [], why: 'not looked up' };
    observations[`listing.${pair.target}.${pair.zone.zone}`] = verdict.verdict;
    if (verdict.verdict === 'unknown') {
      observations.unknown = (observations.unknown as number) + 1;
      const entry = unknownByZone.get(pair.zone.zone) ?? { count: 0, why: verdict.why ?? 'unknown' };
      entry.count++;
      unknownByZone.set(pair.zone.zone, entry);
      return; // no item: an unknown answer neither lists nor delists
    }
    const data: Record<string, unknown> = {
      target: pair.target,
      zone: pair.zone.zone,
      codes: verdict.codes,
      meanings: verdict.meanings,
    };
    if (verdict.verdict === 'listed') {
      const sev = verdict.severity as Severity;
      observations[`listed.${sev}`] = (observations[`listed.${sev}`] as number) + 1;
      observations.listed = (observations.listed as number) + 1;
      const since = previous[pair.key] ?? now;
      listedSince[pair.key] = since;
      Object.assign(data, {
        severity: sev,
        reason: reasons.get(index) ?? null,
        listedSince: new Date(since).toISOString(),
      });
      listings.push(`${pair.target} on ${pair.zone.zone} (${sev}: ${verdict.meanings.join(', ')})`);
    } else {
      observations.clean = (observations.clean as number) + 1;
      if (previous[pair.key] !== undefined) Object.assign(data, { delistedAfterMs: now - (previous[pair.key] ?? now) });
    }
    items.push({ type: RBL_LISTING_ITEM, key: pair.key, state: verdict.verdict, data });
  });
  observations['zones.failingTestPoints'] = [...failing.keys()];
  const warnings = [...unknownByZone].map(([zone, { count, why }]) => `${zone}: ${count} lookup(s) unknown (${why})`);
  if (resolverText && isPublicResolver(resolverText))
    warnings.push(`resolver ${resolverText} is public: Spamhaus and URIBL refuse it`);
  const message = summaryMessage(pairs.length, observations, listings);
  return { observations, items, warnings, message, state: { listedSince } satisfies RblState };
}

/** Counts of each verdict, then the first few listings. */
function summaryMessage(lookups: number, observations: Observations, listings: string[]): string {
  return (
    `${lookups} lookups: ${String(observations.listed)} listed, ${String(observations.clean)} clean, ${String(observations.unknown)} unknown` +
    (listings.length
      ? `; listed: ${listings.slice(0, 5).join('; ')}${listings.length > 5 ? `; and ${listings.length - 5} more` : ''}`
      : '')
  );
}

export const rblKind: ProbeKind<RblSpec> = {
  kind: 'rbl',
  feeds: { items: [RBL_LISTING_ITEM] },
  fields,
  check,
  create: createRblProber,
};
