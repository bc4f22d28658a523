// TLS to PostgreSQL as the configuration gives it (store.tls), for every pool scaiprobe opens: the store's and the fleet's.
import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** `false` (never), or the CA, client certificate and key (PEM text, or a file holding it) and the server's name. */
export type PostgresTls =
  | false
  | { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; serverName?: string | undefined };

function pem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

function sslOf(tls: PostgresTls): pg.PoolConfig['ssl'] {
  if (tls === false) return false;
  const [ca, cert, key] = [pem(tls.ca), pem(tls.cert), pem(tls.key)];
  return {
    rejectUnauthorized: true,
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(tls.serverName ? { servername: tls.serverName } : {}),
  };
}

/** The URL without its TLS parameters: with store.tls set, the configuration decides (pg would let the URL's win). */
function withoutTlsParameters(url: string): string {
  try {
    const parsed = new URL(url);
    for (const key of ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert']) parsed.searchParams.delete(key);
    return parsed.toString();
  } catch {
    return url;
  }
}

/** A pool's connection settings: unset TLS leaves it to the URL (`?sslmode=`); set, the configuration decides. */
export function postgresConnection(
  url: string,
  tls: PostgresTls | undefined,
): Pick<pg.PoolConfig, 'connectionString' | 'ssl'> {
  if (tls === undefined) return { connectionString: url };
  return { connectionString: withoutTlsParameters(url), ssl: sslOf(tls) };
}
