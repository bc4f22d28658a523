// The SQLite store: its repositories' contract, and what only the file has (migrations, compact runs, damage, retention of every table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, StoreOpenError } from '../../src/store/sqlite/store.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { DEFAULT_RETENTION } from '../../src/store/retention.ts';
import { repositorySuite } from '../store/repository-suite.ts';
import { asyncStoreOf } from '../../src/store/async-store.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function run(
  probe: string,
  startedAt: number,
  status: RunRecord['status'],
  durationMs = 10,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    uid: `u${startedAt}`,
    probe,
    kind: 'http',
    startedAt,
    durationMs,
    status,
    attempts: 1,
    message: status,
    error: null,
    observations: { status: 200 },
    assertions: [],
    phases: {},
    items: [],
    ...extra,
  };
}

// Every repository's contract, on a file of its own per test (a second store on it when a test asks for one).
let lastPath = '';
repositorySuite('SQLite', async (clock, options = {}) => {
  if (!options.shared) lastPath = join(mkdtempSync(join(tmpdir(), 'scaiprobe-store-')), 'probe.db');
  return asyncStoreOf(new SqliteStore(lastPath, clock));
});

function tempStore(clock = new ManualClock(T0)): { store: SqliteStore; path: string; clock: ManualClock } {
  const path = join(mkdtempSync(join(tmpdir(), 'scaiprobe-store-')), 'nested', 'probe.db');
  return { store: new SqliteStore(path, clock), path, clock };
}

test('migrations run once, in order, and a reopened store keeps its runs', () => {
  const { store, path, clock } = tempStore();
  store.probes.sync([{ name: 'a', kind: 'http', tags: [] }]);
  store.runs.record(run('a', T0, 'pass'));
  store.close();
  const db = new Database(path);
  const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{
    version: number;
  }>;
  assert.deepEqual(
    versions.map((v) => v.version),
    MIGRATIONS.map((m) => m.version),
  );
  assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
  db.close();
  const reopened = new SqliteStore(path, clock);
  assert.equal(reopened.runs.list('a').length, 1);
  reopened.close();
});

const DAY = 24 * HOUR;

function httpRun(probe: string, startedAt: number, extra: Partial<RunRecord> = {}): RunRecord {
  const latency = 10 + ((startedAt / 1000) % 17) * 0.37;
  return run(probe, startedAt, 'pass', Math.round(latency * 100) / 100, {
    uid: ((startedAt / 1000) % 0xffffffffffff).toString(16).padStart(12, '0'),
    message: `HTTP 200 in ${Math.round(latency)}ms`,
    observations: {
      status: 200,
      latency: Math.round(latency * 100) / 100,
      'latency.firstByte': Math.round(latency * 90) / 100,
      url: `https://api.example.test/${probe}/health/ready`,
      'headers.content-type': 'application/json',
      'headers.date': new Date(startedAt).toUTCString(),
      body: '{"status":"ready","checks":{"db":"ok","redis":"ok"},"version":"1.4.2"}',
      'json.status': 'ready',
      'json.valid': true,
    },
    assertions: [{ expr: 'status == 200', ok: true, actual: 200, soft: false }],
    phases: { firstByte: Math.round(latency * 90) / 100, total: Math.round(latency * 100) / 100 },
    ...extra,
  });
}

function expectedRun(record: RunRecord, id: number) {
  const { items: _items, state: _state, ...rest } = record;
  return { id, ...rest };
}

function fileBytes(store: SqliteStore): number {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return (
    (store.db.pragma('page_count', { simple: true }) as number) *
      (store.db.pragma('page_size', { simple: true }) as number) -
    (store.db.pragma('freelist_count', { simple: true }) as number) *
      (store.db.pragma('page_size', { simple: true }) as number)
  );
}

test('compact runs: a passing run is stored as its difference and read back exactly as it was recorded', () => {
  const { store } = tempStore();
  const records = Array.from({ length: 5 }, (_, i) => httpRun('api', T0 + i * 60_000));
  const ids = records.map((record) => store.runs.record(record).runId);
  const kinds = store.db.prepare('SELECT base IS NULL AS whole FROM run_log ORDER BY id').all() as Array<{
    whole: number;
  }>;
  assert.deepEqual(
    kinds.map((k) => k.whole),
    [1, 0, 0, 0, 0],
    'the first run is the keyframe, the others differences',
  );
  assert.deepEqual(store.runs.list('api'), records.map((record, i) => expectedRun(record, ids[i] ?? 0)).reverse());
  assert.deepEqual(store.runs.get(ids[3] ?? 0), expectedRun(records[3] as RunRecord, ids[3] ?? 0));
});

test('compact runs: a run that is not a pass is kept whole and does not become the keyframe', () => {
  const { store } = tempStore();
  const failing = httpRun('api', T0 + 60_000, {
    status: 'fail',
    message: 'HTTP 503',
    error: { code: 'PROTOCOL', message: 'bad' },
    observations: { status: 503 },
  });
  const ids = [httpRun('api', T0), failing, httpRun('api', T0 + 120_000)].map(
    (record) => store.runs.record(record).runId,
  );
  const rows = store.db.prepare('SELECT id, base FROM run_log ORDER BY id').all() as Array<{
    id: number;
    base: number | null;
  }>;
  assert.deepEqual(
    rows.map((r) => r.base),
    [null, null, ids[0]],
  );
  assert.deepEqual(store.runs.get(ids[1] ?? 0), expectedRun(failing, ids[1] ?? 0));
});

test('compact runs: a new keyframe every 6 hours and when the difference grows large', () => {
  const { store } = tempStore();
  store.runs.record(httpRun('api', T0));
  store.runs.record(httpRun('api', T0 + 6 * HOUR - 60_000));
  store.runs.record(httpRun('api', T0 + 6 * HOUR));
  const changed = httpRun('api', T0 + 6 * HOUR + 60_000);
  changed.observations = Object.fromEntries(
    Object.entries(changed.observations).map(([k, v]) => [
      k,
      typeof v === 'string' ? Buffer.from(v).toString('base64') : v,
    ]),
  );
  store.runs.record(changed);
  const rows = store.db.prepare('SELECT base IS NULL AS whole FROM run_log ORDER BY id').all() as Array<{
    whole: number;
  }>;
  assert.deepEqual(
    rows.map((r) => r.whole),
    [1, 0, 1, 1],
  );
  assert.deepEqual(store.runs.list('api', { limit: 1 })[0]?.observations, changed.observations);
});

test('compact runs: a passing one-second http run grows the database by at most 200 bytes (was about 1,000)', () => {
  const { store } = tempStore();
  const probes = ['api-a', 'api-b', 'api-c', 'api-d'];
  for (const probe of probes) store.runs.record(httpRun(probe, T0));
  const before = fileBytes(store);
  const n = 3000;
  for (let i = 1; i <= n / probes.length; i++)
    for (const probe of probes) store.runs.record(httpRun(probe, T0 + i * 1000));
  const perRun = (fileBytes(store) - before) / n;
  assert.ok(perRun <= 200, `${perRun.toFixed(0)} bytes per run`);
});

test('compact runs: a keyframe read back after a restart is used again, and every run survives retention rebuildable', () => {
  const { store, path, clock } = tempStore();
  for (let i = 0; i < 3 * 24 * 60; i += 5) store.runs.record(httpRun('api', T0 + i * 60_000));
  store.close();
  const reopened = new SqliteStore(path, clock);
  reopened.runs.record(httpRun('api', T0 + 3 * DAY - 2 * 60_000));
  const last = reopened.db.prepare('SELECT base FROM run_log ORDER BY id DESC LIMIT 1').get() as {
    base: number | null;
  };
  assert.notEqual(last.base, null, 'the keyframe of the previous start is found again');
  clock.set(T0 + 3 * DAY + HOUR);
  reopened.maintain({ ...DEFAULT_RETENTION, raw: DAY + 30 * 60_000 });
  const kept = reopened.runs.list('api', { limit: 100_000 });
  assert.ok(kept.length > 0 && kept.every((r) => r.startedAt >= T0 + 2 * DAY + 30 * 60_000 - 6 * HOUR));
  for (const r of kept)
    assert.equal(r.observations['headers.date'], new Date(r.startedAt).toUTCString(), `run ${r.id} rebuilt`);
  const differences = kept.filter((r) => r.startedAt < T0 + 2 * DAY + 30 * 60_000);
  assert.ok(
    differences.every(
      (r) =>
        (reopened.db.prepare('SELECT base FROM run_log WHERE id = ?').get(r.id) as { base: number | null }).base ===
        null,
    ),
    'past the cutoff only keyframes are left',
  );
  reopened.close();
});

test('runs of a probe whose tenant changed are listed together, newest first; history strips read them too', () => {
  const { store } = tempStore();
  store.runs.record(httpRun('api', T0, { tenant: 'a' }));
  store.runs.record(run('api', T0 + 60_000, 'fail', 5, { tenant: 'b' }));
  store.runs.record(httpRun('api', T0 + 120_000, { tenant: 'a' }));
  assert.deepEqual(
    store.runs.list('api').map((r) => r.tenant),
    ['a', 'b', 'a'],
  );
  assert.deepEqual(
    store.runs.recentStatuses(['api', 'none'], 2),
    new Map([
      ['api', ['fail', 'pass']],
      ['none', []],
    ]),
  );
  const view = store.db.prepare('SELECT probe, tenant, status, duration_ms FROM runs ORDER BY id').all();
  assert.deepEqual(
    view[1],
    { probe: 'api', tenant: 'b', status: 'fail', duration_ms: 5 },
    'the runs view keeps SQL readers working',
  );
});

test('state changes: the newest are returned (oldest first) when there are more than the limit', () => {
  const { store } = tempStore();
  const insert = store.db.prepare(
    "INSERT INTO state_changes (probe, tenant, subject, from_state, to_state, at, run_id, message) VALUES ('a', 't', '', 'pass', 'fail', ?, NULL, '')",
  );
  store.db.transaction(() => {
    for (let i = 0; i < 12_000; i++) insert.run(T0 + i * 1000);
  })();
  const changes = store.stateChanges.list({ tenant: 't' });
  assert.equal(changes.length, 10_000);
  assert.equal(changes.at(-1)?.at, T0 + 11_999 * 1000, 'the latest change is included');
  assert.ok(
    changes.every((c, i) => i === 0 || (changes[i - 1]?.at ?? 0) < c.at),
    'oldest first',
  );
  assert.equal(
    store.stateChanges
      .list({ until: T0 + 10 * 1000, limit: 3 })
      .map((c) => c.at)
      .join(),
    [7, 8, 9].map((s) => T0 + s * 1000).join(),
  );
});

test('retention covers every table that grows: state changes, resolved alerts, finished notifications, item states, items, rollups, series', () => {
  const { store, clock } = tempStore();
  const listing = (state: string) => ({ type: 'rbl-listing', key: '192.0.2.1|bl.test', state, data: {} });
  store.runs.record(run('gone', T0, 'pass', 5, { items: [listing('listed')] }));
  store.runs.record(
    run('live', T0, 'pass', 5, { items: [{ type: 'rbl-listing', key: 'live|bl.test', state: 'clean', data: {} }] }),
  );
  store.stateChanges.record({
    probe: 'gone',
    tenant: null,
    subject: 'alert:r:gone',
    from: 'ok',
    to: 'firing',
    at: T0,
    runId: null,
    message: '',
  });
  const alert = store.db.prepare(
    "INSERT INTO alerts (rule, target, alert_id, status, state, severity, updated_at) VALUES (?, ?, ?, ?, '{}', 'critical', ?)",
  );
  alert.run('r', 'old-ok', 'a1', 'ok', T0);
  alert.run('r', 'old-firing', 'a2', 'firing', T0);
  store.db
    .prepare(
      `INSERT INTO alerts (rule, target, alert_id, status, state, severity, updated_at) VALUES ('r', 'owed', 'a3', 'ok', '{"heldResolution":{"at":1}}', 'critical', ?)`,
    )
    .run(T0);
  const outbox = store.db.prepare(
    "INSERT INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at, status, finished_at) VALUES (?, 'a', 'c', 'firing', '{}', ?, ?, ?, ?, ?)",
  );
  outbox.run('delivered', T0, T0 + DAY, T0, 'delivered', T0);
  outbox.run('pending', T0, T0 + 500 * DAY, T0, 'pending', null);
  clock.set(T0 + 3 * HOUR);
  store.maintain(DEFAULT_RETENTION);
  // A year later the live probe is still seen every hour; the other stopped long ago.
  for (let day = 1; day <= 401; day++) {
    clock.set(T0 + day * DAY);
    store.runs.record(
      run('live', T0 + day * DAY, 'pass', 5, {
        items: [{ type: 'rbl-listing', key: 'live|bl.test', state: 'clean', data: {} }],
      }),
    );
    if (day % 30 === 0) store.maintain(DEFAULT_RETENTION);
  }
  const { pruned } = store.maintain(DEFAULT_RETENTION);
  assert.ok(pruned !== undefined);
  const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  assert.equal(
    count("SELECT count(*) AS n FROM state_changes WHERE probe = 'gone'"),
    0,
    'state changes older than 400 days',
  );
  assert.deepEqual(
    store.db.prepare('SELECT target FROM alerts ORDER BY target').all(),
    [{ target: 'old-firing' }, { target: 'owed' }],
    'a resolved alert not evaluated for 30 days goes; a firing one, or one that still owes its resolution, stays',
  );
  assert.deepEqual(
    store.db.prepare('SELECT idempotency_key AS k FROM alert_outbox').all(),
    [{ k: 'pending' }],
    'finished notifications go after 30 days; pending ones stay',
  );
  assert.deepEqual(
    store.db.prepare('SELECT key FROM item_states').all(),
    [{ key: 'live|bl.test' }],
    'an item state not seen for the items retention goes',
  );
  assert.equal(count("SELECT count(*) AS n FROM run_items WHERE probe = 'gone'"), 0);
  assert.equal(
    count("SELECT count(*) AS n FROM rollups r JOIN run_series s ON s.id = r.series WHERE s.probe = 'gone'"),
    0,
  );
  assert.deepEqual(
    store.db.prepare('SELECT probe FROM run_series').all(),
    [{ probe: 'live' }],
    'a series with nothing left goes',
  );
  assert.equal(store.rollups.hourly('live').length > 0, true);
});

test('a database from a newer scaiprobe is refused with a sentence naming it, and left as it is', () => {
  const { store, path, clock } = tempStore();
  store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)").run();
  store.close();
  const before = readFileSync(path);
  assert.throws(
    () => new SqliteStore(path, clock),
    (error: Error) => {
      assert.ok(error instanceof StoreOpenError);
      assert.match(
        error.message,
        new RegExp(
          `${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was written by a newer scaiprobe.*99 \\(from the future\\).*knows up to \\d+`,
        ),
      );
      return true;
    },
  );
  assert.deepEqual(readFileSync(path), before);
});

test('a damaged database is refused with its path and never overwritten', () => {
  const { store, path, clock } = tempStore();
  store.runs.record(run('api', T0, 'pass'));
  store.close();
  const notADatabase = join(dirname(path), 'garbage.db');
  writeFileSync(notADatabase, "this is not a database, but someone's notes\n".repeat(200));
  const damaged = readFileSync(path);
  damaged.fill(0x5a, 100, 4096); // page 1 (the schema) scrambled, header intact
  const damagedPath = join(dirname(path), 'damaged.db');
  writeFileSync(damagedPath, damaged);
  for (const file of [notADatabase, damagedPath]) {
    const before = readFileSync(file);
    assert.throws(
      () => new SqliteStore(file, clock),
      (error: Error) => {
        assert.ok(error instanceof StoreOpenError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `the database ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged or not a database .*left as it is`,
          ),
        );
        return true;
      },
    );
    assert.deepEqual(readFileSync(file), before, `${file} unchanged`);
  }
});

test('migrations 6 to 8 move older runs and rollups over whole, and they read back the same', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'scaiprobe-v2-')), 'old.db');
  const db = new Database(path);
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
    db.exec(migration.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(migration.version, migration.name);
  }
  db.prepare(
    `INSERT INTO runs (id, uid, probe, kind, tenant, started_at, duration_ms, status, attempts, message, error_code, error_message, observations, assertions, phases)
    VALUES (7, 'abc123def456', 'api', 'http', 'acme', ?, 12.34, 'fail', 2, 'HTTP 503', 'PROTOCOL', 'bad', '{"status":503,"body":"x"}', '[{"expr":"status == 200","ok":false,"actual":503,"soft":false}]', '{"total":12.3}')`,
  ).run(T0);
  db.prepare(
    "INSERT INTO runs (id, uid, probe, kind, started_at, duration_ms, status, message) VALUES (8, 'u8', 'api', 'http', ?, 5, 'pass', 'ok')",
  ).run(T0 + 60_000);
  db.prepare('INSERT INTO rollups_hourly VALUES (?, ?, 60, 59, 0, 1, 10.5, 20, 30, 40)').run('old-probe', T0 - DAY);
  db.prepare("INSERT INTO probe_latest VALUES ('api', 8, 'pass', ?, ?, 5, 'ok', NULL)").run(T0, T0);
  db.close();
  const store = new SqliteStore(path, new ManualClock(T0));
  const [newer, older] = store.runs.list('api');
  assert.deepEqual(older, {
    id: 7,
    uid: 'abc123def456',
    probe: 'api',
    kind: 'http',
    tenant: 'acme',
    startedAt: T0,
    durationMs: 12.34,
    status: 'fail',
    attempts: 2,
    message: 'HTTP 503',
    error: { code: 'PROTOCOL', message: 'bad' },
    observations: { status: 503, body: 'x' },
    assertions: [{ expr: 'status == 200', ok: false, actual: 503, soft: false }],
    phases: { total: 12.3 },
  });
  assert.equal(newer?.id, 8);
  assert.deepEqual(store.rollups.hourly('old-probe'), [
    { hour: T0 - DAY, runs: 60, passes: 59, warns: 0, fails: 1, p50: 10.5, p95: 20, p99: 30, max: 40 },
  ]);
  assert.equal(store.runs.record(httpRun('api', T0 + 120_000)).runId, 9, 'new runs continue after the moved ones');
  const indexes = store.db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'run_log'")
    .all();
  assert.deepEqual(
    indexes,
    [{ name: 'run_log_series_time' }],
    'one index on runs (migration 8 drops the one on start time)',
  );
  store.close();
});

test("runs recorded inside a caller's transaction that rolls back leave nothing behind, not even in the caches", () => {
  const { store } = tempStore();
  assert.throws(() =>
    store.db.transaction(() => {
      store.runs.record(httpRun('api', T0));
      store.runs.record(httpRun('api', T0 + 60_000));
      throw new Error('the caller changes its mind');
    })(),
  );
  const id = store.runs.record(httpRun('api', T0 + 120_000)).runId;
  assert.deepEqual(store.runs.get(id), expectedRun(httpRun('api', T0 + 120_000), id));
  assert.deepEqual(store.db.prepare('SELECT count(*) AS n FROM run_series').get(), { n: 1 });
});

test('maintenance in steps: bounded transactions, the same rollups and pruning as at once, and the watermark only at the end', () => {
  const at = (n: number) => T0 + n * 60_000;
  const fill = (store: SqliteStore) => {
    // 450 probes, an hour of one-minute runs each, then nothing for two days.
    store.db.transaction(() => {
      for (let p = 0; p < 450; p++)
        for (let m = 0; m < 60; m++)
          store.runs.record(
            run(`p${String(p)}`, at(m), m % 7 === 0 ? 'fail' : 'pass', m + p, { uid: `p${String(p)}-${String(m)}` }),
          );
    })();
  };
  const stepwise = tempStore();
  const atOnce = tempStore();
  fill(stepwise.store);
  fill(atOnce.store);
  for (const { clock } of [stepwise, atOnce]) clock.set(T0 + 2 * DAY);
  const retention = { ...DEFAULT_RETENTION, raw: DAY };

  const steps = stepwise.store.maintenanceSteps(retention);
  let yielded = 0;
  let result = steps.next();
  const watermark = () => stepwise.store.db.prepare("SELECT value FROM meta WHERE key = 'rollup_until'").get();
  while (!result.done) {
    yielded++;
    if (yielded === 2) assert.equal(watermark(), undefined, 'the watermark waits for the last series');
    result = steps.next();
  }
  const expected = atOnce.store.maintain(retention);
  assert.deepEqual(result.value, expected);
  assert.equal(expected.hoursRolledUp, 47);
  assert.ok(expected.runsPruned > 0);
  // 450 series: the oldest run looked up in one step, rolled up 200 at a time (3), pruned 100 at a time (5).
  assert.equal(yielded, 1 + 3 + 5);
  const rollups = (store: SqliteStore) => store.db.prepare('SELECT * FROM rollups ORDER BY series, hour').all();
  assert.deepEqual(rollups(stepwise.store), rollups(atOnce.store));
  assert.equal(rollups(atOnce.store).length, 450);
});
