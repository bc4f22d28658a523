// DNS blocklists: the catalogue of zones, lookup names, test points and verdicts.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { expandIpv6 } from '../dns/records.ts';

export type Severity = 'alert' | 'warn' | 'info';
export const SEVERITIES: readonly Severity[] = ['alert', 'warn', 'info'];

export interface ListCode {
  meaning: string;
  severity: Severity;
}

/** One blocklist zone with what its answers mean (catalogue entry or custom). */
export interface BlocklistZone {
  zone: string;
  type: 'ip' | 'domain';
  severity: Severity;
  codes?: Record<string, ListCode>;
  codeRanges?: Array<{ from: string; to: string } & ListCode>;
  /** Answers that mean "your query was not answered properly" (never a listing). */
  errors?: Record<string, string>;
  /** Last-octet bit flags (SURBL, URIBL). */
  bitmask?: Record<string, string>;
  /** Answers that are grades, not listings (good reputation). */
  notListing?: Record<string, string>;
  refusesPublicResolvers?: boolean;
}

export interface Catalogue {
  zones: BlocklistZone[];
}

export const CATALOGUE_URL = new URL('../../../data/dnsbl-catalogue.json', import.meta.url);

export function loadCatalogue(url: URL = CATALOGUE_URL): Catalogue {
  return JSON.parse(readFileSync(url, 'utf8')) as Catalogue;
}

/** The DNS name to ask: reversed IPv4 octets, 32 reversed IPv6 nibbles, or the domain as given. */
export function lookupName(target: string, zone: string): string {
  if (net.isIPv4(target)) return `${target.split('.').reverse().join('.')}.${zone}`;
  if (net.isIPv6(target)) return `${expandIpv6(target).join('').split('').reverse().join('.')}.${zone}`;
  return `${target.toLowerCase().replace(/\.$/, '')}.${zone}`;
}

/** RFC 5782 test points: one that must be listed and one that must not. */
export function testPoints(zone: BlocklistZone): { listed: string; clean: string } {
  return zone.type === 'ip' ? { listed: '127.0.0.2', clean: '127.0.0.1' } : { listed: 'test', clean: 'invalid' };
}

export type VerdictKind = 'listed' | 'clean' | 'unknown';

export interface Verdict {
  verdict: VerdictKind;
  codes: string[];
  meanings: string[];
  severity?: Severity;
  /** Why the answer is unknown, for people. */
  why?: string;
}

/** What a lookup came back with: an rcode and the A addresses, or an error message. */
export interface LookupOutcome {
  rcode?: string;
  addresses: string[];
  error?: string;
}

function ipToNumber(ip: string): number {
  return ip.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

function worst(severities: Severity[]): Severity | undefined {
  return SEVERITIES.find((severity) => severities.includes(severity));
}

/**
 * Turns a lookup into listed / clean / unknown. Anything that is not clearly a
 * listing or clearly NXDOMAIN is unknown: error codes, 127.0.0.1, answers
 * outside 127/8 (a resolver rewriting answers), REFUSED, SERVFAIL, timeouts.
 */
export function judge(zone: BlocklistZone, outcome: LookupOutcome): Verdict {
  const none = { codes: [] as string[], meanings: [] as string[] };
  if (outcome.error) return { verdict: 'unknown', ...none, why: outcome.error };
  if (outcome.rcode === 'NXDOMAIN') return { verdict: 'clean', ...none };
  if (outcome.rcode !== 'NOERROR')
    return { verdict: 'unknown', ...none, why: `${zone.zone} answered ${outcome.rcode}` };
  if (outcome.addresses.length === 0)
    return { verdict: 'unknown', ...none, why: 'the name exists but has no A record' };
  const codes = [...outcome.addresses].sort();
  const outside = codes.find((code) => !net.isIPv4(code) || !code.startsWith('127.'));
  if (outside)
    return {
      verdict: 'unknown',
      codes,
      meanings: [],
      why: `answer ${outside} is outside 127.0.0.0/8: the resolver rewrites answers`,
    };
  const error = codes.find(
    (code) => zone.errors?.[code] !== undefined || code.startsWith('127.255.255.') || code === '127.0.0.1',
  );
  if (error) {
    const meaning =
      zone.errors?.[error] ??
      (error === '127.0.0.1' ? '127.0.0.1 is never a listing (RFC 5782)' : 'blocklist error code');
    return { verdict: 'unknown', codes, meanings: [meaning], why: `${error}: ${meaning}` };
  }
  if (zone.notListing && codes.every((code) => zone.notListing?.[code] !== undefined)) {
    return { verdict: 'clean', codes, meanings: codes.map((code) => zone.notListing?.[code] ?? code) };
  }
  const meanings: string[] = [];
  const severities: Severity[] = [];
  for (const code of codes) {
    const known =
      zone.codes?.[code] ??
      zone.codeRanges?.find(
        (range) => ipToNumber(code) >= ipToNumber(range.from) && ipToNumber(code) <= ipToNumber(range.to),
      );
    if (known) {
      meanings.push(known.meaning);
      severities.push(known.severity);
    } else if (zone.bitmask) {
      const last = Number(code.split('.')[3]);
      const flags = Object.entries(zone.bitmask).filter(([bit]) => (last & Number(bit)) !== 0);
      meanings.push(flags.length ? flags.map(([, meaning]) => meaning).join(', ') : `return code ${code}`);
      severities.push(zone.severity);
    } else if (zone.notListing?.[code] === undefined) {
      meanings.push(`return code ${code}`);
      severities.push(zone.severity);
    }
  }
  return { verdict: 'listed', codes, meanings, severity: worst(severities) ?? zone.severity };
}
