// TLS policy: trusted CAs, loopback addresses, and when STARTTLS is required.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

/**
 * PEM certificates Node trusts by default: its bundled roots and those of
 * NODE_EXTRA_CA_CERTS (which Node adds only to contexts built without `ca`).
 */
function defaultCas(): string[] {
  const extraFile = process.env.NODE_EXTRA_CA_CERTS;
  let extra: string[] = [];
  try {
    if (extraFile)
      extra =
        readFileSync(extraFile, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  } catch {
    /* unreadable: Node itself started without it (with a warning) */
  }
  return [...tls.rootCertificates, ...extra];
}

/**
 * A secure context trusting what Node trusts by default plus `ca`. Node's own
 * `ca` option replaces the defaults, so a probe given a private CA would stop
 * trusting every public certificate (a redirect to a CDN, a provider's new
 * certificate). Building it parses every root (tens of ms on a busy host):
 * callers build it before they start timing a connection.
 */
export function contextTrusting(ca: string): tls.SecureContext {
  return tls.createSecureContext({ ca: [...defaultCas(), ca] });
}

/** 127.0.0.0/8, ::1 and ::ffff:127.x, written as an address (a name could resolve anywhere). */
export function isLoopbackAddress(host: string): boolean {
  const address = host.replace(/^\[|\]$/g, '');
  if (net.isIPv4(address)) return address.startsWith('127.');
  if (!net.isIPv6(address)) return false;
  const lower = address.toLowerCase();
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower);
}

/**
 * Whether a session that sends credentials must be encrypted (STARTTLS
 * required) when the configuration does not say. It must whenever credentials
 * go over a network: opportunistic STARTTLS is stripped by anyone on the path,
 * who then reads the password. A loopback address is the exception, as
 * Dovecot itself counts loopback connections as secured for plaintext logins:
 * the bytes never leave the host (a local stunnel or SSH tunnel, the lab).
 */
export function requiresTls(options: {
  requireTLS?: boolean | undefined;
  host: string;
  credentials: boolean;
}): boolean {
  if (options.requireTLS !== undefined) return options.requireTLS;
  return options.credentials && !isLoopbackAddress(options.host);
}

/** Why credentials may have gone unencrypted, for run messages. */
export function plaintextReason(options: { requireTLS?: boolean | undefined; host: string }): string {
  return options.requireTLS === false ? 'requireTLS: false' : 'loopback address';
}
