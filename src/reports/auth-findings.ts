// What an email-auth run found, as sentences a tenant understands, each with what to do.
import type { ObservationValue, Observations } from '../core/probe.ts';
import type { SpfReason } from '../protocols/mail-auth/spf-reason.ts';
import type { PostureFinding } from './posture-findings.ts';

export interface AuthFinding {
  check: 'SPF' | 'DKIM' | 'DMARC' | 'MX' | 'Reverse DNS' | PostureFinding['check'];
  ok: boolean;
  /** `SPF for 192.0.2.25: permerror — your record has a newline inside it; publish it on one line`. */
  sentence: string;
}

/** What each SPF reason means for the tenant and what to do about it. */
const SPF_REASON_TEXT: Record<SpfReason, string> = {
  matched:
    'your record does not allow this server; add its address (ip4:/ip6:) or your provider’s include: to the record',
  'no-match':
    'your record neither allows nor forbids this server; add it to the record, and end the record with ~all or -all',
  'no-record':
    'your domain publishes no SPF record; publish one TXT record starting with v=spf1 that lists your sending servers',
  'multiple-records':
    'your domain publishes more than one SPF record, so receivers ignore them all; merge them into one',
  'newline-in-record': 'your record has a newline inside it; publish it on one line',
  'control-character':
    'your record contains an invisible control character (a tab, for example); retype it with plain spaces',
  'non-ascii':
    'your record contains characters other than plain ASCII (often quotes or dashes pasted from a document); retype it',
  'syntax-error': 'your record has a syntax error (a misspelt mechanism or a stray character); correct that term',
  'duplicate-modifier': 'your record has redirect= or exp= more than once; keep only one',
  'invalid-domain':
    'a domain name in your record is malformed (a double dot, a label starting with a dash); correct it',
  'invalid-ip':
    'an ip4: or ip6: address in your record is malformed; write the full address, optionally with a /prefix',
  'invalid-cidr': 'a /prefix length in your record is out of range (at most /32 for IPv4, /128 for IPv6); correct it',
  'macro-error': 'a %{…} macro in your record is malformed; correct or remove it',
  'include-without-record':
    'an include: or redirect= in your record names a domain without an SPF record; fix the name or remove the term',
  'too-many-lookups':
    'checking your record takes more than 10 DNS lookups (include, a, mx, ptr, exists, redirect); remove or flatten includes',
  'too-many-void-lookups':
    'your record names domains that do not exist more than twice; remove the stale include:, a: or mx: terms',
  'dns-timeout':
    'the DNS servers of your domain (or of an included one) did not answer in time, so receivers defer your mail; check your DNS hosting',
  'dns-error':
    'a DNS lookup your record needs failed at the server; check the DNS servers of your domain and of the included domains',
};

function spfSentence(ip: string, result: string, reason: string): AuthFinding {
  const ok = result === 'pass';
  const text = ok
    ? 'this server may send for your domain'
    : ((SPF_REASON_TEXT as Partial<Record<string, string>>)[reason] ??
      'receivers will not trust mail from this server; check the record');
  return { check: 'SPF', ok, sentence: `SPF for ${ip}: ${result} — ${text}` };
}

function spfFindings(o: Observations): AuthFinding[] {
  const findings: AuthFinding[] = [];
  const records = o['spf.records'];
  if (records === 0) findings.push(spfSentence('your domain', 'none', 'no-record'));
  else if (typeof records === 'number' && records > 1)
    findings.push(spfSentence('your domain', 'permerror', 'multiple-records'));
  for (const key of Object.keys(o)) {
    const ip = /^spf\.(.+)\.reason$/.exec(key)?.[1];
    if (ip === undefined) continue;
    // The record-level finding already says it.
    if (findings.length && (o[key] === 'multiple-records' || o[key] === 'no-record')) continue;
    findings.push(spfSentence(ip, String(o[`spf.${ip}`]), String(o[key])));
  }
  return findings;
}

function dkimFindings(o: Observations): AuthFinding[] {
  return Object.keys(o).flatMap((key): AuthFinding[] => {
    const selector = /^dkim\.(.+)\.present$/.exec(key)?.[1];
    if (selector === undefined) return [];
    const bits = o[`dkim.${selector}.bits`];
    const head = `DKIM selector ${selector}:`;
    if (o[key] !== true)
      return [
        {
          check: 'DKIM' as const,
          ok: false,
          sentence: `${head} no key is published — publish the key your sending service gives you`,
        },
      ];
    if (typeof bits === 'number' && bits < 1024)
      return [
        {
          check: 'DKIM' as const,
          ok: false,
          sentence: `${head} the key has only ${bits} bits — receivers reject it; rotate to a 2048-bit key`,
        },
      ];
    if (bits === null)
      return [
        {
          check: 'DKIM' as const,
          ok: false,
          sentence: `${head} the key is revoked or unreadable — publish the current key`,
        },
      ];
    return [{ check: 'DKIM' as const, ok: true, sentence: `${head} a ${String(bits)}-bit key is published` }];
  });
}

function dmarcFindings(o: Observations): AuthFinding[] {
  if (o['dmarc.present'] === undefined) return [];
  if (o['dmarc.present'] !== true)
    return [
      {
        check: 'DMARC',
        ok: false,
        sentence:
          'DMARC: no single DMARC record — publish one at _dmarc.<your domain>, starting with p=none and a rua= address for reports',
      },
    ];
  const policy = o['dmarc.p'];
  if (policy === 'none')
    return [
      {
        check: 'DMARC',
        ok: false,
        sentence:
          'DMARC: policy none — receivers only report; move to quarantine, then reject, once the reports show all your mail passing',
      },
    ];
  if (policy === 'quarantine' || policy === 'reject')
    return [
      {
        check: 'DMARC',
        ok: true,
        sentence: `DMARC: policy ${policy} — mail failing authentication is ${policy === 'reject' ? 'refused' : 'sent to spam'}`,
      },
    ];
  return [
    {
      check: 'DMARC',
      ok: false,
      sentence: 'DMARC: the record has no valid p= policy — set p=none, quarantine or reject',
    },
  ];
}

function mxFindings(o: Observations): AuthFinding[] {
  if (o['mx.count'] === undefined) return [];
  if (o['mx.count'] === 0)
    return [
      {
        check: 'MX',
        ok: false,
        sentence: 'MX: your domain has no MX record — replies and bounces cannot reach you; publish one',
      },
    ];
  if (o['mx.resolvable'] !== true)
    return [
      {
        check: 'MX',
        ok: false,
        sentence: 'MX: a mail server named in your MX records has no address — fix the name or remove it',
      },
    ];
  return [{ check: 'MX', ok: true, sentence: 'MX: every mail server of your domain has an address' }];
}

function ptrFindings(o: Observations): AuthFinding[] {
  return Object.keys(o).flatMap((key): AuthFinding[] => {
    const ip = /^fcrdns\.(.+)$/.exec(key)?.[1];
    if (ip === undefined) return [];
    return o[key] === true
      ? [{ check: 'Reverse DNS' as const, ok: true, sentence: `Reverse DNS for ${ip}: its name points back to it` }]
      : [
          {
            check: 'Reverse DNS' as const,
            ok: false,
            sentence: `Reverse DNS for ${ip}: no PTR name that points back to it — ask your hosting provider for a PTR record matching the server’s name`,
          },
        ];
  });
}

/** The findings of an email-auth run from its observations; [] for kinds that write none of them. */
export function authFindings(observations: Record<string, ObservationValue>): AuthFinding[] {
  return [
    ...spfFindings(observations),
    ...dkimFindings(observations),
    ...dmarcFindings(observations),
    ...mxFindings(observations),
    ...ptrFindings(observations),
  ];
}
