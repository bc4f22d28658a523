import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}
export type RouteHandler = (ctx: RouteContext) => void | Promise<void>;

interface Route {
  method: string;
  parts: string[];
  handler: RouteHandler;
  /** Public routes skip the bearer token (health checks, the status page shell). */
  isPublic: boolean;
}

/** Method + path-pattern routing (`/api/v1/probes/:name/runs`), nothing more. */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: RouteHandler, options: { public?: boolean } = {}): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler, isPublic: options.public ?? false });
  }

  match(method: string, pathname: string): { route: Route; params: Record<string, string> } | 'method-not-allowed' | undefined {
    const parts = pathname.split('/').filter(Boolean).map((part) => decodeURIComponent(part));
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

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}
