import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { ProbeFailure, classifyNetworkError } from '../net/errors.ts';
import { formatDuration } from '../util/duration.ts';
import type { CommonProbeSpec, Measurement, Observations, ProbeContext, ProbeKind, Prober, ProberDeps } from './types.ts';
import { DnsClient, parseServer, type DnsReply, type DnsServer } from './dns-wire.ts';
import { compareSerials, rdataText, soaSerial, txtText } from './dns-records.ts';
import { queryFields, recordType, resolverOf, serverText } from './dns-config.ts';
import { authoritativeServers, type LookupBudget } from './dns-lookup.ts';

const fields = z.object({
  /** The question; not needed in challenge mode. */
  query: z.object({ name: z.string().min(1), type: recordType().default('A') }).strict().optional(),
  /** Servers asked by address. */
  servers: z.array(serverText()).min(1).optional(),
  /** Instead of servers: ask every authoritative server of this zone (NS set found through `resolver`). */
  authoritative: z.string().min(1).optional(),
  /** Resolver for the NS lookup (default: the system's). */
  resolver: serverText().optional(),
  /** Port on which the NS addresses are asked (53; the lab uses others). */
  port: z.number().int().min(1).max(65535).default(53),
  /** Validation-challenge mode: the TXT at `name` must hold `token` at every server. */
  challenge: z.object({ name: z.string().min(1), token: z.string().min(1) }).strict().optional(),
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
  if (Boolean(spec.servers) === Boolean(spec.authoritative)) problems.push({ path: ['servers'], message: 'give either servers or authoritative: <zone>' });
  if (Boolean(spec.query) === Boolean(spec.challenge)) problems.push({ path: ['query'], message: 'give either query or challenge' });
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

export function createDnsProber(spec: DnsSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const fixedServers = spec.servers?.map((text) => parseServer(text));

  const budget = (ctx: ProbeContext): LookupBudget => ({ signal: ctx.signal, timeoutMs: spec.queryTimeout, retries: spec.queryRetries });

  const servers = async (ctx: ProbeContext): Promise<DnsServer[]> => {
    if (fixedServers) return fixedServers;
    return authoritativeServers(client, spec.authoritative ?? '.', resolverOf(spec.resolver), spec.port, budget(ctx));
  };

  const ask = async (ctx: ProbeContext, server: DnsServer, name: string, type: RecordType): Promise<ServerOutcome> => {
    const common = { server, signal: ctx.signal, recursion: spec.recursion, transport: spec.transport, timeoutMs: spec.queryTimeout, retries: spec.queryRetries };
    try {
      const [reply, soa] = await Promise.all([
        client.query({ ...common, name, type }),
        // The SOA of the zone holding `name`: in the answer at the apex, in the authority section below it.
        spec.serials ? client.query({ ...common, name: spec.authoritative ?? name, type: 'SOA' }).catch(() => undefined) : undefined,
      ]);
      const serial = soa ? (soaSerial(soa.answers) ?? soaSerial(soa.authorities)) : undefined;
      return { server, reply, ...(serial === undefined ? {} : { serial }) };
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
      const outcomes = await Promise.all(list.map((server) => ask(ctx, server, name, type)));
      const answered = outcomes.filter((outcome) => outcome.reply);
      if (answered.length === 0) {
        const first = outcomes[0]?.error;
        throw new ProbeFailure(first?.code ?? 'TIMEOUT', `no server answered ${name} ${type}: ${outcomes.map((o) => `${o.server.label}: ${o.error?.message}`).join('; ')}`);
      }
      const measurement = commonMeasurement(outcomes, name, type);
      if (spec.challenge) return challengeMeasurement(measurement, outcomes, spec, ctx);
      return measurement;
    },
    close: () => client.close(),
  };
}

function commonMeasurement(outcomes: ServerOutcome[], name: string, type: string): Measurement {
  const observations: Observations = {};
  const warnings: string[] = [];
  const phases: Record<string, number> = {};
  const answered = outcomes.filter((outcome): outcome is ServerOutcome & { reply: DnsReply } => Boolean(outcome.reply));
  for (const outcome of outcomes) {
    const label = outcome.server.label;
    if (outcome.reply) {
      observations[`latency.${label}`] = round(outcome.reply.latencyMs);
      observations[`rcode.${label}`] = outcome.reply.rcode;
      observations[`answers.${label}`] = answerTexts(outcome.reply);
      observations[`transport.${label}`] = outcome.reply.transport;
      phases[`dns.${label}`] = round(outcome.reply.latencyMs);
    } else {
      observations[`error.${label}`] = outcome.error?.message ?? 'no answer';
      warnings.push(`${label} did not answer ${name} ${type}: ${outcome.error?.message}`);
    }
    if (outcome.serial !== undefined) observations[`serial.${label}`] = outcome.serial;
  }
  const rcodes = answered.map((outcome) => outcome.reply.rcode);
  // One rcode when all agree; otherwise the first that is not NOERROR, so `rcode == "NOERROR"` fails on any deviation.
  observations.rcode = rcodes.every((rcode) => rcode === rcodes[0]) ? (rcodes[0] ?? null) : (rcodes.find((rcode) => rcode !== 'NOERROR') ?? null);
  observations.aa = answered.every((outcome) => outcome.reply.aa);
  // Records every answering server gave, so `answers contains X` holds only when each of them serves X.
  const sets = answered.map((outcome) => answerTexts(outcome.reply));
  const common = (sets[0] ?? []).filter((text) => sets.every((set) => set.includes(text)));
  observations.answers = common;
  observations['answers.count'] = common.length;
  const ttls = answered.flatMap((outcome) => outcome.reply.answers.map((record) => (record as { ttl?: number }).ttl ?? 0));
  observations.ttl = ttls.length ? Math.min(...ttls) : null;
  observations['ttl.max'] = ttls.length ? Math.max(...ttls) : null;
  observations.ttls = [...new Set(ttls)].sort((a, b) => a - b).map(String);
  const signature = (outcome: ServerOutcome & { reply: DnsReply }) => `${outcome.reply.rcode}|${answerTexts(outcome.reply).join('\n')}`;
  const agree = answered.length === outcomes.length && answered.every((outcome) => signature(outcome) === signature(answered[0]!));
  observations['servers.agree'] = agree;
  observations['servers.count'] = outcomes.length;
  observations['servers.answered'] = answered.length;
  const serials = outcomes.map((outcome) => outcome.serial);
  const known = serials.filter((serial): serial is number => serial !== undefined);
  observations['serial.agree'] = known.length === outcomes.length && known.every((serial) => serial === known[0]);
  observations.serial = known.length ? known.reduce((newest, serial) => (compareSerials(newest, serial) < 0 ? serial : newest)) : null;
  const latencies = answered.map((outcome) => outcome.reply.latencyMs);
  observations.latency = latencies.length ? round(Math.max(...latencies)) : null;
  if (!agree && answered.length === outcomes.length) warnings.push(`servers disagree on ${name} ${type}: ${answered.map((o) => `${o.server.label} ${o.reply.rcode} [${answerTexts(o.reply).join(', ')}]`).join('; ')}`);
  if (observations['serial.agree'] === false && known.length > 1) warnings.push(`SOA serials differ: ${outcomes.map((o) => `${o.server.label} ${o.serial ?? '?'}`).join(', ')}`);
  const message = `${name} ${type}: ${observations.rcode}, ${common.length} record(s) at ${answered.length}/${outcomes.length} server(s)`;
  return { observations, phases, warnings, message };
}

function challengeMeasurement(measurement: Measurement, outcomes: ServerOutcome[], spec: DnsSpec & CommonProbeSpec, ctx: ProbeContext): Measurement {
  const challenge = spec.challenge!;
  const now = ctx.clock.now();
  const previous = ((ctx.previousState ?? {}) as ChallengeState).missingSince ?? {};
  const missingSince: Record<string, number> = {};
  const missing: string[] = [];
  const details: string[] = [];
  let longest = 0;
  for (const outcome of outcomes) {
    const label = outcome.server.label;
    const texts = outcome.reply?.answers.filter((record) => record.type === 'TXT').map((record) => txtText((record as { data: unknown }).data).trim()) ?? [];
    const present = texts.includes(challenge.token.trim());
    measurement.observations[`challenge.present.${label}`] = present;
    if (present) continue;
    const since = previous[label] ?? now;
    missingSince[label] = since;
    longest = Math.max(longest, now - since);
    missing.push(label);
    measurement.observations[`challenge.missingFor.${label}`] = now - since;
    const why = outcome.error ? outcome.error.message : outcome.reply?.rcode !== 'NOERROR' ? outcome.reply?.rcode : texts.length ? `other TXT (${texts.length})` : 'no TXT';
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
  fields,
  check,
  create: createDnsProber,
};
