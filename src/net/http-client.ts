import net from 'node:net';
import tls from 'node:tls';
import dns from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { Client, type Dispatcher } from 'undici';
import { classifyNetworkError, ProbeFailure } from './errors.ts';
import { guardedLookup, nextHop, type Hop, type RedirectPolicy } from './redirects.ts';
import { contextTrusting } from './tls-policy.ts';

export interface TlsOptions {
  /** Skip certificate verification (the certificate is still read and reported). */
  insecure?: boolean;
  /** Extra CA certificates (PEM). */
  ca?: string;
  servername?: string;
}

export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
  /** How many redirects to follow (0 = none). */
  maxRedirects?: number;
  /** Where a followed redirect may lead; `headers` and `body` never cross to another origin whatever it says. */
  redirects?: RedirectPolicy;
  tls?: TlsOptions;
  /** Bodies larger than this are cut (the response is still measured). Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface HttpTimings {
  /** Milliseconds spent in each phase of the last hop; absent phases were not needed (IP literal, plain HTTP, reused socket). */
  dns?: number;
  connect?: number;
  tls?: number;
  firstByte: number;
  total: number;
}

export interface PeerCertificate {
  subject: string;
  issuer: string;
  validTo: string;
  daysLeft: number;
  authorized: boolean;
  authorizationError?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  bodyTruncated: boolean;
  timings: HttpTimings;
  /** URLs visited, the first being the request's. */
  hops: string[];
  url: string;
  certificate?: PeerCertificate;
}

/**
 * The HTTP client passed to every probe. Throws ProbeFailure (with an error
 * code) when no response could be had, or when a redirect was refused
 * (PROTOCOL).
 */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * Pays the process's one-time costs (module loading, JIT, the HTTP parser)
   * against a throwaway loopback server, so the first probe's latency is the
   * target's and not scaiprobe's own start-up.
   */
  warmUp?(): Promise<void>;
}

interface ConnectionTrace {
  start: number;
  lookupAt?: number;
  connectAt?: number;
  secureAt?: number;
  certificate?: PeerCertificate;
}

function describeCertificate(socket: tls.TLSSocket, now: number): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const validTo = new Date(cert.valid_to).getTime();
  const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined;
  return {
    subject: [cert.subject?.CN ?? ''].flat().join(', '),
    issuer: [cert.issuer?.CN ?? ''].flat().join(', '),
    validTo: new Date(validTo).toISOString(),
    daysLeft: Math.floor((validTo - now) / 86_400_000),
    authorized: socket.authorized,
    ...(authorizationError ? { authorizationError } : {}),
  };
}

/**
 * A connector that times DNS, TCP connect and TLS on a fresh socket, so a
 * probe sees the same phases a new client would. `lookup` resolves the host
 * name (it may refuse the address).
 */
function tracingConnector(trace: ConnectionTrace, tlsOptions: TlsOptions | undefined, lookup: LookupFunction, signal: AbortSignal): Client.Options['connect'] {
  // Built before the connection's phases are timed (it parses every trusted root).
  const secureContext = tlsOptions?.ca ? contextTrusting(tlsOptions.ca) : undefined;
  return (options, callback) => {
    trace.start = performance.now();
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    const host = options.hostname.replace(/^\[|\]$/g, '');
    let socket: net.Socket;
    if (options.protocol === 'https:') {
      const tlsSocket = tls.connect({
        host,
        port,
        lookup,
        servername: tlsOptions?.servername ?? (net.isIP(host) ? undefined : host),
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
        ...(secureContext ? { secureContext } : {}),
      });
      socket = tlsSocket;
      tlsSocket.once('secureConnect', () => {
        trace.secureAt = performance.now();
        trace.certificate = describeCertificate(tlsSocket, Date.now());
        if (!tlsSocket.authorized && !tlsOptions?.insecure) {
          const reason = String(tlsSocket.authorizationError ?? 'certificate not trusted');
          const error = Object.assign(new Error(`TLS certificate rejected: ${reason}`), { code: reason });
          tlsSocket.destroy();
          callback(error, null);
          return;
        }
        callback(null, tlsSocket);
      });
    } else {
      socket = net.connect({ host, port, lookup });
      socket.once('connect', () => callback(null, socket));
    }
    // undici does not give up a connection attempt when the request is aborted: a connect or TLS handshake that hangs is ended here.
    const abandon = () => socket.destroy(Object.assign(new Error('request aborted before the connection was ready'), { code: 'ABORT_ERR' }));
    if (signal.aborted) abandon();
    else {
      signal.addEventListener('abort', abandon, { once: true });
      socket.once(options.protocol === 'https:' ? 'secureConnect' : 'connect', () => signal.removeEventListener('abort', abandon));
      socket.once('close', () => signal.removeEventListener('abort', abandon));
    }
    socket.once('lookup', () => {
      trace.lookupAt = performance.now();
    });
    socket.once('connect', () => {
      trace.connectAt = performance.now();
    });
    socket.once('error', (error) => callback(error, null));
  };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

async function readBody(body: Dispatcher.ResponseData['body'], limit: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size + buffer.length > limit) {
      chunks.push(buffer.subarray(0, limit - size));
      body.destroy();
      return { body: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buffer);
    size += buffer.length;
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

function phasesOf(trace: ConnectionTrace, firstByteAt: number, end: number, hopStart: number): HttpTimings {
  const timings: HttpTimings = { firstByte: firstByteAt - hopStart, total: end - hopStart };
  const connectStart = trace.lookupAt ?? trace.start;
  if (trace.lookupAt !== undefined) timings.dns = trace.lookupAt - trace.start;
  if (trace.connectAt !== undefined) timings.connect = trace.connectAt - connectStart;
  if (trace.secureAt !== undefined && trace.connectAt !== undefined) timings.tls = trace.secureAt - trace.connectAt;
  return timings;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The TLS options for `hop`: a configured server name is the configured host's, not another host's. */
function tlsFor(req: HttpRequest, hop: Hop, start: URL): TlsOptions | undefined {
  if (!req.tls?.servername || hop.url.hostname === start.hostname) return req.tls;
  const { servername: _otherHostsName, ...rest } = req.tls;
  return rest;
}

/** Where a request was when its deadline came: a timeout says which phase did not finish. */
function phaseAt(trace: ConnectionTrace, target: URL, firstByteAt: number | undefined): string {
  if (trace.connectAt === undefined) return `connecting to ${target.host}`;
  if (target.protocol === 'https:' && trace.secureAt === undefined) return `in the TLS handshake with ${target.host}`;
  if (firstByteAt === undefined) return `waiting for the first byte from ${target.host}`;
  return `reading the body from ${target.host}`;
}

/** One request on a fresh connection; redirects are followed by the caller. */
async function requestOnce(req: HttpRequest, hop: Hop, tlsOptions: TlsOptions | undefined, lookup: LookupFunction) {
  const trace: ConnectionTrace = { start: performance.now() };
  // One single-connection client per hop: a fresh connection whose phases are this request's own.
  const target = hop.url;
  const connect = tracingConnector(trace, tlsOptions, hop.unvouched ? guardedLookup(lookup, target) : lookup, req.signal);
  const client = new Client(target.origin, { connect, pipelining: 0 });
  const hopStart = performance.now();
  let firstByteAt: number | undefined;
  try {
    const response = await client.request({
      path: `${target.pathname}${target.search}`,
      method: hop.method as Dispatcher.HttpMethod,
      headers: hop.headers,
      body: hop.body,
      signal: req.signal,
    });
    firstByteAt = performance.now();
    const { body: payload, truncated } = await readBody(response.body, req.maxBodyBytes ?? 1024 * 1024);
    const end = performance.now();
    return {
      status: response.statusCode,
      headers: flattenHeaders(response.headers),
      body: payload,
      truncated,
      timings: phasesOf(trace, firstByteAt, end, hopStart),
      certificate: trace.certificate,
    };
  } catch (error) {
    const failure = classifyNetworkError(error, req.signal);
    if (failure.code !== 'TIMEOUT') throw failure;
    throw new ProbeFailure('TIMEOUT', `${failure.message} (${phaseAt(trace, target, firstByteAt)})`, { cause: error });
  } finally {
    client.destroy().catch(() => undefined);
  }
}

export interface HttpClientOptions {
  /** Resolves host names; node's resolver (getaddrinfo) by default. */
  lookup?: LookupFunction;
}

/** The real client: undici on fresh, traced connections. */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const lookup = options.lookup ?? (dns.lookup as LookupFunction);
  const client: HttpClient = {
    async warmUp() {
      const server = createServer((_req, res) => res.end('{}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        for (let i = 0; i < 3; i++) await client.request({ url: `http://127.0.0.1:${port}/`, signal: AbortSignal.timeout(5000) });
      } catch {
        /* warming up is best effort */
      } finally {
        server.close();
      }
    },
    async request(req) {
      const started = performance.now();
      // The configured URL as written (what the probe reports), then each hop's.
      const hops = [req.url];
      try {
        const start = new URL(req.url);
        let hop: Hop = { url: start, method: req.method ?? 'GET', headers: req.headers ?? {}, body: req.body, unvouched: false };
        for (;;) {
          const answer = await requestOnce(req, hop, tlsFor(req, hop, start), lookup);
          const location = answer.headers.location;
          if (REDIRECT_STATUSES.has(answer.status) && location && hops.length <= (req.maxRedirects ?? 0)) {
            hop = nextHop(hop, answer.status, location, start, req.redirects ?? {});
            hops.push(hop.url.href);
            continue;
          }
          return {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            bodyTruncated: answer.truncated,
            timings: { ...answer.timings, total: performance.now() - started },
            hops,
            url: hops[hops.length - 1] ?? req.url,
            ...(answer.certificate ? { certificate: answer.certificate } : {}),
          };
        }
      } catch (error) {
        throw classifyNetworkError(error, req.signal);
      }
    },
  };
  return client;
}

export { ProbeFailure };
