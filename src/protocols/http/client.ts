// The HTTP client: node:http on fresh, traced connections, with timings, TLS details and redirects.
import net from 'node:net';
import tls from 'node:tls';
import dns from 'node:dns';
import { createServer, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { classifyNetworkError, ProbeFailure } from '../../core/errors.ts';
import { guardedLookup, nextHop, type Hop, type RedirectPolicy } from './redirects.ts';
import { contextTrusting } from '../tls/policy.ts';

export interface TlsOptions {
  /** Skip certificate verification (the certificate is still read and reported). */
  insecure?: boolean | undefined;
  /** Extra CA certificates (PEM). */
  ca?: string | undefined;
  servername?: string | undefined;
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
  /** The connection, destroyed by the request once it is done with it. */
  socket?: net.Socket;
  start: number;
  lookupAt?: number;
  connectAt?: number;
  secureAt?: number;
  certificate?: PeerCertificate | undefined;
}

function describeCertificate(socket: tls.TLSSocket, now: number): PeerCertificate | undefined {
  // Typed as always there, but null or {} when the peer sent none.
  const cert = socket.getPeerCertificate() as tls.PeerCertificate | null;
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const validTo = new Date(cert.valid_to).getTime();
  // Typed as always there, but undefined on a trusted connection.
  const rejection = socket.authorizationError as Error | undefined;
  const authorizationError = rejection ? String(rejection) : undefined;
  return {
    subject: [cert.subject.CN ?? ''].flat().join(', '),
    issuer: [cert.issuer.CN ?? ''].flat().join(', '),
    validTo: new Date(validTo).toISOString(),
    daysLeft: Math.floor((validTo - now) / 86_400_000),
    authorized: socket.authorized,
    ...(authorizationError ? { authorizationError } : {}),
  };
}

type Connector = (
  options: { protocol: string; hostname: string; port: string },
  callback: (error: Error | null, socket: net.Socket | null) => void,
) => void;

/**
 * A connector that times DNS, TCP connect and TLS on a fresh socket, so a
 * probe sees the same phases a new client would. `lookup` resolves the host
 * name (it may refuse the address).
 */
/**
 * The request has no socket to destroy until it is handed over: a connect or TLS handshake
 * that hangs is ended here, until the socket is ready.
 */
function abandonOnAbort(socket: net.Socket, ready: 'connect' | 'secureConnect', signal: AbortSignal): void {
  const abandon = () =>
    socket.destroy(Object.assign(new Error('request aborted before the connection was ready'), { code: 'ABORT_ERR' }));
  if (signal.aborted) {
    abandon();
    return;
  }
  signal.addEventListener('abort', abandon, { once: true });
  socket.once(ready, () => signal.removeEventListener('abort', abandon));
  socket.once('close', () => signal.removeEventListener('abort', abandon));
}

function tracingConnector(
  trace: ConnectionTrace,
  tlsOptions: TlsOptions | undefined,
  lookup: LookupFunction,
  signal: AbortSignal,
): Connector {
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
          const reason = String((tlsSocket.authorizationError as Error | undefined) ?? 'certificate not trusted');
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
    trace.socket = socket;
    abandonOnAbort(socket, options.protocol === 'https:' ? 'secureConnect' : 'connect', signal);
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

async function readBody(
  body: IncomingMessage,
  limit: number,
  received: { bytes: number },
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      if (size + buffer.length > limit) {
        chunks.push(buffer.subarray(0, limit - size));
        body.destroy();
        return { body: Buffer.concat(chunks), truncated: true };
      }
      chunks.push(buffer);
      size += buffer.length;
      received.bytes = size;
    }
  } catch (error) {
    throw bodyCut(body, size, error);
  }
  return { body: Buffer.concat(chunks), truncated: false };
}

/**
 * A body the connection ended inside of is the response's fault (PROTOCOL), not
 * the connection's: node:http reports it as ECONNRESET "aborted" whether the
 * peer reset or closed, so the framing the headers promised says what was wrong.
 */
function bodyCut(body: IncomingMessage, received: number, error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (code !== 'ECONNRESET' && (error as { message?: unknown }).message !== 'aborted') return error;
  const declared = body.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > received) {
    return new ProbeFailure(
      'PROTOCOL',
      `body length does not match Content-Length: the connection ended after ${received} of ${declared} bytes`,
      { cause: error },
    );
  }
  if (/chunked/i.test(body.headers['transfer-encoding'] ?? '')) {
    return new ProbeFailure(
      'PROTOCOL',
      `malformed response: the chunked body ended before its last chunk (after ${received} bytes)`,
      { cause: error },
    );
  }
  return error;
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

/** Headers, status and the body's first `limit` bytes of one response. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  truncated: boolean;
  timings: HttpTimings;
  certificate: PeerCertificate | undefined;
}

/**
 * One request on a fresh connection; redirects are followed by the caller.
 * node:http over the traced socket rather than an undici Client per request:
 * at thousands of probes a minute undici's per-client set-up and the errors it
 * builds to tear each connection down (their stacks mapped through source
 * maps) cost more than the request itself.
 */
async function requestOnce(
  req: HttpRequest,
  hop: Hop,
  tlsOptions: TlsOptions | undefined,
  lookup: LookupFunction,
): Promise<Answer> {
  const trace: ConnectionTrace = { start: performance.now() };
  const target = hop.url;
  const connect = tracingConnector(
    trace,
    tlsOptions,
    hop.unvouched ? guardedLookup(lookup, target) : lookup,
    req.signal,
  );
  const progress: { firstByteAt?: number } = {};
  try {
    return await exchange(req, hop, connect, trace, progress);
  } catch (error) {
    const failure = classifyNetworkError(error, req.signal);
    if (failure.code !== 'TIMEOUT') throw failure;
    throw new ProbeFailure('TIMEOUT', `${failure.message} (${phaseAt(trace, target, progress.firstByteAt)})`, {
      cause: error,
    });
  }
}

/** The request and its answer; the connection is destroyed (without an error) once it is done with. */
function exchange(
  req: HttpRequest,
  hop: Hop,
  connect: Connector,
  trace: ConnectionTrace,
  progress: { firstByteAt?: number },
): Promise<Answer> {
  const target = hop.url;
  const https = target.protocol === 'https:';
  const hopStart = performance.now();
  return new Promise<Answer>((resolve, reject) => {
    const request = httpRequest({
      protocol: 'http:',
      hostname: target.hostname,
      port: target.port || (https ? 443 : 80),
      defaultPort: https ? 443 : 80,
      path: `${target.pathname}${target.search}`,
      method: hop.method,
      headers: hop.headers,
      signal: req.signal,
      // The traced socket, handed over once connected (and, for https, once the certificate is judged).
      createConnection: (_options: unknown, created: (error: Error | null, socket: net.Socket) => void) => {
        connect({ protocol: target.protocol, hostname: target.hostname, port: target.port }, (error, socket) =>
          created(error, socket as net.Socket),
        );
        return undefined;
      },
    } as RequestOptions);
    let answered: IncomingMessage | undefined;
    const received = { bytes: 0 };
    // on, not once: a late error (an abort after the answer) must not go unhandled.
    request.on('error', (error) => {
      trace.socket?.destroy();
      // The socket's error can come before the body's: inside a body it is the body that was cut.
      reject(answered ? bodyCut(answered, received.bytes, error) : error);
    });
    request.once('response', (response) => {
      answered = response;
      const firstByteAt = performance.now();
      progress.firstByteAt = firstByteAt;
      readBody(response, req.maxBodyBytes ?? 1024 * 1024, received).then(
        ({ body, truncated }) => {
          const end = performance.now();
          trace.socket?.destroy();
          resolve({
            status: response.statusCode ?? 0,
            headers: flattenHeaders(response.headers),
            body,
            truncated,
            timings: phasesOf(trace, firstByteAt, end, hopStart),
            certificate: trace.certificate,
          });
        },
        (error: unknown) => {
          trace.socket?.destroy();
          reject(error);
        },
      );
    });
    request.end(hop.body);
  });
}

export interface HttpClientOptions {
  /** Resolves host names; node's resolver (getaddrinfo) by default. */
  lookup?: LookupFunction;
  /**
   * Headers sent with every request and every followed hop, as the client's own
   * (e.g. `X-Scaiprobe-Location` in a fleet): a header the request sets
   * itself, in any case, wins.
   */
  defaultHeaders?: Record<string, string>;
}

/** `headers` with each default they do not set themselves (names compared without case). */
function withDefaults(defaults: Record<string, string>, headers: Record<string, string>): Record<string, string> {
  const own = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  const added = Object.entries(defaults).filter(([name]) => !own.has(name.toLowerCase()));
  return added.length === 0 ? headers : { ...Object.fromEntries(added), ...headers };
}

/** The real client: node:http on fresh, traced connections. */
export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const lookup = options.lookup ?? dns.lookup;
  const defaults = options.defaultHeaders ?? {};
  const client: HttpClient = {
    async warmUp() {
      const server = createServer((_req, res) => res.end('{}'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        for (let i = 0; i < 3; i++)
          await client.request({ url: `http://127.0.0.1:${port}/`, signal: AbortSignal.timeout(5000) });
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
        let hop: Hop = {
          url: start,
          method: req.method ?? 'GET',
          headers: req.headers ?? {},
          body: req.body,
          unvouched: false,
        };
        for (;;) {
          // Added per hop: a redirect to another origin drops the request's headers, not the client's own.
          const sent = { ...hop, headers: withDefaults(defaults, hop.headers) };
          const answer = await requestOnce(req, sent, tlsFor(req, hop, start), lookup);
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
