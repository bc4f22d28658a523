// The `smtp` kind: each MX of a domain (or the MX names given) on port 25: banner and EHLO time, STARTTLS offered, its TLS and certificate.
import { hostname } from 'node:os';
import { z } from 'zod';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, type DnsServer } from '../protocols/dns/wire.ts';
import { fqdn } from '../protocols/dns/records.ts';
import { answersOf, resolve, type LookupBudget } from '../protocols/dns/lookup.ts';
import { dnsName, queryFields, resolverOf, serverText } from '../protocols/dns/config.ts';
import { checkStarttls, type StarttlsResult } from '../protocols/smtp/starttls.ts';

const fields = z.object({
  /** The domain whose MX records to check; or name the MX hosts in `mx`. */
  domain: dnsName().optional(),
  mx: z.array(dnsName()).min(1).optional(),
  port: z.number().int().min(1).max(65535).default(25),
  /** The name scaiprobe gives in EHLO (a receiver may judge it). */
  helo: dnsName().default(hostname()),
  resolver: serverText().optional(),
  /** PEM of the CAs to trust instead of the system's (a private CA). */
  tls: z
    .object({ ca: z.string().min(1) })
    .strict()
    .optional(),
  /** An MX that does not offer STARTTLS fails the run (else it warns). */
  requireStarttls: z.boolean().default(true),
  /** A certificate expiring within this many days warns, within criticalDays fails. */
  warnDays: z.number().min(0).default(14),
  criticalDays: z.number().min(0).default(3),
  ...queryFields,
});

export type SmtpSpec = z.output<typeof fields>;

const DAY = 86_400_000;

function checkSmtp(spec: SmtpSpec): Array<{ path: (string | number)[]; message: string }> {
  if ((spec.domain === undefined) === (spec.mx === undefined))
    return [{ path: ['domain'], message: 'name either a domain (its MX records are looked up) or the mx hosts' }];
  return [];
}

/** The MX names to check: as configured, or the domain's MX records, most preferred first. */
async function mxNames(
  spec: SmtpSpec,
  client: DnsClient,
  resolver: DnsServer,
  budget: LookupBudget,
): Promise<string[]> {
  if (spec.mx) return spec.mx.map(fqdn);
  const reply = await resolve(client, resolver, fqdn(spec.domain ?? ''), 'MX', budget);
  const records = answersOf(reply, 'MX') as Array<{ preference: number; exchange: string }>;
  return records.sort((a, b) => a.preference - b.preference).map((record) => fqdn(record.exchange));
}

interface MxOutcome {
  name: string;
  address?: string;
  result?: StarttlsResult;
  error?: string;
}

async function checkMx(
  spec: SmtpSpec,
  ctx: ProbeContext,
  name: string,
  lookup: (name: string) => Promise<string | undefined>,
): Promise<MxOutcome> {
  try {
    const address = await lookup(name);
    if (!address) return { name, error: 'the name has no address' };
    const result = await checkStarttls({
      host: name.replace(/\.$/, ''),
      address,
      port: spec.port,
      helo: spec.helo,
      ...(spec.tls ? { ca: spec.tls.ca } : {}),
      signal: ctx.signal,
      clock: ctx.clock,
    });
    return { name, address, result };
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    return { name, error: (error as Error).message };
  }
}

function createSmtpProber(spec: SmtpSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const resolver = resolverOf(spec.resolver);
  return {
    async probe(ctx) {
      const budget = { signal: ctx.signal, timeoutMs: spec.queryTimeout, retries: spec.queryRetries };
      const lookup = async (name: string) => {
        const reply = await resolve(client, resolver, name, 'A', budget);
        return (answersOf(reply, 'A') as string[])[0];
      };
      const names = await mxNames(spec, client, resolver, budget);
      if (names.length === 0)
        return {
          observations: { mx: 0 },
          message: `${spec.domain}: no MX records`,
          error: { code: 'DNS', message: `${spec.domain}: no MX records` },
        };
      const outcomes = await Promise.all(names.map((name) => checkMx(spec, ctx, name, lookup)));
      return measurementOf(spec, outcomes, ctx.clock.now());
    },
    close: () => client.close(),
  };
}

function judge(spec: SmtpSpec, outcome: MxOutcome, now: number, problems: string[], warnings: string[]): void {
  const { name, result } = outcome;
  if (outcome.error || !result) return void problems.push(`${name}: ${outcome.error ?? 'no answer'}`);
  if (!result.offered) {
    const text = `${name}: STARTTLS is not offered: mail to it travels unencrypted`;
    return void (spec.requireStarttls ? problems : warnings).push(text);
  }
  const tls = result.tls;
  if (!tls) return;
  if (!tls.valid)
    return void problems.push(
      `${name}: the certificate is not valid for ${name.replace(/\.$/, '')}: ${tls.problem ?? 'untrusted'}`,
    );
  const daysLeft = tls.validTo === undefined ? undefined : (tls.validTo - now) / DAY;
  if (daysLeft !== undefined && daysLeft < spec.criticalDays)
    problems.push(`${name}: the certificate expires in ${daysLeft.toFixed(1)} days (under ${spec.criticalDays})`);
  else if (daysLeft !== undefined && daysLeft < spec.warnDays)
    warnings.push(`${name}: the certificate expires in ${daysLeft.toFixed(1)} days (under ${spec.warnDays})`);
}

function measurementOf(spec: SmtpSpec, outcomes: MxOutcome[], now: number): Measurement {
  const observations: Observations = { mx: outcomes.length };
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const outcome of outcomes) {
    const key = `mx.${outcome.name.replace(/\.$/, '')}`;
    const { result } = outcome;
    observations[`${key}.error`] = outcome.error ?? null;
    observations[`${key}.starttls`] = result?.offered ?? null;
    observations[`${key}.bannerMs`] = result ? Math.round(result.bannerMs) : null;
    observations[`${key}.ehloMs`] = result ? Math.round(result.ehloMs) : null;
    observations[`${key}.tls.version`] = result?.tls?.version ?? null;
    observations[`${key}.cert.valid`] = result?.tls?.valid ?? null;
    observations[`${key}.cert.daysLeft`] =
      result?.tls?.validTo === undefined ? null : Math.round(((result.tls.validTo - now) / DAY) * 10) / 10;
    judge(spec, outcome, now, problems, warnings);
  }
  observations['starttls.all'] = outcomes.every((outcome) => outcome.result?.offered === true);
  const subject = spec.domain ? `${spec.domain}: ` : '';
  const good = outcomes.map(
    (o) =>
      `${o.name.replace(/\.$/, '')} (${o.result?.tls?.version ?? 'no TLS'}, certificate ${o.result?.tls?.validTo ? `until ${new Date(o.result.tls.validTo).toISOString().slice(0, 10)}` : 'none'})`,
  );
  const message = problems.length
    ? `${subject}${problems.join('; ')}`
    : `${subject}${outcomes.length} MX with STARTTLS: ${good.join(', ')}`;
  return { observations, warnings, message, error: problems.length ? { code: 'TLS', message } : null };
}

export const smtpKind: ProbeKind<SmtpSpec> = {
  kind: 'smtp',
  feeds: { observations: { dnsAuthDetail: /^(mx\.|starttls)/ } },
  fields,
  check: checkSmtp,
  create: createSmtpProber,
};
