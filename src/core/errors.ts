// ProbeFailure, the error probes throw, and the network errors it is made from.
import type { ErrorCode, ProbeError } from './probe.ts';

/** Thrown inside probes and helpers when a measurement is impossible; the runner turns it into a ProbeError. */
export class ProbeFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProbeFailure';
  }

  toProbeError(): ProbeError {
    return { code: this.code, message: this.message };
  }
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'ENODATA']);
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ETIMEDOUT',
  'EADDRNOTAVAIL',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const TLS_PATTERN = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS/i;
const PROTOCOL_CODES = new Set([
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_STATUS',
  'HPE_INVALID_HEADER_TOKEN',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
]);

function codeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_ABORTED') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return '';
}

function messageOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && message && !parts.includes(message)) parts.push(message);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(error);
}

/** Maps a thrown network error to the probe error codes; an abort of `signal` is a TIMEOUT. */
export function classifyNetworkError(error: unknown, signal?: AbortSignal): ProbeFailure {
  if (error instanceof ProbeFailure) return error;
  if (signal?.aborted) {
    const reason = signal.reason instanceof ProbeFailure ? signal.reason : undefined;
    return reason ?? new ProbeFailure('TIMEOUT', 'timed out before the target answered', { cause: error });
  }
  const code = codeOf(error);
  const message = messageOf(error);
  if (DNS_CODES.has(code)) return new ProbeFailure('DNS', `name lookup failed: ${message}`, { cause: error });
  if (TLS_PATTERN.test(code) || /certificate|TLS/i.test(message))
    return new ProbeFailure('TLS', message, { cause: error });
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
    return new ProbeFailure('CONNECT', `connection reset: ${message}`, { cause: error });
  if (CONNECT_CODES.has(code)) return new ProbeFailure('CONNECT', message, { cause: error });
  // undici's HTTPParserError carries no code when a chunked body ends early ("Invalid EOF state").
  if (PROTOCOL_CODES.has(code) || code.startsWith('HPE_') || (error as { name?: string }).name === 'HTTPParserError')
    return new ProbeFailure('PROTOCOL', `malformed response: ${message}`, { cause: error });
  if (code === 'ABORT_ERR' || (error as { name?: string }).name === 'AbortError') {
    return new ProbeFailure('TIMEOUT', 'timed out before the target answered', { cause: error });
  }
  return new ProbeFailure('INTERNAL', message, { cause: error });
}
