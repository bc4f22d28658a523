import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { ProbeMetrics } from './metrics.ts';
import { Router, sendError, sendJson } from './router.ts';
import { registerProbeApi } from './probe-api.ts';

export interface DaemonServerOptions {
  listen: string;
  token?: string;
  store: Store;
  metrics: ProbeMetrics;
  logger: Logger;
  /** Whether the daemon is ready (store open, schedules started). */
  isReady(): boolean;
}

export interface DaemonServer {
  server: Server;
  router: Router;
  url: string;
  close(): Promise<void>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function splitListen(listen: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!match) throw new Error(`bad listen address ${listen}`);
  return { host: match[1] ?? '127.0.0.1', port: Number(match[2]) };
}

/** The daemon's HTTP side: /health, /ready, /metrics, the JSON API (and whatever later parts add to the router). */
export async function startDaemonServer(options: DaemonServerOptions): Promise<DaemonServer> {
  const router = new Router();
  router.add('GET', '/health', ({ res }) => sendJson(res, 200, { status: 'ok' }), { public: true });
  router.add('GET', '/ready', ({ res }) => (options.isReady() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'starting' })), { public: true });
  router.add('GET', '/metrics', async ({ res }) => {
    const body = await options.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': options.metrics.registry.contentType });
    res.end(body);
  });
  registerProbeApi(router, options.store);

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://scaiprobe');
    const matched = router.match(req.method ?? 'GET', url.pathname);
    if (matched === undefined) return sendError(res, 404, `no such endpoint: ${url.pathname}`);
    if (matched === 'method-not-allowed') return sendError(res, 405, `${req.method} is not allowed on ${url.pathname}`);
    if (options.token && !matched.route.isPublic && !tokenMatches(req.headers.authorization, options.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendError(res, 401, 'a bearer token is required');
    }
    try {
      await matched.route.handler({ req, res, url, params: matched.params });
    } catch (error) {
      options.logger.error({ err: error, path: url.pathname }, 'API request failed');
      if (!res.headersSent) sendError(res, 500, 'internal error');
      else res.destroy();
    }
  });
  const { host, port } = splitListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return {
    server,
    router,
    url,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
