// The PostgreSQL connection pool: numbers parsed as numbers, TLS from the configuration, transactions on one client.
import pg from 'pg';
import { postgresConnection, type PostgresTls } from './tls.ts';

export type { PostgresTls };

/** TLS to PostgreSQL as configured (`store.tls`): `false` for none; PEM text or a file holding it for each part. */

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

export class PostgresDb {
  readonly pool: pg.Pool;

  constructor(url: string, options: { tls?: PostgresTls; max?: number; applicationName?: string }) {
    this.pool = new pg.Pool({
      ...postgresConnection(url, options.tls),
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
