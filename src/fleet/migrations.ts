// The fleet's own tables in PostgreSQL (agents, probe leases, the leader lease) as numbered migrations in fleet_migrations.
import type pg from 'pg';

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
 * Brings the fleet tables up to date. Agents starting together take a
 * transaction-scoped advisory lock first, so one migrates and the others then
 * find the versions recorded. The store's own migrations are another list.
 */
export async function migrateFleet(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS fleet_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = await client.query<{ version: number }>('SELECT version FROM fleet_migrations');
    const applied = new Set(done.rows.map((row) => row.version));
    const ran: number[] = [];
    for (const migration of FLEET_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO fleet_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      ran.push(migration.version);
    }
    await client.query('COMMIT');
    return ran;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
