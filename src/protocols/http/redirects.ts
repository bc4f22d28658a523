// The redirect policy: allowed hosts, sensitive addresses refused, and the next hop.
import net, { type LookupFunction } from 'node:net';
import { ProbeFailure } from '../../core/errors.ts';

/**
 * What a followed redirect may do. Whatever it says, the configured headers
 * and body never go to another origin: a target's redirect is not the
 * operator's consent to hand it the credentials.
 */
export interface RedirectPolicy {
  /** Follow a hop from https to plain http (which still loses every configured header). */
  allowInsecure?: boolean;
  /**
   * Hosts a redirect may lead to besides the request's own; absent means any
   * host. Entries as `canonicalHostPattern` returns them. Listing a
   * link-local or metadata address is the only way to follow a redirect there.
   */
  hosts?: readonly string[];
}

/** One request of a redirect chain. */
export interface Hop {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  /**
   * The hop leads to a host the configuration did not name (neither the
   * request's own nor a listed one): the addresses its name resolves to are
   * checked as well, since a name can point anywhere.
   */
  unvouched: boolean;
}

/**
 * Link-local and cloud metadata addresses. A redirect there from a probed
 * target would make scaiprobe read its own machine's instance credentials.
 * net.BlockList also matches the IPv4-mapped IPv6 forms (::ffff:169.254.x.x).
 * Built once and never changed.
 */
const SENSITIVE_ADDRESSES = (() => {
  const list = new net.BlockList();
  list.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local; AWS, GCP, Azure and OCI metadata at 169.254.169.254
  list.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
  list.addSubnet('fe80::', 10, 'ipv6'); // link-local
  list.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
  return list;
})();

export function isSensitiveAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  return SENSITIVE_ADDRESSES.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** A URL's host without IPv6 brackets or a trailing root dot, as entries are compared. */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/**
 * The canonical form of a `redirectHosts` entry (a host name, `*.domain` for
 * its subdomains, or an IP address in any spelling a URL accepts), or
 * undefined when it is something else (a URL, a port, a path).
 */
export function canonicalHostPattern(entry: string): string | undefined {
  const text = entry.trim().toLowerCase();
  const wildcard = text.startsWith('*.');
  const host = wildcard ? text.slice(2) : text;
  const ipv6 = net.isIPv6(host.replace(/^\[|\]$/g, ''));
  if (
    host === '' ||
    /[/?#@\\*\s]/.test(host) ||
    (!ipv6 && host.includes(':')) ||
    (wildcard && (ipv6 || net.isIPv4(host)))
  )
    return undefined;
  try {
    const hostname = bareHost(new URL(`http://${ipv6 ? `[${host.replace(/^\[|\]$/g, '')}]` : host}/`).hostname);
    if (hostname === '') return undefined;
    return wildcard ? `*.${hostname}` : hostname;
  } catch {
    return undefined;
  }
}

function listed(hostname: string, patterns: readonly string[]): boolean {
  const host = bareHost(hostname);
  return patterns.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
}

function refused(from: URL, to: URL | string, why: string): ProbeFailure {
  return new ProbeFailure('PROTOCOL', `redirect from ${from.href} to ${String(to)} refused: ${why}`);
}

/** Headers that describe a body: they go when the body goes. */
const BODY_HEADERS = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]);

function withoutBody(hop: Hop, method: string): Pick<Hop, 'method' | 'headers' | 'body'> {
  const headers = Object.fromEntries(
    Object.entries(hop.headers).filter(([name]) => !BODY_HEADERS.has(name.toLowerCase())),
  );
  return { method, headers, body: undefined };
}

/**
 * The request that follows `hop` after it answered `status` with `location`,
 * or a PROTOCOL ProbeFailure saying why it must not be followed. `start` is
 * the configured URL: its host is vouched for.
 */
export function nextHop(hop: Hop, status: number, location: string, start: URL, policy: RedirectPolicy): Hop {
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch {
    throw refused(hop.url, JSON.stringify(location), 'the Location is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw refused(hop.url, url, 'only http and https are followed');
  if (hop.url.protocol === 'https:' && url.protocol === 'http:' && !policy.allowInsecure) {
    throw refused(hop.url, url, 'it leaves https for plain http (set allowInsecureRedirects: true to follow it)');
  }
  const host = bareHost(url.hostname);
  const vouched = host === bareHost(start.hostname) || (policy.hosts !== undefined && listed(host, policy.hosts));
  if (!vouched && policy.hosts !== undefined) throw refused(hop.url, url, `${host} is not in redirectHosts`);
  if (!vouched && isSensitiveAddress(host)) {
    throw refused(
      hop.url,
      url,
      `${host} is a link-local or cloud metadata address (list it in redirectHosts to allow it)`,
    );
  }

  // As browsers do: 303 turns anything but HEAD into GET, 301/302 turn a POST into GET.
  const becomesGet =
    (status === 303 && hop.method !== 'GET' && hop.method !== 'HEAD') ||
    ((status === 301 || status === 302) && hop.method === 'POST');
  let next = becomesGet ? withoutBody(hop, 'GET') : { method: hop.method, headers: hop.headers, body: hop.body };
  // Another origin gets none of what was configured for this one; once dropped, it stays dropped.
  if (url.origin !== hop.url.origin) next = { method: next.method, headers: {}, body: undefined };
  return { url, ...next, unvouched: !vouched };
}

/**
 * A lookup that refuses a name resolving to a link-local or metadata address
 * for `url`. The address checked is the one connected to, so a name cannot
 * change its answer between the check and the connection.
 */
export function guardedLookup(lookup: LookupFunction, url: URL): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const addresses = typeof address === 'string' ? [address] : address.map((entry) => entry.address);
      const sensitive = addresses.find(isSensitiveAddress);
      if (sensitive === undefined) return callback(null, address, family);
      const failure = new ProbeFailure(
        'PROTOCOL',
        `redirect to ${url.href} refused: ${bareHost(url.hostname)} resolves to ${sensitive}, a link-local or cloud metadata address (list the host in redirectHosts to allow it)`,
      );
      callback(failure, address, family);
    });
  };
}
