// The SQLite schema as numbered migrations, each run once in order.
import type { Database } from 'better-sqlite3';
import { NewerSchemaError } from '../newer-schema.ts';

export { NewerSchemaError };

/** Numbered migrations; each runs once, in order, inside a transaction. Never edit a released one: add the next. */
export const MIGRATIONS: Array<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'runs, items, state changes, rollups',
    sql: `
      CREATE TABLE probes (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        tenant TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        first_seen INTEGER NOT NULL,
        last_configured INTEGER NOT NULL
      );
      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL,
        probe TEXT NOT NULL,
        kind TEXT NOT NULL,
        tenant TEXT,
        started_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
        attempts INTEGER NOT NULL DEFAULT 1,
        message TEXT NOT NULL DEFAULT '',
        error_code TEXT,
        error_message TEXT,
        observations TEXT NOT NULL DEFAULT '{}',
        assertions TEXT NOT NULL DEFAULT '[]',
        phases TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX runs_probe_time ON runs (probe, started_at);
      CREATE INDEX runs_time ON runs (started_at);
      CREATE TABLE probe_latest (
        probe TEXT PRIMARY KEY,
        run_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        status_since INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        message TEXT NOT NULL,
        error_code TEXT
      );
      CREATE TABLE run_items (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL,
        probe TEXT NOT NULL,
        tenant TEXT,
        type TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT,
        at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX run_items_type_time ON run_items (type, at);
      CREATE INDEX run_items_probe_time ON run_items (probe, at);
      CREATE TABLE item_states (
        probe TEXT NOT NULL,
        type TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (probe, type, key)
      );
      CREATE TABLE state_changes (
        id INTEGER PRIMARY KEY,
        probe TEXT NOT NULL,
        tenant TEXT,
        subject TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at INTEGER NOT NULL,
        run_id INTEGER,
        message TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX state_changes_time ON state_changes (at);
      CREATE INDEX state_changes_probe ON state_changes (probe, subject, at);
      CREATE TABLE probe_state (
        probe TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE rollups_hourly (
        probe TEXT NOT NULL,
        hour INTEGER NOT NULL,
        runs INTEGER NOT NULL,
        passes INTEGER NOT NULL,
        warns INTEGER NOT NULL,
        fails INTEGER NOT NULL,
        duration_p50 REAL,
        duration_p95 REAL,
        duration_p99 REAL,
        duration_max REAL,
        PRIMARY KEY (probe, hour)
      ) WITHOUT ROWID;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'alert states and the alert outbox',
    sql: `
      CREATE TABLE alerts (
        rule TEXT NOT NULL,
        target TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        status TEXT NOT NULL,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        labels TEXT NOT NULL DEFAULT '{}',
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (rule, target)
      ) WITHOUT ROWID;
      CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'expired')),
        last_status INTEGER,
        last_error TEXT,
        finished_at INTEGER,
        UNIQUE (idempotency_key, channel)
      );
      CREATE INDEX alert_outbox_due ON alert_outbox (status, next_attempt_at);
    `,
  },
  {
    version: 3,
    // Earlier versions stored PagerDuty bodies with the routing key in them; it is now added at send time from the configuration.
    name: 'no PagerDuty routing keys in stored outbox bodies',
    sql: `
      UPDATE alert_outbox SET body = json_remove(body, '$.routing_key')
        WHERE json_valid(body) AND json_type(body, '$.routing_key') IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: 'probes removed from the configuration',
    sql: `
      ALTER TABLE probes ADD COLUMN removed_at INTEGER;
    `,
  },
  {
    version: 5,
    // SQLite cannot change a CHECK constraint in place: the outbox is rebuilt, rows kept.
    name: 'outbox leases, failed notifications and the receiver answer; the daemon lock',
    sql: `
      CREATE TABLE alert_outbox_v5 (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'expired')),
        last_status INTEGER,
        last_error TEXT,
        last_response TEXT,
        finished_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        UNIQUE (idempotency_key, channel)
      );
      INSERT INTO alert_outbox_v5 (id, idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at, attempts, status, last_status, last_error, finished_at)
        SELECT id, idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at, attempts, status, last_status, last_error, finished_at FROM alert_outbox;
      DROP TABLE alert_outbox;
      ALTER TABLE alert_outbox_v5 RENAME TO alert_outbox;
      -- Only pending rows are looked up by time or alert: partial indexes stay as small as the backlog.
      CREATE INDEX alert_outbox_lane ON alert_outbox (channel, next_attempt_at) WHERE status = 'pending';
      CREATE INDEX alert_outbox_expiry ON alert_outbox (channel, expires_at) WHERE status = 'pending';
      CREATE INDEX alert_outbox_order ON alert_outbox (alert_id, channel, id) WHERE status = 'pending';
      CREATE TABLE daemon_lock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        owner TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'compact run store: series, runs whole or as a difference, integer rollups',
    // Existing runs move over whole (they age out with the raw retention);
    // `runs` stays as a view of the fixed columns for anyone reading with SQL.
    sql: `
      CREATE TABLE run_series (
        id INTEGER PRIMARY KEY,
        probe TEXT NOT NULL,
        kind TEXT NOT NULL,
        tenant TEXT NOT NULL DEFAULT '',
        keyframe INTEGER,
        UNIQUE (probe, kind, tenant)
      );
      INSERT INTO run_series (probe, kind, tenant) SELECT DISTINCT probe, kind, coalesce(tenant, '') FROM runs;
      INSERT INTO run_series (probe, kind, tenant)
        SELECT DISTINCT r.probe, coalesce(p.kind, 'unknown'), coalesce(p.tenant, '') FROM rollups_hourly r LEFT JOIN probes p ON p.name = r.probe
        WHERE NOT EXISTS (SELECT 1 FROM run_series s WHERE s.probe = r.probe);
      CREATE TABLE run_log (
        id INTEGER PRIMARY KEY,
        series INTEGER NOT NULL,
        uid BLOB NOT NULL,
        started_at INTEGER NOT NULL,
        duration INTEGER NOT NULL,
        status INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
        attempts INTEGER NOT NULL DEFAULT 1,
        error_code TEXT,
        error_message TEXT,
        base INTEGER,
        body BLOB
      );
      INSERT INTO run_log (id, series, uid, started_at, duration, status, attempts, error_code, error_message, base, body)
        SELECT r.id, s.id, r.uid, r.started_at, CAST(round(r.duration_ms * 100) AS INTEGER),
          CASE r.status WHEN 'pass' THEN 0 WHEN 'warn' THEN 1 ELSE 2 END, r.attempts, r.error_code, r.error_message, NULL,
          json_object('message', r.message, 'observations', json(r.observations), 'assertions', json(r.assertions), 'phases', json(r.phases))
        FROM runs r JOIN run_series s ON s.probe = r.probe AND s.kind = r.kind AND s.tenant = coalesce(r.tenant, '');
      DROP TABLE runs;
      -- status in the index: history strips read it without touching the rows (a pass costs no byte).
      CREATE INDEX run_log_series_time ON run_log (series, started_at, status);
      CREATE INDEX run_log_time ON run_log (started_at);
      CREATE VIEW runs AS
        SELECT l.id, s.probe, s.kind, nullif(s.tenant, '') AS tenant, l.started_at, l.duration / 100.0 AS duration_ms,
          CASE l.status WHEN 0 THEN 'pass' WHEN 1 THEN 'warn' ELSE 'fail' END AS status, l.attempts, l.error_code, l.error_message,
          l.base IS NULL AS stored_whole
        FROM run_log l JOIN run_series s ON s.id = l.series;
      CREATE TABLE rollups (
        series INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        runs INTEGER NOT NULL,
        passes INTEGER NOT NULL,
        warns INTEGER NOT NULL,
        fails INTEGER NOT NULL,
        p50 INTEGER,
        p95 INTEGER,
        p99 INTEGER,
        max INTEGER,
        PRIMARY KEY (series, hour)
      ) WITHOUT ROWID;
      INSERT INTO rollups (series, hour, runs, passes, warns, fails, p50, p95, p99, max)
        SELECT (SELECT min(s.id) FROM run_series s WHERE s.probe = r.probe), r.hour / 3600000, r.runs, r.passes, r.warns, r.fails,
          CAST(round(r.duration_p50 * 100) AS INTEGER), CAST(round(r.duration_p95 * 100) AS INTEGER),
          CAST(round(r.duration_p99 * 100) AS INTEGER), CAST(round(r.duration_max * 100) AS INTEGER)
        FROM rollups_hourly r;
      DROP TABLE rollups_hourly;
    `,
  },
  {
    version: 7,
    name: 'retention for item states',
    // Keys not seen for the items retention are forgotten; the ones already here count as seen now.
    sql: `
      ALTER TABLE item_states ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
      UPDATE item_states SET seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
    `,
  },
  {
    version: 8,
    name: 'runs keep one index, by series and time',
    // Rollups and retention walk (series, started_at); the index on start time alone cost about 17 bytes a run.
    sql: `
      DROP INDEX IF EXISTS run_log_time;
    `,
  },
  {
    version: 9,
    name: 'maintenance windows started at run time',
    // AUTOINCREMENT: a pipeline ends the window by the id it was given; an id must never name a later window.
    sql: `
      CREATE TABLE maintenance_windows (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        probes TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        ended_at INTEGER,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX maintenance_windows_end ON maintenance_windows (ends_at);
    `,
  },
  {
    version: 10,
    name: 'runs carry their location and agent; the latest run of each probe per location',
    // Nullable: a single daemon's runs carry neither, and cost one header byte each for them.
    sql: `
      ALTER TABLE run_log ADD COLUMN location TEXT;
      ALTER TABLE run_log ADD COLUMN agent TEXT;
      CREATE TABLE probe_location_latest (
        probe TEXT NOT NULL,
        location TEXT NOT NULL,
        run_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        status_since INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (probe, location)
      ) WITHOUT ROWID;
    `,
  },
];

export function migrate(db: Database): number[] {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all() as Array<{
    version: number;
    name: string;
  }>;
  const known = Math.max(0, ...MIGRATIONS.map((m) => m.version));
  const unknown = rows.filter((row) => !MIGRATIONS.some((m) => m.version === row.version));
  if (unknown.length > 0) throw new NewerSchemaError(unknown, known, 'point store.path at another file');
  const applied = new Set(rows.map((row) => row.version));
  const ran: number[] = [];
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        migration.version,
        migration.name,
        Date.now(),
      );
    })();
    ran.push(migration.version);
  }
  return ran;
}
