// Opening the PostgreSQL store: connect, bring the schema up to date, and a sentence for a database that cannot be used.
import type { Clock } from '../../util/clock.ts';
import { StoreOpenError } from '../sqlite/open.ts';
import { PostgresDb, redactedUrl, type PostgresTls } from './db.ts';
import { migrate, NewerSchemaError } from './migrations.ts';
import { PostgresStore } from './store.ts';

export interface PostgresStoreOptions {
  /** A postgres:// URL (its password never appears in messages: the store's location is the URL without it). */
  url: string;
  tls?: PostgresTls;
  clock: Clock;
  /** Connections in the pool (10 by default). */
  poolSize?: number;
  applicationName?: string;
}

/**
 * Connects and migrates (concurrent openers take turns on an advisory lock). A database carrying a
 * migration this scaiprobe does not know is refused with a sentence naming it, and left as it is.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const location = redactedUrl(options.url);
  const db = new PostgresDb(options.url, {
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
    ...(options.poolSize !== undefined ? { max: options.poolSize } : {}),
    ...(options.applicationName !== undefined ? { applicationName: options.applicationName } : {}),
  });
  try {
    const client = await db.pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
    return new PostgresStore(db, location, options.clock);
  } catch (error) {
    await db.close().catch(() => {});
    throw new StoreOpenError(openFailure(location, error), { cause: error });
  }
}

function openFailure(location: string, error: unknown): string {
  if (error instanceof NewerSchemaError)
    return `the database ${location} was written by a newer scaiprobe: ${error.message}`;
  const message = (error as { message?: string }).message ?? String(error);
  return `cannot open the database ${location}: ${message}`;
}
