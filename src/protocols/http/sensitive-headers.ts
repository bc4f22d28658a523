// Response headers never kept: credentials, cookies and one-client challenges.
/**
 * Response headers that carry credentials or one-client challenges: session
 * cookies, echoed authorization, authentication challenges (their nonces and
 * Negotiate tokens). A probe never keeps their values: observations are
 * stored, served by the API and shown on the status page.
 */
export const SENSITIVE_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'set-cookie',
  'set-cookie2',
  'cookie',
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
  'authentication-info',
  'proxy-authentication-info',
]);

export function isSensitiveResponseHeader(name: string): boolean {
  return SENSITIVE_RESPONSE_HEADERS.has(name.toLowerCase());
}
