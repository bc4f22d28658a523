// The PostgreSQL connection pool: numbers parsed as numbers, TLS from the configuration, transactions on one client.
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** TLS to PostgreSQL as configured (`store.tls`): `false` for none; PEM text or a file holding it for each part. */
export type PostgresTls = false | { ca?: string; cert?: string; key?: string; serverName?: string };

/** What runs a query: the store's pool, or one client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

const INT8 = 20;
const builtIn = pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown;

/** bigint columns (ids, times in ms, counts) fit in a double: read them as numbers, not strings. */
const types = {
  getTypeParser: (oid: number, format?: string) =>
    oid === INT8 && format !== 'binary' ? (value: string) => Number(value) : builtIn(oid, format),
} as unknown as pg.CustomTypesConfig;

function pem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

function sslOf(tls: PostgresTls | undefined): pg.PoolConfig['ssl'] {
  // Unset: the URL decides (sslmode=...); false: never.
  if (tls === undefined) return undefined;
  if (tls === false) return false;
  return {
    rejectUnauthorized: true,
    ca: pem(tls.ca),
    cert: pem(tls.cert),
    key: pem(tls.key),
    ...(tls.serverName ? { servername: tls.serverName } : {}),
  };
}

/** The URL without its password, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '';
    return parsed.toString().replace(/:@/, '@');
  } catch {
    return 'postgres://(an unparsable URL)';
  }
}

/** The URL without its TLS parameters: with `store.tls` set, the configuration decides (the URL's would override it). */
function withoutTlsParameters(url: string): string {
  try {
    const parsed = new URL(url);
    for (const key of ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert']) parsed.searchParams.delete(key);
    return parsed.toString();
  } catch {
    return url;
  }
}

export class PostgresDb {
  readonly pool: pg.Pool;

  constructor(url: string, options: { tls?: PostgresTls; max?: number; applicationName?: string }) {
    const ssl = sslOf(options.tls);
    this.pool = new pg.Pool({
      connectionString: options.tls === undefined ? url : withoutTlsParameters(url),
      ...(ssl !== undefined ? { ssl } : {}),
      max: options.max ?? 10,
      types,
      application_name: options.applicationName ?? 'scaiprobe',
    });
    // An idle client losing its connection must not crash the process: the next query reconnects.
    this.pool.on('error', () => {});
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /** Runs `work` in one transaction on one client: committed when it resolves, rolled back when it throws. */
  async tx<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is closed rather than handed to the next caller.
      broken = await client.query('ROLLBACK').then(
        () => false,
        () => true,
      );
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
