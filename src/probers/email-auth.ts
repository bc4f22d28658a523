import net from 'node:net';
import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { ProbeFailure } from '../core/errors.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import { DNS_AUTH_DETAIL } from '../core/feeds.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, type DnsServer } from '../protocols/dns/wire.ts';
import { expandIpv6, fqdn, reverseName, txtText } from '../protocols/dns/records.ts';
import { dkimKeyBits } from '../protocols/mail-auth/dkim.ts';
import { parseDmarc } from '../protocols/mail-auth/dmarc.ts';
import { dnsName, queryFields, resolverOf, serverText } from '../protocols/dns/config.ts';
import { evaluateSpf, isSpf, parseSpf, type SpfDns } from '../protocols/mail-auth/spf.ts';

const fields = z.object({
  domain: dnsName(),
  dkimSelectors: z.array(dnsName()).default([]),
  sendingIps: z
    .array(z.string().refine((ip) => net.isIP(ip) !== 0, { message: 'is not an IPv4 or IPv6 address' }))
    .default([]),
  resolver: serverText().optional(),
  /** Smallest acceptable RSA DKIM key (Gmail/Yahoo: 1024). */
  minDkimBits: z.number().int().default(1024),
  ...queryFields,
});

export type EmailAuthSpec = z.output<typeof fields>;

function createLookups(client: DnsClient, resolver: DnsServer, spec: EmailAuthSpec, ctx: ProbeContext) {
  const ask = async (name: string, type: RecordType): Promise<unknown[]> => {
    const reply = await client.query({
      name,
      type,
      server: resolver,
      recursion: true,
      signal: ctx.signal,
      timeoutMs: spec.queryTimeout,
      retries: spec.queryRetries,
    });
    if (reply.rcode === 'NXDOMAIN') return [];
    if (reply.rcode !== 'NOERROR') throw new ProbeFailure('DNS', `${name} ${type}: ${reply.rcode}`);
    return reply.answers.filter((record) => record.type === type).map((record) => (record as { data: unknown }).data);
  };
  const dns: SpfDns = {
    txt: async (name) => (await ask(name, 'TXT')).map(txtText),
    a: async (name) => (await ask(name, 'A')).map(String),
    aaaa: async (name) => (await ask(name, 'AAAA')).map(String),
    mx: async (name) => (await ask(name, 'MX')).map((data) => fqdn((data as { exchange: string }).exchange)),
  };
  return { ask, dns };
}

function createEmailAuthProber(spec: EmailAuthSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const resolver = resolverOf(spec.resolver);
  const domain = spec.domain.replace(/\.$/, '');

  return {
    async probe(ctx) {
      const { ask, dns } = createLookups(client, resolver, spec, ctx);
      const observations: Observations = {};
      const problems: string[] = [];

      // SPF: exactly one record, parsed, each sending IP permitted.
      const spfRecords = (await dns.txt(domain)).filter(isSpf);
      observations['spf.records'] = spfRecords.length;
      observations['spf.record'] = spfRecords[0] ?? null;
      if (spfRecords.length !== 1)
        problems.push(
          spfRecords.length
            ? `${spfRecords.length} SPF records at ${domain} (must be one)`
            : `no SPF record at ${domain}`,
        );
      else {
        const parsed = parseSpf(spfRecords[0] ?? '');
        observations['spf.all'] = parsed.terms.find((term) => term.mechanism === 'all')?.qualifier ?? null;
        observations['spf.mechanisms'] = parsed.terms.map(
          (term) =>
            `${term.qualifier === '+' ? '' : term.qualifier}${term.mechanism}${term.value ? `:${term.value}` : ''}`,
        );
      }
      let lookups = 0;
      let spfPass = spfRecords.length === 1;
      for (const ip of spec.sendingIps) {
        const evaluation = await evaluateSpf(ip, domain, dns);
        observations[`spf.${ip}`] = evaluation.result;
        lookups = Math.max(lookups, evaluation.lookups);
        if (evaluation.result !== 'pass') {
          spfPass = false;
          problems.push(`SPF ${evaluation.result} for ${ip}${evaluation.reason ? ` (${evaluation.reason})` : ''}`);
        }
      }
      observations['spf.lookups'] = lookups;
      observations['spf.pass'] = spfPass;

      // DKIM: a key at each selector, big enough.
      let dkimOk = true;
      for (const selector of spec.dkimSelectors) {
        const texts = await dns.txt(`${selector}._domainkey.${domain}`);
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

      // DMARC.
      const dmarcRecords = (await dns.txt(`_dmarc.${domain}`)).filter((text) => /^v=DMARC1/i.test(text.trim()));
      observations['dmarc.present'] = dmarcRecords.length === 1;
      if (dmarcRecords.length !== 1)
        problems.push(
          dmarcRecords.length ? `${dmarcRecords.length} DMARC records` : `no DMARC record at _dmarc.${domain}`,
        );
      else {
        const dmarc = parseDmarc(dmarcRecords[0] ?? '');
        Object.assign(observations, {
          'dmarc.p': dmarc.p ?? null,
          'dmarc.adkim': dmarc.adkim,
          'dmarc.aspf': dmarc.aspf,
          'dmarc.rua': dmarc.rua,
          'dmarc.pct': dmarc.pct,
        });
        problems.push(...dmarc.errors.map((error) => `DMARC ${error}`));
      }

      // MX present and resolvable.
      const exchanges = await dns.mx(domain);
      observations.mx = exchanges;
      observations['mx.count'] = exchanges.length;
      let resolvable = exchanges.length > 0;
      for (const exchange of exchanges) {
        const addresses = [...(await dns.a(exchange)), ...(await dns.aaaa(exchange))];
        if (addresses.length === 0) {
          resolvable = false;
          problems.push(`MX ${exchange} has no address`);
        }
      }
      if (exchanges.length === 0) problems.push(`no MX at ${domain}`);
      observations['mx.resolvable'] = resolvable;

      // PTR and forward-confirmed reverse DNS of each sending IP.
      let fcrdnsAll = true;
      for (const ip of spec.sendingIps) {
        const names = (await ask(reverseName(ip), 'PTR')).map((name) => fqdn(String(name)));
        observations[`ptr.${ip}`] = names;
        let confirmed = false;
        for (const name of names) {
          const forward = net.isIPv4(ip) ? await dns.a(name) : await dns.aaaa(name);
          if (
            forward.some(
              (address) => address === ip || (net.isIPv6(ip) && expandIpv6(address).join() === expandIpv6(ip).join()),
            )
          )
            confirmed = true;
        }
        observations[`fcrdns.${ip}`] = confirmed;
        if (!confirmed) {
          fcrdnsAll = false;
          problems.push(
            names.length ? `${ip}: PTR ${names.join(', ')} does not resolve back to it` : `${ip} has no PTR`,
          );
        }
      }
      observations.fcrdns = fcrdnsAll;
      observations.problems = problems;
      observations.ok = problems.length === 0;

      const message = problems.length
        ? `${domain}: ${problems.join('; ')}`
        : `${domain}: SPF, DKIM, DMARC, MX and reverse DNS in order`;
      const measurement: Measurement = { observations, message };
      // With no assertions of its own, any problem fails the run.
      if (problems.length && spec.expect.length === 0) measurement.error = { code: 'DNS', message };
      return measurement;
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
