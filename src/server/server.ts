// The daemon's HTTP side: request hygiene (targets, Host, bodies, slow clients), authentication, routing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Store } from '../store/repositories.ts';
import type { ProbeMetrics } from './metrics.ts';
import { Router, SECURITY_HEADERS, sendError, type RouteMatch } from './router.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerProbeRoutes } from './routes/probes.ts';
import { authorize, hostAllowed, isLoopbackHost, principalOf, type AccessPolicy } from './access.ts';

export interface ServerLimits {
  /** Time a client has to send its request line and headers (slowloris). */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request. */
  requestTimeoutMs: number;
  /** A connection with no traffic either way is closed after this long (the event stream writes every 25 s). */
  idleTimeoutMs: number;
  /** Open connections at most; more are refused by the kernel's backlog handling. */
  maxConnections: number;
  /** Request header block at most (Node answers 431 beyond). */
  maxHeaderBytes: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxConnections: 1000,
  maxHeaderBytes: 16 * 1024,
};

/** Bodies are for the few routes that read one (and take less); one that announces more than this is refused outright. */
const MAX_IGNORED_BODY_BYTES = 64 * 1024;

export interface DaemonServerOptions {
  listen: string;
  token?: string;
  /** Tenant report tokens → tenant id. */
  tenantTokens?: ReadonlyMap<string, string>;
  public?: boolean;
  allowedHosts?: readonly string[];
  limits?: Partial<ServerLimits>;
  store: Store;
  metrics: ProbeMetrics;
  logger: Logger;
  /** Whether the daemon is ready (store open, schedules started). */
  isReady(): boolean;
  /** What keeps a started daemon from doing its work (`database: disk full`); any makes /ready answer 503 with them. */
  problems?(): string[];
}

export interface DaemonServer {
  server: Server;
  router: Router;
  url: string;
  close(): Promise<void>;
}

export function splitListen(listen: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!match) throw new Error(`bad listen address ${listen}`);
  return { host: match[1] ?? '127.0.0.1', port: Number(match[2]) };
}

/**
 * The request target as a URL, or undefined when it is not a path. Absolute
 * forms (`GET http://x/ HTTP/1.1`) are proxy requests this server does not take,
 * and `//host/path` must stay a path, not become another host.
 */
export function requestUrl(target: string | undefined): URL | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  try {
    return new URL(`http://scaiprobe${target}`);
  } catch {
    return undefined;
  }
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

function declaredLength(req: IncomingMessage): number {
  const value = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(value) ? value : Number.POSITIVE_INFINITY;
}

/** Everything before the handler: a request that fails here is answered without touching a route. */
function screen(
  req: IncomingMessage,
  res: ServerResponse,
  router: Router,
  policy: AccessPolicy,
): { url: URL; matched: Exclude<RouteMatch, 'method-not-allowed' | 'bad-encoding' | undefined> } | undefined {
  const hostCheck = hostAllowed(req.headers, policy);
  if (hostCheck === 'malformed') {
    sendError(res, 400, 'the Host header is not a host name');
    return;
  }
  if (!hostCheck) {
    sendError(
      res,
      421,
      `this daemon does not answer to Host "${req.headers.host}"; add the name to server.allowedHosts`,
    );
    return;
  }
  const url = requestUrl(req.url);
  if (!url) {
    sendError(res, 400, 'the request target must be a path such as /api/v1/probes');
    return;
  }
  if (declaredLength(req) > MAX_IGNORED_BODY_BYTES) {
    sendError(res, 413, 'request bodies are not taken here', { connection: 'close' });
    return;
  }
  const matched = router.match(req.method ?? 'GET', url.pathname);
  if (matched === 'bad-encoding') {
    sendError(res, 400, 'the path has a malformed %-encoding');
    return;
  }
  if (matched === undefined) {
    sendError(res, 404, `no such endpoint: ${url.pathname}`);
    return;
  }
  if (matched === 'method-not-allowed') {
    sendError(res, 405, `${req.method} is not allowed on ${url.pathname}`);
    return;
  }
  return { url, matched };
}

async function handle(req: IncomingMessage, res: ServerResponse, router: Router, policy: AccessPolicy): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  // A body is not drained into the void (nor kept alive after a route that reads one): the connection ends with the answer.
  if (hasBody(req)) res.setHeader('connection', 'close');
  const screened = screen(req, res, router, policy);
  if (!screened) return;
  const { url, matched } = screened;
  const principal = principalOf(req.headers, policy);
  const denial = authorize(principal, matched.route.access, policy);
  if (denial || !principal) {
    if (denial?.status === 401) res.setHeader('www-authenticate', 'Bearer');
    sendError(res, denial?.status ?? 401, denial?.message ?? 'the bearer token is not valid');
    return;
  }
  await matched.route.handler({ req, res, url, params: matched.params, principal });
}

function answerClientError(error: Error & { code?: string }, socket: Socket, logger: Logger): void {
  logger.debug({ err: error }, 'malformed request');
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? 413
          : 400;
  const reason = {
    400: 'Bad Request',
    408: 'Request Timeout',
    413: 'Content Too Large',
    431: 'Request Header Fields Too Large',
  }[status];
  const body = JSON.stringify({ error: reason });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
}

/** The daemon's HTTP side: /health, /ready, /metrics, the JSON API (and whatever later parts add to the router). */
export async function startDaemonServer(options: DaemonServerOptions): Promise<DaemonServer> {
  const { host, port } = splitListen(options.listen);
  const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const policy: AccessPolicy = {
    ...(options.token ? { adminToken: options.token } : {}),
    tenantTokens: options.tenantTokens ?? new Map(),
    public: options.public ?? false,
    allowedHosts: options.allowedHosts ?? [],
    loopbackOnly: isLoopbackHost(host),
  };
  const router = new Router();
  registerHealthRoutes(router, options);
  registerProbeRoutes(router, options.store);

  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // Node checks the two timeouts above on this interval (30 s by default).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 2)),
    },
    (req, res) => {
      handle(req, res, router, policy).catch((error: unknown) => {
        options.logger.error({ err: error, path: req.url?.slice(0, 200) }, 'API request failed');
        if (!res.headersSent) sendError(res, 500, 'internal error');
        else res.destroy();
      });
    },
  );
  server.keepAliveTimeout = 5_000;
  server.timeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.maxHeadersCount = 200;
  server.on('clientError', (error: Error & { code?: string }, socket: Socket) =>
    answerClientError(error, socket, options.logger),
  );
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
