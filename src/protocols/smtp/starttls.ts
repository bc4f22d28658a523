// An MX's STARTTLS from the outside: banner, EHLO, STARTTLS offered and taken, the certificate checked for the MX name.
import net from 'node:net';
import tls from 'node:tls';
import { ProbeFailure, classifyNetworkError } from '../../core/errors.ts';
import type { Clock } from '../../util/clock.ts';

/** An SMTP reply line is at most 512 bytes (RFC 5321 §4.5.3.1.5); a reply of more than 100 lines is not an SMTP server's. */
const MAX_LINE = 2048;
const MAX_LINES = 100;
/** Banner, EHLO and STARTTLS replies fit in a few KiB; a server that talks on and on is cut off. */
const MAX_DIALOG_BYTES = 64 * 1024;

export interface StarttlsResult {
  banner: string;
  bannerMs: number;
  ehloMs: number;
  /** Whether EHLO listed STARTTLS. */
  offered: boolean;
  /** Present when STARTTLS was offered and the handshake was tried. */
  tls?: {
    version: string | null;
    /** The certificate chains to a trusted CA and is valid for the MX name now. */
    valid: boolean;
    /** Why it is not (expired, wrong name, unknown issuer), as Node's TLS reports it. */
    problem?: string;
    validTo: number | undefined;
    subjectAltNames: string | undefined;
    handshakeMs: number;
  };
}

/** Reads SMTP replies (multi-line `250-...`, last `250 ...`) from a socket, bounded. */
class ReplyReader {
  private buffer = '';
  private received = 0;
  private waiting: ((reply: string[]) => void) | undefined;
  private failed: ((error: Error) => void) | undefined;
  private lines: string[] = [];
  private readonly replies: string[][] = [];

  constructor(socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.take(chunk, socket));
  }

  private take(chunk: string, socket: net.Socket): void {
    this.received += chunk.length;
    if (this.received > MAX_DIALOG_BYTES)
      return this.fail(socket, `the server sent over ${MAX_DIALOG_BYTES} bytes before TLS`);
    this.buffer += chunk;
    // A cursor, not a slice per line: a chunk of many short lines is read in one pass.
    let start = 0;
    let end: number;
    while ((end = this.buffer.indexOf('\n', start)) >= 0) {
      const line = this.buffer.slice(start, end).replace(/\r$/, '');
      start = end + 1;
      this.lines.push(line);
      if (this.lines.length > MAX_LINES) return this.fail(socket, `a reply of more than ${MAX_LINES} lines`);
      if (!/^\d{3}[ -]/.test(line) && !/^\d{3}$/.test(line))
        return this.fail(socket, `not an SMTP reply: "${line.slice(0, 80)}"`);
      if (line[3] !== '-') {
        this.replies.push(this.lines);
        this.lines = [];
      }
    }
    this.buffer = this.buffer.slice(start);
    if (this.buffer.length > MAX_LINE) return this.fail(socket, `a reply line over ${MAX_LINE} bytes`);
    this.deliver();
  }

  private fail(socket: net.Socket, why: string): void {
    socket.destroy();
    this.failed?.(new ProbeFailure('PROTOCOL', why));
  }

  private deliver(): void {
    const reply = this.replies.shift();
    if (reply && this.waiting) {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting(reply);
    } else if (reply) this.replies.unshift(reply);
  }

  next(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.deliver();
    });
  }
}

function expect(reply: string[], code: string, step: string): void {
  if (!reply[0]?.startsWith(code))
    throw new ProbeFailure('PROTOCOL', `${step}: the server answered "${reply.join(' ').slice(0, 200)}"`);
}

/** Runs `work` on a socket that the signal, a close or an error ends with a failure. */
async function withSocket<T>(socket: net.Socket, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const ended = new Promise<never>((_, reject) => {
    const fail = (error: unknown) => reject(classifyNetworkError(error, signal));
    socket.once('error', fail);
    socket.once('close', () => reject(new ProbeFailure('PROTOCOL', 'the server closed the connection')));
    signal.addEventListener('abort', () => fail(signal.reason), { once: true });
  });
  ended.catch(() => undefined);
  try {
    return await Promise.race([work(), ended]);
  } finally {
    socket.destroy();
  }
}

/** OpenSSL's verification codes, in words. */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate is in the chain',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its issuer is not a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its issuer is not a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'its issuer is not a trusted CA',
};

function tlsOutcome(
  secure: tls.TLSSocket,
  host: string,
  started: number,
  clock: Clock,
): NonNullable<StarttlsResult['tls']> {
  const certificate = secure.getPeerCertificate();
  const validTo = certificate.valid_to ? Date.parse(certificate.valid_to) : undefined;
  // rejectUnauthorized is off so that the certificate can be reported: the name is checked here as Node would.
  const nameError = tls.checkServerIdentity(host, certificate);
  // Typed as always there, but undefined on a trusted connection.
  const rejection = secure.authorizationError as Error | undefined;
  const code = rejection ? String(rejection) : undefined;
  const chainProblem = code && code !== 'ERR_TLS_CERT_ALTNAME_INVALID' ? (VERIFY_ERRORS[code] ?? code) : undefined;
  const problem = chainProblem ?? nameError?.message;
  return {
    version: secure.getProtocol(),
    valid: problem === undefined,
    ...(problem ? { problem } : {}),
    validTo,
    subjectAltNames: certificate.subjectaltname,
    handshakeMs: clock.monotonic() - started,
  };
}

/**
 * Connects to `address:port`, reads the banner, says EHLO, and when STARTTLS is offered takes it and checks
 * the certificate against `host` (the MX name) and the trusted CAs (`ca`, else the system's). Ends with QUIT.
 */
export async function checkStarttls(options: {
  host: string;
  address: string;
  port: number;
  helo: string;
  ca?: string;
  signal: AbortSignal;
  clock: Clock;
}): Promise<StarttlsResult> {
  const { clock, signal } = options;
  signal.throwIfAborted();
  const started = clock.monotonic();
  const socket = net.connect({ host: options.address, port: options.port });
  return withSocket(socket, signal, async () => {
    const reader = new ReplyReader(socket);
    const banner = await reader.next();
    expect(banner, '220', 'banner');
    const bannerMs = clock.monotonic() - started;
    const ehloAt = clock.monotonic();
    socket.write(`EHLO ${options.helo}\r\n`);
    const ehlo = await reader.next();
    expect(ehlo, '250', 'EHLO');
    const ehloMs = clock.monotonic() - ehloAt;
    const offered = ehlo.slice(1).some((line) => /^250[ -]STARTTLS\b/i.test(line));
    const result: StarttlsResult = { banner: banner.join(' ').slice(4, 200), bannerMs, ehloMs, offered };
    if (!offered) {
      socket.write('QUIT\r\n');
      return result;
    }
    socket.write('STARTTLS\r\n');
    expect(await reader.next(), '220', 'STARTTLS');
    socket.removeAllListeners('data');
    const handshakeAt = clock.monotonic();
    const secure = tls.connect({
      socket,
      servername: options.host,
      rejectUnauthorized: false,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', (error: Error) => reject(new ProbeFailure('TLS', `TLS handshake: ${error.message}`)));
    });
    const outcome = tlsOutcome(secure, options.host, handshakeAt, clock);
    secure.end('QUIT\r\n');
    return { ...result, tls: outcome };
  });
}
