// PostgreSQL errors that are conditions of the server or the connection (away, full, read-only), not of what was written.

/** SQLSTATE classes and codes of the server's condition: the same write can succeed once they pass. */
const CONDITION_CODES: Array<[RegExp, string]> = [
  [/^08/, 'connection lost'],
  [/^53100$/, 'disk full'],
  [/^53/, 'out of resources'],
  [/^57P0[1-3]$/, 'shutting down or starting up'],
  [/^25006$/, 'read-only'],
  [/^40001$|^40P01$/, 'busy (serialization failure or deadlock)'],
  [/^58/, 'I/O error'],
];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
const NETWORK_MESSAGES = /Connection terminated|connection timeout|Client has encountered a connection error/i;

/** The server's or the connection's condition in a few words; undefined for an error about what was written. */
export function postgresCondition(error: unknown): string | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return `unreachable (${code})`;
    for (const [pattern, words] of CONDITION_CODES) if (pattern.test(code)) return words;
  }
  if (typeof message === 'string' && NETWORK_MESSAGES.test(message)) return `unreachable (${message})`;
  return undefined;
}
