// The dns kind: one question to each server, their answers compared, and the ACME challenge check.
import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { ProbeFailure, classifyNetworkError } from '../core/errors.ts';
import { formatDuration } from '../core/duration.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import { DNS_AUTH_DETAIL } from '../core/feeds.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, parseServer, type DnsQueryOptions, type DnsReply, type DnsServer } from '../protocols/dns/wire.ts';
import { compareSerials, rdataText, soaSerial, txtText } from '../protocols/dns/records.ts';
import { dnsName, queryFields, recordType, resolverOf, serverText } from '../protocols/dns/config.ts';
import { authoritativeServers, type LookupBudget } from '../protocols/dns/lookup.ts';

const fields = z.object({
  /** The question; not needed in challenge mode. */
  query: z
    .object({ name: dnsName(), type: recordType().default('A') })
    .strict()
    .optional(),
  /** Servers asked by address. */
  servers: z.array(serverText()).min(1).optional(),
  /** Instead of servers: ask every authoritative server of this zone (NS set found through `resolver`). */
  authoritative: dnsName().optional(),
  /** Resolver for the NS lookup (default: the system's). */
  resolver: serverText().optional(),
  /** Port on which the NS addresses are asked (53; the lab uses others). */
  port: z.number().int().min(1).max(65535).default(53),
  /** Validation-challenge mode: the TXT at `name` must hold `token` at every server. */
  challenge: z
    .object({ name: dnsName(), token: z.string().min(1) })
    .strict()
    .optional(),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  /** RD bit. Off: authoritative answers are what is checked. */
  recursion: z.boolean().default(false),
  /** Also ask each server for the SOA and compare serials. */
  serials: z.boolean().default(true),
  ...queryFields,
});

export type DnsSpec = z.output<typeof fields>;

function check(spec: DnsSpec): Array<{ path: (string | number)[]; message: string }> {
  const problems: Array<{ path: (string | number)[]; message: string }> = [];
  if (Boolean(spec.servers) === Boolean(spec.authoritative))
    problems.push({ path: ['servers'], message: 'give either servers or authoritative: <zone>' });
  if (Boolean(spec.query) === Boolean(spec.challenge))
    problems.push({ path: ['query'], message: 'give either query or challenge' });
  return problems;
}

interface ServerOutcome {
  server: DnsServer;
  reply?: DnsReply;
  error?: ProbeFailure;
  serial?: number;
}

interface ChallengeState {
  missingSince?: Record<string, number>;
}

/** Sorted normalized record data of a reply's answers of the asked type (CNAMEs on the way are kept too). */
function answerTexts(reply: DnsReply): string[] {
  return reply.answers.map(rdataText).sort();
}

function createDnsProber(spec: DnsSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const fixedServers = spec.servers?.map((text) => parseServer(text));

  const budget = (ctx: ProbeContext): LookupBudget => ({
    signal: ctx.signal,
    timeoutMs: spec.queryTimeout,
    retries: spec.queryRetries,
  });

  const servers = async (ctx: ProbeContext): Promise<DnsServer[]> => {
    if (fixedServers) return fixedServers;
    return authoritativeServers(client, spec.authoritative ?? '.', resolverOf(spec.resolver), spec.port, budget(ctx));
  };

  const options = (ctx: ProbeContext, server: DnsServer, name: string, type: RecordType): DnsQueryOptions => ({
    name,
    type,
    server,
    signal: ctx.signal,
    recursion: spec.recursion,
    transport: spec.transport,
    timeoutMs: spec.queryTimeout,
    retries: spec.queryRetries,
  });

  const ask = async (ctx: ProbeContext, server: DnsServer, name: string, type: RecordType): Promise<ServerOutcome> => {
    try {
      if (!spec.serials) return { server, reply: await client.query(options(ctx, server, name, type)) };
      const [reply, soa] = await Promise.all([
        client.query(options(ctx, server, name, type)),
        // The SOA of the zone holding `name`: in the answer at the apex, in the authority section below it.
        client.query(options(ctx, server, spec.authoritative ?? name, 'SOA')).catch(() => undefined),
      ]);
      const serial = soa ? (soaSerial(soa.answers) ?? soaSerial(soa.authorities)) : undefined;
      return serial === undefined ? { server, reply } : { server, reply, serial };
    } catch (error) {
      if (ctx.signal.aborted) throw classifyNetworkError(error, ctx.signal);
      return { server, error: classifyNetworkError(error) };
    }
  };

  return {
    async probe(ctx) {
      const list = await servers(ctx);
      const name = spec.challenge?.name ?? spec.query?.name ?? '';
      const type: RecordType = spec.challenge ? 'TXT' : (spec.query?.type ?? 'A');
      // One server (the usual case) without Promise.all's array and closure per run.
      const outcomes =
        list.length === 1
          ? [await ask(ctx, list[0]!, name, type)]
          : await Promise.all(list.map((server) => ask(ctx, server, name, type)));
      if (!outcomes.some((outcome) => outcome.reply)) {
        const first = outcomes[0]?.error;
        throw new ProbeFailure(
          first?.code ?? 'TIMEOUT',
          `no server answered ${name} ${type}: ${outcomes.map((o) => `${o.server.label}: ${o.error?.message}`).join('; ')}`,
        );
      }
      const measurement = commonMeasurement(outcomes, name, type);
      if (spec.challenge) return challengeMeasurement(measurement, outcomes, spec, ctx);
      return measurement;
    },
    close: () => client.close(),
  };
}

/**
 * The observations every dns probe gives. Plain loops, each reply's record
 * texts computed once: at thousands of probes a second this function was a
 * fifth of the JS time per probe (texts sorted three times per server, a
 * closure per step).
 */
function commonMeasurement(outcomes: ServerOutcome[], name: string, type: string): Measurement {
  const observations: Observations = {};
  const warnings: string[] = [];
  const phases: Record<string, number> = {};
  const { answered, known } = observeServers(outcomes, `${name} ${type}`, { observations, warnings, phases });
  const { common, latencyMax } = observeAnswers(answered, observations);
  const agree = answered.length === outcomes.length && repliesAgree(answered);
  observations['servers.agree'] = agree;
  observations['servers.count'] = outcomes.length;
  observations['servers.answered'] = answered.length;
  observations['serial.agree'] = known.length === outcomes.length && known.every((serial) => serial === known[0]);
  observations.serial = known.length
    ? known.reduce((newest, serial) => (compareSerials(newest, serial) < 0 ? serial : newest))
    : null;
  observations.latency = answered.length ? round(latencyMax) : null;
  if (!agree && answered.length === outcomes.length)
    warnings.push(
      `servers disagree on ${name} ${type}: ${answered.map((o) => `${o.label} ${o.reply.rcode} [${o.texts.join(', ')}]`).join('; ')}`,
    );
  if (!observations['serial.agree'] && known.length > 1)
    warnings.push(`SOA serials differ: ${outcomes.map((o) => `${o.server.label} ${o.serial ?? '?'}`).join(', ')}`);
  const message = `${name} ${type}: ${String(observations.rcode)}, ${common.length} record(s) at ${answered.length}/${outcomes.length} server(s)`;
  return { observations, phases, warnings, message };
}

interface Answered {
  label: string;
  reply: DnsReply;
  texts: string[];
}

/** Each server's own observations (latency, rcode, answers, serial) or its error; the replies and serials found. */
function observeServers(
  outcomes: ServerOutcome[],
  question: string,
  into: { observations: Observations; warnings: string[]; phases: Record<string, number> },
): { answered: Answered[]; known: number[] } {
  const { observations, warnings, phases } = into;
  const answered: Answered[] = [];
  const known: number[] = [];
  for (const outcome of outcomes) {
    const label = outcome.server.label;
    if (outcome.reply) {
      const texts = answerTexts(outcome.reply);
      const latency = round(outcome.reply.latencyMs);
      answered.push({ label, reply: outcome.reply, texts });
      observations[`latency.${label}`] = latency;
      observations[`rcode.${label}`] = outcome.reply.rcode;
      observations[`answers.${label}`] = texts;
      observations[`transport.${label}`] = outcome.reply.transport;
      phases[`dns.${label}`] = latency;
    } else {
      observations[`error.${label}`] = outcome.error?.message ?? 'no answer';
      warnings.push(`${label} did not answer ${question}: ${outcome.error?.message}`);
    }
    if (outcome.serial !== undefined) {
      observations[`serial.${label}`] = outcome.serial;
      known.push(outcome.serial);
    }
  }
  return { answered, known };
}

/** The combined rcode, aa, answers and TTLs over the replies; the records every server gave and the slowest reply. */
function observeAnswers(answered: Answered[], observations: Observations): { common: string[]; latencyMax: number } {
  const first = answered[0];
  let rcodesAgree = true;
  let aa = true;
  let firstDeviation: string | null = null;
  let common = first ? first.texts.slice() : [];
  let ttlMin = Infinity;
  let ttlMax = -Infinity;
  const ttlSet = new Set<number>();
  let latencyMax = -Infinity;
  for (const { reply, texts } of answered) {
    if (reply.rcode !== first?.reply.rcode) rcodesAgree = false;
    if (firstDeviation === null && reply.rcode !== 'NOERROR') firstDeviation = reply.rcode;
    if (!reply.aa) aa = false;
    // Records every answering server gave, so `answers contains X` holds only when each of them serves X.
    if (reply !== first?.reply) common = common.filter((text) => texts.includes(text));
    for (const record of reply.answers) {
      const ttl = (record as { ttl?: number }).ttl ?? 0;
      if (ttl < ttlMin) ttlMin = ttl;
      if (ttl > ttlMax) ttlMax = ttl;
      ttlSet.add(ttl);
    }
    if (reply.latencyMs > latencyMax) latencyMax = reply.latencyMs;
  }
  // One rcode when all agree; otherwise the first that is not NOERROR, so `rcode == "NOERROR"` fails on any deviation.
  observations.rcode = rcodesAgree ? (first?.reply.rcode ?? null) : firstDeviation;
  observations.aa = aa;
  observations.answers = common;
  observations['answers.count'] = common.length;
  const hasTtl = ttlSet.size > 0;
  observations.ttl = hasTtl ? ttlMin : null;
  observations['ttl.max'] = hasTtl ? ttlMax : null;
  observations.ttls = hasTtl ? [...ttlSet].sort((a, b) => a - b).map(String) : [];
  return { common, latencyMax };
}

/** Whether every reply has the first one's rcode and records. */
function repliesAgree(answered: Answered[]): boolean {
  const first = answered[0];
  if (!first) return true;
  const signature = `${first.reply.rcode}|${first.texts.join('\n')}`;
  return answered.every(({ reply, texts }) => `${reply.rcode}|${texts.join('\n')}` === signature);
}

function challengeMeasurement(
  measurement: Measurement,
  outcomes: ServerOutcome[],
  spec: DnsSpec & CommonProbeSpec,
  ctx: ProbeContext,
): Measurement {
  const challenge = spec.challenge!;
  const now = ctx.clock.now();
  const previous = ((ctx.previousState ?? {}) as ChallengeState).missingSince ?? {};
  const missingSince: Record<string, number> = {};
  const missing: string[] = [];
  const details: string[] = [];
  let longest = 0;
  for (const outcome of outcomes) {
    const label = outcome.server.label;
    const texts =
      outcome.reply?.answers
        .filter((record) => record.type === 'TXT')
        .map((record) => txtText((record as { data: unknown }).data).trim()) ?? [];
    const present = texts.includes(challenge.token.trim());
    measurement.observations[`challenge.present.${label}`] = present;
    if (present) continue;
    const since = previous[label] ?? now;
    missingSince[label] = since;
    longest = Math.max(longest, now - since);
    missing.push(label);
    measurement.observations[`challenge.missingFor.${label}`] = now - since;
    const why = outcome.error
      ? outcome.error.message
      : outcome.reply?.rcode !== 'NOERROR'
        ? outcome.reply?.rcode
        : texts.length
          ? `other TXT (${texts.length})`
          : 'no TXT';
    details.push(`${label} (${why}${now > since ? `, missing for ${formatDuration(now - since)}` : ''})`);
  }
  const observations = measurement.observations;
  observations['challenge.present'] = missing.length === 0;
  observations['challenge.missing'] = missing.length;
  observations['challenge.missingAt'] = missing;
  observations['challenge.missingFor'] = longest;
  const message =
    missing.length === 0
      ? `challenge ${challenge.name} holds the token at all ${outcomes.length} servers`
      : `challenge token missing at ${details.join(', ')}; present at ${outcomes.length - missing.length}/${outcomes.length}`;
  // Without assertions of its own the probe fails on a missing token: that is the point of challenge mode.
  const error = missing.length > 0 && spec.expect.length === 0 ? { code: 'DNS' as const, message } : null;
  return { ...measurement, observations, message, error, state: { missingSince } satisfies ChallengeState };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

export const dnsKind: ProbeKind<DnsSpec> = {
  kind: 'dns',
  feeds: { observations: { dnsAuthDetail: DNS_AUTH_DETAIL } },
  fields,
  check,
  create: createDnsProber,
};
