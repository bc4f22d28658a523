// The PostgreSQL schema as numbered migrations, applied once each by whichever process gets the migration lock first.
import type pg from 'pg';
import { NewerSchemaError } from '../newer-schema.ts';

export { NewerSchemaError };

/** Numbered migrations; each runs once, in order. Never edit a released one: add the next. */
export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'probes, runs partitioned by day, items, state changes, rollups, alerts, outbox, lock, maintenance windows',
    // Times are epoch milliseconds as in the SQLite store: bigint for starts, double precision for what is
    // timed at a run's end (start + duration, fractional); run durations in hundredths of a millisecond.
    sql: `
      CREATE TABLE probes (
        name text PRIMARY KEY,
        kind text NOT NULL,
        tenant text,
        tags text NOT NULL DEFAULT '[]',
        first_seen bigint NOT NULL,
        last_configured bigint NOT NULL,
        removed_at bigint
      );
      CREATE SEQUENCE runs_id_seq AS bigint;
      -- One partition per day of started_at, created before the first run of that day is written;
      -- retention drops whole partitions. The uid is unique with the start (a key must hold the partition key).
      CREATE TABLE runs (
        id bigint NOT NULL DEFAULT nextval('runs_id_seq'),
        uid text NOT NULL,
        probe text NOT NULL,
        kind text NOT NULL,
        tenant text,
        location text,
        -- '' for a run without one (a single daemon's): every run is some agent's for the (agent, id) index.
        agent text NOT NULL DEFAULT '',
        started_at bigint NOT NULL,
        duration integer NOT NULL,
        status smallint NOT NULL CHECK (status IN (0, 1, 2)),
        attempts integer NOT NULL DEFAULT 1,
        error_code text,
        error_message text,
        body text NOT NULL,
        PRIMARY KEY (uid, started_at)
      ) PARTITION BY RANGE (started_at);
      CREATE INDEX runs_probe_time ON runs (probe, started_at);
      CREATE INDEX runs_id ON runs (id);
      CREATE INDEX runs_agent_id ON runs (agent, id);
      CREATE TABLE probe_latest (
        probe text PRIMARY KEY,
        run_id bigint NOT NULL,
        status text NOT NULL,
        status_since double precision NOT NULL,
        started_at bigint NOT NULL,
        duration_ms double precision NOT NULL,
        message text NOT NULL,
        error_code text
      );
      CREATE TABLE probe_location_latest (
        probe text NOT NULL,
        location text NOT NULL,
        run_id bigint NOT NULL,
        status text NOT NULL,
        status_since double precision NOT NULL,
        started_at bigint NOT NULL,
        message text NOT NULL,
        PRIMARY KEY (probe, location)
      );
      CREATE TABLE probe_state (probe text PRIMARY KEY, data text NOT NULL, updated_at double precision NOT NULL);
      CREATE TABLE run_items (
        id bigserial PRIMARY KEY,
        run_id bigint NOT NULL,
        probe text NOT NULL,
        tenant text,
        type text NOT NULL,
        key text NOT NULL,
        state text,
        at double precision NOT NULL,
        data jsonb NOT NULL
      );
      CREATE INDEX run_items_type_time ON run_items (type, at);
      CREATE INDEX run_items_probe_time ON run_items (probe, type, key, at);
      CREATE TABLE item_states (
        probe text NOT NULL,
        type text NOT NULL,
        key text NOT NULL,
        state text NOT NULL,
        since double precision NOT NULL,
        seen_at double precision NOT NULL,
        PRIMARY KEY (probe, type, key)
      );
      CREATE TABLE state_changes (
        id bigserial PRIMARY KEY,
        probe text NOT NULL,
        tenant text,
        subject text NOT NULL,
        from_state text,
        to_state text NOT NULL,
        at double precision NOT NULL,
        run_id bigint,
        message text NOT NULL DEFAULT ''
      );
      CREATE INDEX state_changes_time ON state_changes (at);
      CREATE INDEX state_changes_probe ON state_changes (probe, subject, at);
      CREATE TABLE rollups (
        probe text NOT NULL,
        hour bigint NOT NULL,
        runs integer NOT NULL,
        passes integer NOT NULL,
        warns integer NOT NULL,
        fails integer NOT NULL,
        p50 integer,
        p95 integer,
        p99 integer,
        max integer,
        PRIMARY KEY (probe, hour)
      );
      CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
      CREATE TABLE alerts (
        rule text NOT NULL,
        target text NOT NULL,
        alert_id text NOT NULL,
        status text NOT NULL,
        state text NOT NULL,
        severity text NOT NULL,
        summary text NOT NULL DEFAULT '',
        labels text NOT NULL DEFAULT '{}',
        updated_at bigint NOT NULL,
        PRIMARY KEY (rule, target)
      );
      CREATE TABLE alert_outbox (
        id bigserial PRIMARY KEY,
        idempotency_key text NOT NULL,
        alert_id text NOT NULL,
        channel text NOT NULL,
        event text NOT NULL,
        body text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        next_attempt_at bigint NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'expired')),
        last_status integer,
        last_error text,
        last_response text,
        finished_at bigint,
        lease_owner text,
        lease_until bigint,
        UNIQUE (idempotency_key, channel)
      );
      CREATE INDEX alert_outbox_lane ON alert_outbox (channel, next_attempt_at) WHERE status = 'pending';
      CREATE INDEX alert_outbox_expiry ON alert_outbox (channel, expires_at) WHERE status = 'pending';
      CREATE INDEX alert_outbox_order ON alert_outbox (alert_id, channel, id) WHERE status = 'pending';
      CREATE TABLE daemon_lock (
        id integer PRIMARY KEY CHECK (id = 1),
        owner text NOT NULL,
        pid integer NOT NULL,
        host text NOT NULL,
        started_at bigint NOT NULL,
        heartbeat_at bigint NOT NULL
      );
      CREATE TABLE maintenance_windows (
        id bigserial PRIMARY KEY,
        probes text NOT NULL,
        reason text NOT NULL DEFAULT '',
        starts_at bigint NOT NULL,
        ends_at bigint NOT NULL,
        ended_at bigint,
        created_at bigint NOT NULL
      );
      CREATE INDEX maintenance_windows_end ON maintenance_windows (ends_at);
    `,
  },
  {
    version: 2,
    name: 'the database identity (a database replaced under the same URL is told apart: run ids start again)',
    sql: `
      CREATE TABLE store_identity (id text PRIMARY KEY);
      INSERT INTO store_identity (id) VALUES (md5(random()::text || clock_timestamp()::text));
    `,
  },
  {
    version: 3,
    name: "run items found by their run: replicas copy each run with its items, reports place them by the run's location",
    sql: `
      CREATE INDEX run_items_run ON run_items (run_id);
    `,
  },
];

/** The key of the advisory lock that serializes migrators (several agents starting at once). */
export const MIGRATION_LOCK = 0x5ca1_0001;

/** A list of numbered migrations, the table that records them and the advisory lock its migrators take turns on. */
export interface MigrationSet {
  migrations: ReadonlyArray<{ version: number; name: string; sql: string }>;
  table: string;
  lock: number;
}

const STORE_MIGRATIONS: MigrationSet = { migrations: MIGRATIONS, table: 'schema_migrations', lock: MIGRATION_LOCK };

/**
 * Brings the schema up to date in one transaction holding the migration lock: a second migrator waits,
 * then finds everything applied. Returns the versions this call applied. The store's set by default; the
 * fleet's tables are another set, in their own table.
 */
export async function migrate(client: pg.PoolClient, set: MigrationSet = STORE_MIGRATIONS): Promise<number[]> {
  const { migrations, table, lock } = set;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [lock]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`,
    );
    const { rows } = await client.query<{ version: number; name: string }>(
      `SELECT version, name FROM ${table} ORDER BY version`,
    );
    const known = Math.max(0, ...migrations.map((m) => m.version));
    const unknown = rows.filter((row) => !migrations.some((m) => m.version === row.version));
    if (unknown.length > 0) throw new NewerSchemaError(unknown, known, 'point store.url at another database');
    const applied = new Set(rows.map((row) => row.version));
    const ran: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${table} (version, name, applied_at) VALUES ($1, $2, $3)`, [
        migration.version,
        migration.name,
        Date.now(),
      ]);
      ran.push(migration.version);
    }
    await client.query('COMMIT');
    return ran;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
