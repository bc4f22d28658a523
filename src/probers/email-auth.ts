// The `email-auth` kind: a sending domain's SPF (RFC 7208, per sending IP), DKIM keys, DMARC, MX and reverse DNS, over the wire.
import net, { type LookupFunction } from 'node:net';
import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { LOCATION_HEADER, type CommonProbeSpec, type Measurement, type Observations } from '../core/probe.ts';
import { DNS_AUTH_DETAIL } from '../core/feeds.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, type DnsServer } from '../protocols/dns/wire.ts';
import { expandIpv6, fqdn, reverseName, txtText } from '../protocols/dns/records.ts';
import { dkimKeyBits } from '../protocols/mail-auth/dkim.ts';
import { parseDmarc } from '../protocols/mail-auth/dmarc.ts';
import { dnsName, dnsNameProblem, queryFields, resolverOf, serverText } from '../protocols/dns/config.ts';
import { evaluateSpf, isSpf, type SpfResolver } from '../protocols/mail-auth/spf.ts';
import { spfResolver } from '../protocols/mail-auth/spf-dns.ts';
import { checkBimi, checkMtaSts, checkTlsRpt, type PostureIo } from '../protocols/mail-auth/posture.ts';
import { resolverLookup } from '../protocols/dns/lookup.ts';
import { createHttpClient } from '../protocols/http/client.ts';

/** `local@domain`: the domain part must be a DNS name (it is the domain SPF checks). */
const mailbox = () =>
  z.string().superRefine((text, ctx) => {
    const at = text.lastIndexOf('@');
    const problem = at < 1 ? 'must be local-part@domain' : dnsNameProblem(text.slice(at + 1));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const fields = z.object({
  domain: dnsName(),
  dkimSelectors: z.array(dnsName()).default([]),
  sendingIps: z
    .array(z.string().refine((ip) => net.isIP(ip) !== 0, { error: 'is not an IPv4 or IPv6 address' }))
    .default([]),
  resolver: serverText().optional(),
  /** Smallest acceptable RSA DKIM key (Gmail/Yahoo: 1024). */
  minDkimBits: z.number().int().default(1024),
  /** The MAIL FROM SPF is evaluated for (its local part feeds %{l}); default postmaster@<domain>. */
  mailFrom: mailbox().optional(),
  /** The HELO/EHLO name, for %{h} in SPF macros. */
  helo: dnsName().optional(),
  /** Check MTA-STS (RFC 8461): the record, the policy at https://mta-sts.<domain> (`port` only for a staging host), MX coverage. */
  mtaSts: z.strictObject({ port: z.number().int().min(1).max(65535).default(443) }).optional(),
  /** Check the TLS-RPT record (RFC 8460). */
  tlsRpt: z.boolean().default(false),
  /** Check BIMI: the record, the logo as SVG Tiny PS, DMARC at enforcement. */
  bimi: z.boolean().default(false),
  /** CAs (PEM) trusted for the MTA-STS policy and BIMI logo besides the system's (a private CA). */
  tls: z.strictObject({ ca: z.string().min(1) }).optional(),
  ...queryFields,
});

export type EmailAuthSpec = z.output<typeof fields>;

/** The data of every answer of `type`; [] when the name or the data does not exist. Other failures throw. */
type Ask = (name: string, type: RecordType) => Promise<unknown[]>;

/** One check's findings: observations set and problems said. */
interface Findings {
  observations: Observations;
  problems: string[];
}

function createAsk(spf: SpfResolver): Ask {
  return async (name, type) => {
    try {
      return await spf(name, type);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      throw error;
    }
  };
}

/**
 * Runs one check; a lookup that fails (timeout, SERVFAIL) becomes a problem of
 * that check only, so what the other checks found is kept. The run's own
 * cancellation still ends the run.
 */
async function guarded(what: string, ctx: ProbeContext, found: Findings, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    found.problems.push(`${what}: DNS lookup failed (${(error as Error).message})`);
  }
}

const txtOf = async (ask: Ask, name: string) => (await ask(name, 'TXT')).map(txtText);

/** The terms of an SPF record as written, `+` dropped; modifiers (name=value) left out. */
function mechanismsOf(record: string): string[] {
  return record
    .split(' ')
    .slice(1)
    .filter((term) => term && !/^[a-z][a-z0-9_.-]*=/i.test(term))
    .map((term) => term.replace(/^\+/, ''));
}

/** The SPF record(s) at the domain; the reason when there is not exactly one (null when there is). */
async function readSpfRecord(
  domain: string,
  ask: Ask,
  found: Findings,
): Promise<{ records: string[] | undefined; reason: string | null }> {
  const { observations, problems } = found;
  let records: string[] | undefined;
  let reason: string | null = null;
  try {
    records = (await txtOf(ask, domain)).filter(isSpf);
  } catch (error) {
    problems.push(`SPF record lookup at ${domain} failed (${(error as Error).message})`);
    reason = (error as { code?: string }).code === 'ETIMEOUT' ? 'dns-timeout' : 'dns-error';
  }
  observations['spf.records'] = records?.length ?? null;
  observations['spf.record'] = records?.[0] ?? null;
  if (records && records.length !== 1) {
    problems.push(
      records.length ? `${records.length} SPF records at ${domain} (must be one)` : `no SPF record at ${domain}`,
    );
    reason = records.length ? 'multiple-records' : 'no-record';
  }
  if (records?.length === 1) {
    const mechanisms = mechanismsOf(records[0] ?? '');
    const all = mechanisms.map((term) => /^([-~?]?)all$/i.exec(term)).find(Boolean);
    observations['spf.all'] = all ? all[1] || '+' : null;
    observations['spf.mechanisms'] = mechanisms;
  }
  return { records, reason };
}

/** The record at the domain, then check_host() (RFC 7208, mailauth strict) for each sending IP. */
async function checkSpf(
  spec: EmailAuthSpec,
  domain: string,
  resolver: SpfResolver,
  ask: Ask,
  found: Findings,
): Promise<void> {
  const { observations, problems } = found;
  const { records, reason: recordReason } = await readSpfRecord(domain, ask, found);
  let reason = recordReason;
  let lookups = 0;
  let voidLookups = 0;
  let spfPass = records?.length === 1;
  const mailFrom = spec.mailFrom ?? `postmaster@${domain}`;
  for (const ip of spec.sendingIps) {
    const evaluation = await evaluateSpf({ ip, mailFrom, ...(spec.helo ? { helo: spec.helo } : {}) }, resolver);
    observations[`spf.${ip}`] = evaluation.result;
    observations[`spf.${ip}.reason`] = evaluation.reason;
    lookups = Math.max(lookups, evaluation.lookups);
    voidLookups = Math.max(voidLookups, evaluation.voidLookups);
    if (evaluation.result !== 'pass') {
      spfPass = false;
      reason ??= evaluation.reason;
      problems.push(`SPF ${evaluation.result} for ${ip}${evaluation.detail ? ` (${evaluation.detail})` : ''}`);
    }
  }
  observations['spf.lookups'] = lookups;
  observations['spf.voidLookups'] = voidLookups;
  observations['spf.reason'] = reason ?? (spec.sendingIps.length ? 'matched' : null);
  observations['spf.pass'] = spfPass;
}

/** A key at each selector, not revoked, big enough. */
async function checkDkim(spec: EmailAuthSpec, domain: string, ask: Ask, found: Findings): Promise<void> {
  const { observations, problems } = found;
  let dkimOk = true;
  for (const selector of spec.dkimSelectors) {
    const texts = await txtOf(ask, `${selector}._domainkey.${domain}`);
    const record = texts.find((text) => /(^|;)\s*p=/.test(text));
    observations[`dkim.${selector}.present`] = Boolean(record);
    const key = record ? dkimKeyBits(record) : undefined;
    observations[`dkim.${selector}.bits`] = key?.bits ?? null;
    if (!record) problems.push(`no DKIM key at ${selector}._domainkey.${domain}`);
    else if (key?.revoked) problems.push(`DKIM key at selector ${selector} is revoked (empty p=)`);
    else if (key?.error) problems.push(`DKIM selector ${selector}: ${key.error}`);
    else if (key?.type === 'rsa' && (key.bits ?? 0) < spec.minDkimBits)
      problems.push(`DKIM key at selector ${selector} has ${key.bits} bits (< ${spec.minDkimBits})`);
    else continue;
    dkimOk = false;
  }
  observations['dkim.ok'] = dkimOk;
}

/** Exactly one DMARC record, with a valid policy. */
async function checkDmarc(domain: string, ask: Ask, found: Findings): Promise<void> {
  const { observations, problems } = found;
  const records = (await txtOf(ask, `_dmarc.${domain}`)).filter((text) => /^v=DMARC1/i.test(text.trim()));
  observations['dmarc.present'] = records.length === 1;
  if (records.length !== 1) {
    problems.push(records.length ? `${records.length} DMARC records` : `no DMARC record at _dmarc.${domain}`);
    return;
  }
  const dmarc = parseDmarc(records[0] ?? '');
  Object.assign(observations, {
    'dmarc.p': dmarc.p ?? null,
    'dmarc.adkim': dmarc.adkim,
    'dmarc.aspf': dmarc.aspf,
    'dmarc.rua': dmarc.rua,
    'dmarc.pct': dmarc.pct,
  });
  problems.push(...dmarc.errors.map((error) => `DMARC ${error}`));
}

/** MX present and each exchange resolvable. */
async function checkMx(domain: string, ask: Ask, found: Findings): Promise<void> {
  const { observations, problems } = found;
  const exchanges = (await ask(domain, 'MX')).map((data) => fqdn((data as { exchange: string }).exchange || '.'));
  observations.mx = exchanges;
  observations['mx.count'] = exchanges.length;
  let resolvable = exchanges.length > 0;
  for (const exchange of exchanges) {
    const addresses = [...(await ask(exchange, 'A')), ...(await ask(exchange, 'AAAA'))];
    if (addresses.length === 0) {
      resolvable = false;
      problems.push(`MX ${exchange} has no address`);
    }
  }
  if (exchanges.length === 0) problems.push(`no MX at ${domain}`);
  observations['mx.resolvable'] = resolvable;
}

/** PTR and forward-confirmed reverse DNS of one sending IP. */
async function checkPtr(ip: string, ask: Ask, found: Findings): Promise<boolean> {
  const names = (await ask(reverseName(ip), 'PTR')).map((name) => fqdn(String(name)));
  found.observations[`ptr.${ip}`] = names;
  let confirmed = false;
  for (const name of names) {
    const forward = (await ask(name, net.isIPv4(ip) ? 'A' : 'AAAA')).map(String);
    if (
      forward.some(
        (address) => address === ip || (net.isIPv6(ip) && expandIpv6(address).join() === expandIpv6(ip).join()),
      )
    )
      confirmed = true;
  }
  found.observations[`fcrdns.${ip}`] = confirmed;
  if (!confirmed)
    found.problems.push(
      names.length ? `${ip}: PTR ${names.join(', ')} does not resolve back to it` : `${ip} has no PTR`,
    );
  return confirmed;
}

/** MTA-STS, TLS-RPT and BIMI, when configured: DNS through the probe's resolver, HTTPS to names it resolves. */
async function checkPosture(
  spec: EmailAuthSpec,
  domain: string,
  run: { ctx: ProbeContext; ask: Ask; lookup: LookupFunction; location: string | undefined },
  found: Findings,
): Promise<void> {
  if (!spec.mtaSts && !spec.tlsRpt && !spec.bimi) return;
  // Names resolve through the probe's resolver; a fleet agent says where it is, as its other requests do.
  const http = createHttpClient({
    lookup: run.lookup,
    ...(run.location !== undefined ? { defaultHeaders: { [LOCATION_HEADER]: run.location } } : {}),
  });
  const io: PostureIo = {
    txt: (name) => txtOf(run.ask, name),
    mx: async (name) => (await run.ask(name, 'MX')).map((data) => fqdn((data as { exchange: string }).exchange)),
    get: async (url, maxBytes) => {
      const answer = await http.request({
        url,
        signal: run.ctx.signal,
        maxRedirects: 0,
        maxBodyBytes: maxBytes,
        ...(spec.tls ? { tls: { ca: spec.tls.ca } } : {}),
      });
      const contentType = answer.headers['content-type'] ?? '';
      return { status: answer.status, contentType, body: answer.body, truncated: answer.bodyTruncated };
    },
  };
  const mtaSts = spec.mtaSts;
  if (mtaSts) await guarded('MTA-STS', run.ctx, found, () => checkMtaSts(domain, io, found, mtaSts.port));
  if (spec.tlsRpt) await guarded('TLS-RPT', run.ctx, found, () => checkTlsRpt(domain, io, found));
  if (spec.bimi) await guarded('BIMI', run.ctx, found, () => checkBimi(domain, io, found));
}

/** The posture checks a message names when they pass. */
function postureNames(spec: EmailAuthSpec): string {
  const names = [spec.mtaSts ? 'MTA-STS' : '', spec.tlsRpt ? 'TLS-RPT' : '', spec.bimi ? 'BIMI' : ''].filter(Boolean);
  return names.length ? `, ${names.join(', ')}` : '';
}

function measurementOf(domain: string, spec: EmailAuthSpec & CommonProbeSpec, found: Findings): Measurement {
  const { observations, problems } = found;
  observations.problems = problems;
  observations.ok = problems.length === 0;
  const message = problems.length
    ? `${domain}: ${problems.join('; ')}`
    : `${domain}: SPF, DKIM, DMARC, MX and reverse DNS${postureNames(spec)} in order`;
  const measurement: Measurement = { observations, message };
  // With no assertions of its own, any problem fails the run.
  if (problems.length && spec.expect.length === 0) measurement.error = { code: 'DNS', message };
  return measurement;
}

function createEmailAuthProber(spec: EmailAuthSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const server: DnsServer = resolverOf(spec.resolver);
  const domain = spec.domain.replace(/\.$/, '');

  return {
    async probe(ctx) {
      const budget = { signal: ctx.signal, timeoutMs: spec.queryTimeout, retries: spec.queryRetries };
      const resolver = spfResolver(client, server, budget);
      const ask = createAsk(resolver);
      const found: Findings = { observations: {}, problems: [] };
      await checkSpf(spec, domain, resolver, ask, found);
      // SPF's answer stands whatever happens to the lookups after it.
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await guarded('DKIM', ctx, found, () => checkDkim(spec, domain, ask, found));
      await guarded('DMARC', ctx, found, () => checkDmarc(domain, ask, found));
      await guarded('MX', ctx, found, () => checkMx(domain, ask, found));
      let fcrdnsAll = true;
      for (const ip of spec.sendingIps) {
        let confirmed = false;
        await guarded(`PTR of ${ip}`, ctx, found, async () => {
          confirmed = await checkPtr(ip, ask, found);
        });
        fcrdnsAll &&= confirmed;
      }
      found.observations.fcrdns = fcrdnsAll;
      await checkPosture(
        spec,
        domain,
        { ctx, ask, lookup: resolverLookup(client, server, budget), location: deps.location },
        found,
      );
      return measurementOf(domain, spec, found);
    },
    close: () => client.close(),
  };
}

export const emailAuthKind: ProbeKind<EmailAuthSpec> = {
  kind: 'email-auth',
  feeds: { observations: { dnsAuthDetail: DNS_AUTH_DETAIL } },
  fields,
  create: createEmailAuthProber,
};
