// Who may talk to the daemon: Host names it answers to (DNS rebinding), bearer tokens and what each may read.
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Principal, RouteAccess } from './router.ts';

export interface AccessPolicy {
  /** `server.token`: the admin token. Without it the daemon is open, which the config allows on loopback only. */
  adminToken?: string;
  /** Tenant report tokens (`reports.tenants.<id>.token`) → tenant id. */
  tenantTokens: ReadonlyMap<string, string>;
  /** `server.public`: the status page and its data are readable without a token. */
  public: boolean;
  /** Host names (besides IP literals and localhost) the daemon answers to. */
  allowedHosts: readonly string[];
  /** Whether the daemon listens on loopback only (an open daemon is only ever loopback). */
  loopbackOnly: boolean;
}

export type Denial = { status: 401 | 403; message: string };

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.']);

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (LOOPBACK_NAMES.has(bare)) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^(0{0,4}:){5}ffff:127\./.test(bare) || /^::ffff:127\./.test(bare);
  return false;
}

/** The host part of a `Host` header (`name`, `name:port`, `[v6]:port`), lower case; undefined when it is not one. */
export function hostOfHeader(value: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s/@]+))(?::(\d{1,5}))?$/.exec(value);
  if (!match) return undefined;
  const host = (match[1] ?? match[2] ?? '').toLowerCase();
  if (match[1] !== undefined && isIP(host) !== 6) return undefined;
  return host === '' ? undefined : host;
}

/**
 * A page the operator visits can point its own DNS name at 127.0.0.1 and
 * read the API from the browser (DNS rebinding). Such a request carries the
 * attacker's name in `Host`: only IP literals, localhost and the configured
 * names are answered. A missing Host (HTTP/1.0 tools) cannot come from a browser.
 */
export function hostAllowed(
  headers: IncomingHttpHeaders,
  policy: Pick<AccessPolicy, 'allowedHosts'>,
): boolean | 'malformed' {
  const header = headers.host;
  if (header === undefined) return true;
  const host = hostOfHeader(header);
  if (host === undefined) return 'malformed';
  if (isIP(host) !== 0 || LOOPBACK_NAMES.has(host)) return true;
  const bare = host.endsWith('.') ? host.slice(0, -1) : host;
  return policy.allowedHosts.some((allowed) => allowed.toLowerCase() === bare);
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The bearer token of a request, or undefined when there is none; `''` for a malformed Authorization header. */
export function bearerOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header === undefined) return undefined;
  return /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)?.[1] ?? '';
}

/** Whom a request speaks for; a token that matches nothing is `undefined` (always 401). */
export function principalOf(headers: IncomingHttpHeaders, policy: AccessPolicy): Principal | undefined {
  const given = bearerOf(headers);
  if (given === undefined) return !policy.adminToken && policy.loopbackOnly ? { role: 'admin' } : { role: 'anonymous' };
  if (policy.adminToken && same(given, policy.adminToken)) return { role: 'admin' };
  // Every tenant token is compared, so the time taken does not tell which one came close.
  let tenant: string | undefined;
  for (const [token, id] of policy.tenantTokens) if (same(given, token)) tenant = id;
  if (tenant !== undefined) return { role: 'tenant', tenant };
  if (!policy.adminToken && policy.loopbackOnly && policy.tenantTokens.size === 0) return { role: 'admin' };
  return undefined;
}

/** Whether a principal may call a route of the given access; a denial says why. */
export function authorize(
  principal: Principal | undefined,
  access: RouteAccess,
  policy: AccessPolicy,
): Denial | undefined {
  if (access === 'public') return undefined;
  if (principal === undefined) return { status: 401, message: 'the bearer token is not valid' };
  if (principal.role === 'admin') return undefined;
  if (access === 'status' && (principal.role === 'tenant' || policy.public)) return undefined;
  if (access === 'tenant' && principal.role === 'tenant') return undefined;
  if (principal.role === 'tenant')
    return {
      status: 403,
      message: "a tenant token reads only its own tenant's probes, runs, events, indicators and report",
    };
  if (!policy.adminToken)
    return { status: 403, message: 'the API is closed: this daemon listens beyond loopback without server.token' };
  return { status: 401, message: 'a bearer token is required' };
}
