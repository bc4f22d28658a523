// The fleet's own tables in PostgreSQL (agents, probe leases, the leader lease) as numbered migrations in fleet_migrations.
import type pg from 'pg';
import { migrate } from '../store/postgres/migrations.ts';

/** Numbered migrations; each runs once, in order, inside a transaction. Never edit a released one: add the next. */
export const FLEET_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'agents, probe leases, the leader lease',
    sql: `
      CREATE TABLE fleet_agents (
        name text PRIMARY KEY,
        location text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        version text NOT NULL,
        config_hash text NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL
      );
      CREATE INDEX fleet_agents_location ON fleet_agents (location, heartbeat_at);
      CREATE TABLE fleet_leases (
        location text NOT NULL,
        probe text NOT NULL,
        agent text,
        until timestamptz NOT NULL,
        PRIMARY KEY (location, probe)
      );
      CREATE INDEX fleet_leases_agent ON fleet_leases (agent);
      CREATE TABLE fleet_leader (
        id boolean PRIMARY KEY DEFAULT true CHECK (id),
        agent text NOT NULL,
        until timestamptz NOT NULL
      );
    `,
  },
];

/** Any number for the advisory lock that serialises agents migrating at once; "fleet" in ASCII. */
const MIGRATION_LOCK = 0x666c656574;

/**
 * Brings the fleet tables up to date, as the store migrates its own: agents starting together take turns on
 * an advisory lock (another than the store's), and a database with fleet migrations this scaiprobe does not
 * know is refused. The store's own migrations are another list, in another table.
 */
export async function migrateFleet(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    return await migrate(client, { migrations: FLEET_MIGRATIONS, table: 'fleet_migrations', lock: MIGRATION_LOCK });
  } finally {
    client.release();
  }
}
