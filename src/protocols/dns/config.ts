// DNS configuration atoms: names, servers, record types, query fields and the system resolver.
import { getServers } from 'node:dns';
import { z } from 'zod';
import { timerDuration } from '../../core/schema.ts';
import { parseServer, type DnsServer } from './wire.ts';

/**
 * Why a DNS name written in the configuration could never be sent, or
 * undefined when it can: labels of 1 to 63 bytes, at most 253 bytes without
 * the final dot (255 on the wire); `.` alone is the root.
 */
export function dnsNameProblem(text: string): string | undefined {
  if (text === '.') return undefined;
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name === '') return 'it is empty';
  if (/[\s\x00-\x1f\x7f]/.test(name)) return 'it holds whitespace or a control character';
  if (Buffer.byteLength(name) > 253) return 'it is longer than 253 bytes';
  const labels = name.split('.');
  if (labels.includes('')) return 'it has an empty label (two dots in a row, or a leading dot)';
  const long = labels.find((label) => Buffer.byteLength(label) > 63);
  if (long !== undefined) return `its label "${long.slice(0, 16)}…" is longer than 63 bytes`;
  return undefined;
}

/** A DNS name (query name, zone, domain), checked at validation rather than failing every run. */
export const dnsName = () =>
  z.string().superRefine((text, ctx) => {
    const problem = dnsNameProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: `"${text}" is not a valid DNS name: ${problem}` });
  });

/** A DNS server written as `IP`, `IP:port` or `[IPv6]:port`; kept as text, parsed when the prober is created. */
export const serverText = () =>
  z.string().superRefine((text, ctx) => {
    try {
      parseServer(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });

export const RECORD_TYPES = [
  'A',
  'AAAA',
  'CNAME',
  'MX',
  'NS',
  'PTR',
  'SOA',
  'SRV',
  'TXT',
  'CAA',
  'DS',
  'DNSKEY',
  'TLSA',
  'NAPTR',
] as const;
export const recordType = () =>
  z.preprocess((value) => (typeof value === 'string' ? value.toUpperCase() : value), z.enum(RECORD_TYPES));

/** Per-query budget shared by the DNS kinds. */
export const queryFields = {
  /** Wait for one try of one query. */
  queryTimeout: timerDuration().default(1000),
  /** Tries after the first (UDP is lossy). */
  queryRetries: z.number().int().min(0).max(10).default(2),
};

/** The configured resolver, else the system's first one (from /etc/resolv.conf). */
export function resolverOf(text: string | undefined): DnsServer {
  if (text) return parseServer(text);
  const system = getServers()[0];
  if (!system) throw new Error('no resolver configured and the system has none');
  return parseServer(system.replace(/^\[(.*)\]$/, '$1'));
}

/** Resolvers that Spamhaus and URIBL refuse (answers become error codes), and that are never right for authoritative checks. */
const PUBLIC_RESOLVERS = new Set([
  '8.8.8.8',
  '8.8.4.4',
  '1.1.1.1',
  '1.0.0.1',
  '9.9.9.9',
  '149.112.112.112',
  '208.67.222.222',
  '208.67.220.220',
  '94.140.14.14',
  '94.140.15.15',
  '64.6.64.6',
  '64.6.65.6',
  '185.228.168.9',
  '76.76.2.0',
  '76.76.10.0',
  '4.2.2.1',
  '4.2.2.2',
  '2001:4860:4860::8888',
  '2001:4860:4860::8844',
  '2606:4700:4700::1111',
  '2606:4700:4700::1001',
  '2620:fe::fe',
  '2620:fe::9',
]);

export function isPublicResolver(text: string): boolean {
  try {
    return PUBLIC_RESOLVERS.has(parseServer(text).host);
  } catch {
    return false;
  }
}
