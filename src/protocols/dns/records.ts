// DNS record text: FQDNs, TXT, addresses, rdata presentation, serials and reverse names.
import net from 'node:net';
import type { Answer } from 'dns-packet';

/** A name as compared everywhere: lowercase with one trailing dot. */
export function fqdn(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Joins a TXT record's strings (a long value is split into several <=255-byte strings on the wire). */
export function txtText(data: unknown): string {
  const parts = Array.isArray(data) ? data : [data];
  return parts.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part))).join('');
}

/** Expands and lowercases an IPv6 address so that equal addresses compare equal as text. */
export function canonicalIp(address: string): string {
  if (!net.isIPv6(address)) return address;
  const groups = expandIpv6(address).map((group) => group.replace(/^0+(?=.)/, ''));
  // RFC 5952: the longest run (of two or more) of zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** The 8 groups of an IPv6 address, each 4 lowercase hex digits (IPv4-mapped tails converted). */
export function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const octets = v4[1].split('.').map(Number);
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    text =
      text.slice(0, -v4[1].length) + `${hex(octets[0] ?? 0, octets[1] ?? 0)}:${hex(octets[2] ?? 0, octets[3] ?? 0)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  return [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups].map((group) => group.padStart(4, '0'));
}

/**
 * The record's data as text, normalized so that the same data compares equal
 * whoever served it: names lowercase with a trailing dot, TXT strings joined
 * and unquoted, IPv6 compressed.
 */
export function rdataText(record: Answer): string {
  const data = (record as { data?: unknown }).data;
  switch (record.type) {
    case 'A':
      return String(data);
    case 'AAAA':
      return canonicalIp(String(data));
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return fqdn(String(data));
    case 'TXT':
      return txtText(data);
    case 'MX': {
      const mx = data as { preference: number; exchange: string };
      return `${mx.preference} ${fqdn(mx.exchange)}`;
    }
    case 'SOA': {
      const soa = data as {
        mname: string;
        rname: string;
        serial: number;
        refresh: number;
        retry: number;
        expire: number;
        minimum: number;
      };
      return `${fqdn(soa.mname)} ${fqdn(soa.rname)} ${soa.serial} ${soa.refresh} ${soa.retry} ${soa.expire} ${soa.minimum}`;
    }
    case 'SRV': {
      const srv = data as { priority: number; weight: number; port: number; target: string };
      return `${srv.priority} ${srv.weight} ${srv.port} ${fqdn(srv.target)}`;
    }
    case 'CAA': {
      const caa = data as { flags: number; tag: string; value: string };
      return `${caa.flags} ${caa.tag} "${caa.value}"`;
    }
    case 'DS': {
      // As PowerDNS's API and zone files write it: the digest in lower-case hex.
      const ds = data as { keyTag: number; algorithm: number; digestType: number; digest: Buffer };
      return `${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest.toString('hex')}`;
    }
    case 'DNSKEY': {
      const key = data as { flags: number; algorithm: number; key: Buffer };
      return `${key.flags} 3 ${key.algorithm} ${key.key.toString('base64')}`;
    }
    default:
      return Buffer.isBuffer(data) ? `\\# ${data.length} ${data.toString('hex')}` : JSON.stringify(data);
  }
}

/** PowerDNS API content (zone-file presentation) normalized like rdataText. */
export function presentationText(type: string, content: string): string {
  const text = content.trim();
  switch (type) {
    case 'AAAA':
      return canonicalIp(text);
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      return fqdn(text);
    case 'TXT':
    case 'SPF':
      return unquoteTxt(text);
    case 'MX': {
      const [preference = '', exchange = ''] = text.split(/\s+/);
      return `${Number(preference)} ${fqdn(exchange)}`;
    }
    case 'SOA': {
      const [mname = '', rname = '', ...numbers] = text.split(/\s+/);
      return `${fqdn(mname)} ${fqdn(rname)} ${numbers.map(Number).join(' ')}`;
    }
    case 'SRV': {
      const [priority = '', weight = '', port = '', target = ''] = text.split(/\s+/);
      return `${Number(priority)} ${Number(weight)} ${Number(port)} ${fqdn(target)}`;
    }
    case 'CAA': {
      const match = /^(\d+)\s+(\S+)\s+"?(.*?)"?$/.exec(text);
      return match ? `${match[1]} ${match[2]} "${match[3]}"` : text;
    }
    default:
      return text;
  }
}

/** `"a" "b"` -> `ab`; unescapes \" and \\ and \DDD. */
export function unquoteTxt(text: string): string {
  if (!text.startsWith('"')) return text;
  let out = '';
  for (const match of text.matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    out += (match[1] ?? '').replace(/\\(\d{3}|.)/g, (_, escaped: string) =>
      /^\d{3}$/.test(escaped) ? String.fromCharCode(Number(escaped)) : escaped,
    );
  }
  return out;
}

/** RFC 1982 serial comparison: negative when a is older than b, 0 when equal, positive when newer. */
export function compareSerials(a: number, b: number): number {
  if (a === b) return 0;
  const diff = (b - a + 2 ** 32) % 2 ** 32;
  return diff < 2 ** 31 ? -1 : 1;
}

/** The SOA serial in a reply's answer or authority section, if any. */
export function soaSerial(records: Answer[]): number | undefined {
  const soa = records.find((record) => record.type === 'SOA');
  return soa ? (soa.data as { serial: number }).serial : undefined;
}

/** The PTR name of an address: `25.2.0.192.in-addr.arpa`, or nibbles under `ip6.arpa`. */
export function reverseName(ip: string): string {
  if (net.isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${expandIpv6(ip).join('').split('').reverse().join('.')}.ip6.arpa`;
}
