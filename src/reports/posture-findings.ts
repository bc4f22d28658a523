// What the mail and DNS posture checks found (MTA-STS, TLS-RPT, BIMI, DNSSEC, STARTTLS), as sentences a tenant understands, each with what to do.
import type { Observations } from '../core/probe.ts';

export interface PostureFinding {
  check: 'MTA-STS' | 'TLS-RPT' | 'BIMI' | 'DNSSEC' | 'STARTTLS';
  ok: boolean;
  sentence: string;
}

const finding = (check: PostureFinding['check'], ok: boolean, sentence: string): PostureFinding => ({
  check,
  ok,
  sentence,
});

function mtaStsFindings(o: Observations): PostureFinding[] {
  if (!('mtaSts.id' in o)) return [];
  if (o['mtaSts.id'] === null)
    return [
      finding(
        'MTA-STS',
        false,
        'MTA-STS: no usable _mta-sts record — senders cannot require TLS to your mail servers; publish "v=STSv1; id=<date>" and a policy at https://mta-sts.<your domain>/.well-known/mta-sts.txt',
      ),
    ];
  if (o['mtaSts.policy'] !== true)
    return [
      finding(
        'MTA-STS',
        false,
        'MTA-STS: the policy could not be fetched — serve it over HTTPS with a certificate valid for mta-sts.<your domain>, as text/plain',
      ),
    ];
  if (o['mtaSts.mxCovered'] !== true)
    return [
      finding(
        'MTA-STS',
        false,
        'MTA-STS: one of your MX servers is not listed in the policy — add it to the mx: lines, or senders enforcing the policy will not deliver to it',
      ),
    ];
  if (o['mtaSts.mode'] === 'testing')
    return [
      finding(
        'MTA-STS',
        true,
        'MTA-STS: mode testing — failures are only reported; switch to enforce once the TLS reports are clean',
      ),
    ];
  return [
    finding('MTA-STS', true, `MTA-STS: mode ${String(o['mtaSts.mode'])} — senders require TLS to every MX of yours`),
  ];
}

function tlsRptFindings(o: Observations): PostureFinding[] {
  const rua = o['tlsRpt.rua'];
  if (!Array.isArray(rua)) return [];
  if (rua.length === 0)
    return [
      finding(
        'TLS-RPT',
        false,
        'TLS-RPT: no reporting address — publish _smtp._tls with "v=TLSRPTv1; rua=mailto:…" to hear when senders cannot reach you securely',
      ),
    ];
  return [finding('TLS-RPT', true, `TLS-RPT: senders report TLS failures to ${rua.join(', ')}`)];
}

function bimiFindings(o: Observations): PostureFinding[] {
  if (!('bimi.logo' in o)) return [];
  const found: PostureFinding[] = [];
  if (o['bimi.logo'] === null)
    found.push(
      finding(
        'BIMI',
        false,
        'BIMI: no BIMI record — publish default._bimi with l= pointing at your logo (SVG Tiny PS) to show it in supporting inboxes',
      ),
    );
  if (o['bimi.dmarcEnforced'] === false)
    found.push(
      finding(
        'BIMI',
        false,
        'BIMI: your DMARC policy is not at enforcement — inboxes show no logo until p=quarantine or p=reject applies to all mail (pct=100)',
      ),
    );
  if (o['bimi.svgTinyPs'] === false)
    found.push(
      finding(
        'BIMI',
        false,
        'BIMI: the logo is not SVG Tiny PS — export it with baseProfile="tiny-ps", a square viewBox and a <title>, without scripts or outside references',
      ),
    );
  if (found.length === 0 && o['bimi.svgTinyPs'] === true)
    found.push(finding('BIMI', true, 'BIMI: your logo is published as SVG Tiny PS and DMARC is at enforcement'));
  return found;
}

function dnssecFindings(o: Observations): PostureFinding[] {
  if (!('dnskeys' in o) || !('rrsig.daysLeft' in o)) return [];
  const days = o['rrsig.daysLeft'];
  if (o['ds.match'] === false)
    return [
      finding(
        'DNSSEC',
        false,
        'DNSSEC: the DS record at your registrar matches no key of your zone — validating resolvers cannot resolve your domain; publish the DS of your current key (or remove it) now',
      ),
    ];
  if (o.valid !== true)
    return [
      finding(
        'DNSSEC',
        false,
        'DNSSEC: the zone’s signatures do not validate at every server — validating resolvers will fail to resolve your domain; check the signer and that every server has the current keys',
      ),
    ];
  if (typeof days === 'number' && days < 7)
    return [
      finding(
        'DNSSEC',
        false,
        `DNSSEC: the signatures expire in ${days} days — make sure the zone is re-signed before then`,
      ),
    ];
  return [
    finding('DNSSEC', true, `DNSSEC: signed and valid at every server; signatures valid ${String(days)} more days`),
  ];
}

function starttlsFindings(o: Observations): PostureFinding[] {
  return Object.keys(o).flatMap((key): PostureFinding[] => {
    const mx = /^mx\.(.+)\.starttls$/.exec(key)?.[1];
    if (mx === undefined || o[key] === null) return [];
    const days = o[`mx.${mx}.cert.daysLeft`];
    if (o[key] !== true)
      return [
        finding(
          'STARTTLS',
          false,
          `STARTTLS at ${mx}: not offered — mail to you travels unencrypted; enable STARTTLS on that server`,
        ),
      ];
    if (o[`mx.${mx}.cert.valid`] !== true)
      return [
        finding(
          'STARTTLS',
          false,
          `STARTTLS at ${mx}: the certificate is not valid for ${mx} — install a current certificate for that name from a public CA`,
        ),
      ];
    if (typeof days === 'number' && days < 14)
      return [finding('STARTTLS', false, `STARTTLS at ${mx}: the certificate expires in ${days} days — renew it`)];
    return [
      finding('STARTTLS', true, `STARTTLS at ${mx}: offered, with a valid certificate for ${String(days)} more days`),
    ];
  });
}

/** The posture findings of a run from its observations; [] for kinds that write none of them. */
export function postureFindings(observations: Observations): PostureFinding[] {
  return [
    ...mtaStsFindings(observations),
    ...tlsRptFindings(observations),
    ...bimiFindings(observations),
    ...dnssecFindings(observations),
    ...starttlsFindings(observations),
  ];
}
