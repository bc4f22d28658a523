// The daemon's router: routes by method and path, access by token, and JSON answers.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Who is asking: the admin token (or an open loopback daemon), one tenant's token, or nobody. */
export type Principal = { role: 'admin' } | { role: 'tenant'; tenant: string } | { role: 'anonymous' };

/**
 * Who may call a route:
 * - `public`: anyone (health checks, the status page shell);
 * - `status`: the status page's data; anyone when `server.public` is set, tenants see their own probes;
 * - `tenant`: the admin, or a tenant token reading its own tenant (the handler scopes it);
 * - `admin`: the admin only.
 */
export type RouteAccess = 'public' | 'status' | 'tenant' | 'admin';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  principal: Principal;
}
export type RouteHandler = (ctx: RouteContext) => void | Promise<void>;

export interface Route {
  method: string;
  parts: string[];
  handler: RouteHandler;
  access: RouteAccess;
}

export type RouteMatch =
  { route: Route; params: Record<string, string> } | 'method-not-allowed' | 'bad-encoding' | undefined;

/** `decodeURIComponent` without the throw: a malformed `%` sequence is a client error, not ours. */
function decodePart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** Method + path-pattern routing (`/api/v1/probes/:name/runs`), nothing more. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler, options: { access?: RouteAccess } = {}): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler, access: options.access ?? 'admin' });
  }

  match(method: string, pathname: string): RouteMatch {
    const parts: string[] = [];
    for (const raw of pathname.split('/')) {
      if (raw === '') continue;
      const part = decodePart(raw);
      if (part === undefined) return 'bad-encoding';
      parts.push(part);
    }
    let pathMatched = false;
    for (const route of this.routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.parts.every((part, i) => {
        const actual = parts[i] ?? '';
        if (part.startsWith(':')) {
          params[part.slice(1)] = actual;
          return true;
        }
        return part === actual;
      });
      if (!ok) continue;
      pathMatched = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
    }
    return pathMatched ? 'method-not-allowed' : undefined;
  }
}

/** Headers every answer of the daemon carries: nothing it serves may be sniffed into another type or framed. */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: message }, headers);
}

/**
 * The tenant a request may read: the admin reads the one it names (or all,
 * `undefined`); a tenant reads its own, and naming another is `forbidden`.
 */
export function tenantScope(principal: Principal, requested: string | null | undefined): string | undefined {
  const asked = requested === null || requested === '' ? undefined : requested;
  if (principal.role !== 'tenant') return asked;
  if (asked !== undefined && asked !== principal.tenant) return 'forbidden';
  return principal.tenant;
}

/** Whether a principal may read something that belongs to `tenant` (null: the operator's own probes). */
export function mayRead(principal: Principal, tenant: string | null | undefined): boolean {
  return principal.role !== 'tenant' || principal.tenant === tenant;
}
