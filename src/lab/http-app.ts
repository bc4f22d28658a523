// A tiny HTTP app for the lab's stand-ins: exact-path routes and the shared fault switches.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Faults a stand-in can be switched into while it runs (POST /__lab/faults
 * with a JSON object merges; DELETE /__lab/faults clears them all).
 */
export interface Faults {
  /** Readiness endpoints answer 503. */
  notReady?: boolean;
  /** A named readiness check fails with this reason, e.g. {"pdns": "connection refused"}. */
  failChecks?: Record<string, string>;
  /** Every non-control request answers this 5xx status. */
  status5xx?: number;
  /** Delay before answering, in milliseconds. */
  latencyMs?: number;
  /** Health answers are not valid JSON. */
  malformedJson?: boolean;
  /** Connections are reset instead of answered. */
  reset?: boolean;
  /** Requests from these fleet locations (their `X-Scaiprobe-Location` header) answer 503; other locations are served. */
  failLocations?: string[];
  /** Stand-in specific switches (mail routing, stats rates, tracking, ...). */
  [key: string]: unknown;
}

export interface LabRequest {
  req: IncomingMessage;
  url: URL;
  body: Buffer;
  faults: Faults;
}
export type LabHandler = (request: LabRequest, res: ServerResponse) => void | Promise<void>;

export interface LabApp {
  route(method: string, path: string, handler: LabHandler): void;
  faults: Faults;
  listen(port: number, host?: string): Promise<{ url: string; port: number }>;
  close(): Promise<void>;
  server: Server;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit = 32 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** /__lab/faults: DELETE clears the switches, POST or PUT sets those given (null clears one); answers with them all. */
function controlFaults(name: string, faults: Faults, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  if (req.method === 'DELETE') for (const key of Object.keys(faults)) delete faults[key];
  if (req.method === 'POST' || req.method === 'PUT') {
    try {
      Object.assign(faults, JSON.parse(body.toString() || '{}'));
    } catch {
      sendJson(res, 400, { error: 'body must be a JSON object of faults' });
      return;
    }
    for (const [key, value] of Object.entries(faults)) if (value === null) delete faults[key];
  }
  sendJson(res, 200, { service: name, faults });
}

/** The location a request says it comes from (`X-Scaiprobe-Location`), when the failLocations switch lists it. */
function failingLocation(req: IncomingMessage, faults: Faults): string | undefined {
  const location = req.headers['x-scaiprobe-location'];
  if (typeof location !== 'string' || !Array.isArray(faults.failLocations)) return undefined;
  return faults.failLocations.includes(location) ? location : undefined;
}

/** Answers with the failure a switch injects (status5xx, or failLocations for the request's location); false if none. */
function answeredByFault(req: IncomingMessage, res: ServerResponse, faults: Faults): boolean {
  if (typeof faults.status5xx === 'number') {
    sendJson(res, faults.status5xx, { error: 'injected failure' });
    return true;
  }
  const location = failingLocation(req, faults);
  if (location === undefined) return false;
  sendJson(res, 503, { error: `injected failure for location ${location}` });
  return true;
}

/** A tiny HTTP app for the lab's stand-ins: exact-path routes plus the shared fault switches. */
export function createLabApp(name: string): LabApp {
  const routes = new Map<string, LabHandler>();
  const faults: Faults = {};

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://lab');
      const body = await readBody(req);
      if (url.pathname === '/__lab/faults') {
        controlFaults(name, faults, req, res, body);
        return;
      }
      if (faults.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      if (typeof faults.latencyMs === 'number' && faults.latencyMs > 0)
        await new Promise((r) => setTimeout(r, faults.latencyMs));
      if (answeredByFault(req, res, faults)) return;
      const handler = routes.get(`${req.method} ${url.pathname}`);
      if (!handler) {
        sendJson(res, 404, { error: 'not found', path: url.pathname });
        return;
      }
      await handler({ req, url, body, faults }, res);
    } catch (error) {
      if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message });
      else res.destroy();
    }
  };
  const server = createServer((req, res) => void serve(req, res));
  server.keepAliveTimeout = 1000;

  return {
    faults,
    server,
    route(method, path, handler) {
      routes.set(`${method.toUpperCase()} ${path}`, handler);
    },
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const { port: bound } = server.address() as AddressInfo;
          resolve({ url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, port: bound });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

/** Writes a health answer, or deliberately broken JSON when the malformedJson fault is on. */
export function sendHealth(res: ServerResponse, faults: Faults, status: number, value: unknown): void {
  if (faults.malformedJson) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"status": "ok", "checks": {');
    return;
  }
  sendJson(res, status, value);
}
