import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Store, StoreOpenError, type RunRecord } from '../../src/store/store.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { ManualClock } from '../../src/util/clock.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);

function run(probe: string, startedAt: number, status: RunRecord['status'], durationMs = 10, extra: Partial<RunRecord> = {}): RunRecord {
  return { uid: `u${startedAt}`, probe, kind: 'http', startedAt, durationMs, status, attempts: 1, message: status, error: null, observations: { status: 200 }, assertions: [], phases: {}, items: [], ...extra };
}

function tempStore(clock = new ManualClock(T0)): { store: Store; path: string; clock: ManualClock } {
  const path = join(mkdtempSync(join(tmpdir(), 'scaiprobe-store-')), 'nested', 'probe.db');
  return { store: new Store(path, clock), path, clock };
}

test('migrations run once, in order, and a reopened store keeps its runs', () => {
  const { store, path, clock } = tempStore();
  store.syncProbes([{ name: 'a', kind: 'http', tags: [] }]);
  store.recordRun(run('a', T0, 'pass'));
  store.close();
  const db = new Database(path);
  const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
  assert.deepEqual(versions.map((v) => v.version), MIGRATIONS.map((m) => m.version));
  assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
  db.close();
  const reopened = new Store(path, clock);
  assert.equal(reopened.runs('a').length, 1);
  reopened.close();
});

test('each run is stored with its assertions, and status changes are kept as state changes', () => {
  const { store } = tempStore();
  store.syncProbes([{ name: 'a', kind: 'http', tags: ['x'], tenant: 'acme' }]);
  const assertions = [{ expr: 'status == 200', ok: false, actual: 503, soft: false }];
  const outcomes = ['pass', 'pass', 'fail', 'fail', 'pass'] as const;
  outcomes.forEach((status, i) => store.recordRun(run('a', T0 + i * 60_000, status, 10, { tenant: 'acme', assertions: status === 'fail' ? assertions : [] })));
  const changes = store.stateChanges({ probe: 'a' });
  assert.deepEqual(changes.map((c) => [c.from, c.to]), [[null, 'pass'], ['pass', 'fail'], ['fail', 'pass']]);
  assert.equal(changes[1]?.at, T0 + 2 * 60_000 + 10);
  const stored = store.runs('a');
  assert.equal(stored.length, 5);
  assert.deepEqual(stored[1]?.assertions, assertions, 'newest first; the failing run keeps its assertion outcome');
  const [latest] = store.latest();
  assert.equal(latest?.status, 'pass');
  assert.equal(latest?.statusSince, T0 + 4 * 60_000 + 10);
  assert.equal(latest?.tenant, 'acme');
});

test('items with a state record a change only when the state differs', () => {
  const { store } = tempStore();
  const listing = (state: string) => ({ type: 'rbl.listing', key: '192.0.2.1|bl.test', state, data: { state } });
  store.recordRun(run('rbl', T0, 'pass', 5, { items: [listing('clean')] }));
  store.recordRun(run('rbl', T0 + 60_000, 'pass', 5, { items: [listing('listed')] }));
  store.recordRun(run('rbl', T0 + 120_000, 'pass', 5, { items: [listing('listed')] }));
  store.recordRun(run('rbl', T0 + 180_000, 'pass', 5, { items: [listing('clean')] }));
  const changes = store.stateChanges({ subjectPrefix: 'rbl.listing:' });
  assert.deepEqual(changes.map((c) => c.to), ['clean', 'listed', 'clean']);
  assert.equal(store.items({ type: 'rbl.listing' }).length, 4);
});

test('probe state is carried over between runs', () => {
  const { store } = tempStore();
  store.recordRun(run('prom', T0, 'pass', 5, { state: { counters: { x: 5 } } }));
  assert.deepEqual(store.probeState('prom'), { counters: { x: 5 } });
  assert.equal(store.probeState('other'), undefined);
});

test('hourly rollups: counts and duration percentiles per probe and hour', () => {
  const { store, clock } = tempStore();
  for (let i = 0; i < 100; i++) store.recordRun(run('a', T0 + i * 30_000, i % 10 === 0 ? 'fail' : 'pass', i + 1));
  clock.set(T0 + 3 * HOUR);
  const { hoursRolledUp } = store.maintain({ raw: 14 * 24 * HOUR, hourly: 400 * 24 * HOUR, items: 90 * 24 * HOUR });
  assert.equal(hoursRolledUp, 2, 'two finished hours (the current one and its grace are left)');
  const hours = store.hourly('a');
  assert.equal(hours[0]?.runs, 100);
  assert.equal(hours[0]?.fails, 10);
  assert.equal(hours[0]?.p50, 50);
  assert.equal(hours[0]?.p99, 99);
  assert.equal(hours[0]?.max, 100);
  // Idempotent: nothing more to roll up until time passes.
  assert.equal(store.maintain({ raw: 14 * 24 * HOUR, hourly: 400 * 24 * HOUR, items: 90 * 24 * HOUR }).hoursRolledUp, 0);
});

test('retention prunes raw runs but keeps the rollups and state changes', () => {
  const { store, clock } = tempStore();
  store.recordRun(run('a', T0, 'fail'));
  store.recordRun(run('a', T0 + 20 * 24 * HOUR, 'pass'));
  clock.set(T0 + 20 * 24 * HOUR + HOUR);
  const { runsPruned } = store.maintain({ raw: 14 * 24 * HOUR, hourly: 400 * 24 * HOUR, items: 90 * 24 * HOUR });
  assert.equal(runsPruned, 1);
  assert.equal(store.runs('a').length, 1);
  assert.equal(store.hourly('a')[0]?.fails, 1, 'the pruned run lives on in its hour');
  assert.equal(store.stateChanges({ probe: 'a' }).length, 2);
});

test('probes no longer configured leave latest() but keep their history; a probe configured again comes back', () => {
  const { store, clock } = tempStore();
  store.syncProbes([{ name: 'kept', kind: 'http', tags: [] }, { name: 'gone', kind: 'http', tags: [], tenant: 'acme' }]);
  store.recordRun(run('kept', T0, 'pass'));
  store.recordRun(run('gone', T0, 'fail', 10, { tenant: 'acme' }));
  clock.advance(HOUR);
  assert.deepEqual(store.retireUnconfigured(['kept']), ['gone']);
  assert.deepEqual(store.retireUnconfigured(['kept']), [], 'retired once');
  assert.deepEqual(store.latest().map((p) => p.probe), ['kept']);
  assert.deepEqual(store.latest({ tenant: 'acme' }), []);
  assert.deepEqual(store.removedProbes(), ['gone']);
  const all = store.latest({ includeRemoved: true });
  assert.deepEqual(all.map((p) => [p.probe, p.removedAt]), [['gone', T0 + HOUR], ['kept', null]]);
  assert.equal(all[0]?.status, 'fail', 'its last state is still there for whoever asks');
  assert.equal(store.runs('gone').length, 1);
  assert.equal(store.stateChanges({ probe: 'gone' }).length, 1);
  store.syncProbes([{ name: 'gone', kind: 'http', tags: [] }]);
  assert.deepEqual(store.latest().map((p) => p.probe), ['gone', 'kept']);
  assert.deepEqual(store.removedProbes(), []);
});

test('state changes: the newest are returned (oldest first) when there are more than the limit', () => {
  const { store } = tempStore();
  const insert = store.db.prepare("INSERT INTO state_changes (probe, tenant, subject, from_state, to_state, at, run_id, message) VALUES ('a', 't', '', 'pass', 'fail', ?, NULL, '')");
  store.db.transaction(() => {
    for (let i = 0; i < 12_000; i++) insert.run(T0 + i * 1000);
  })();
  const changes = store.stateChanges({ tenant: 't' });
  assert.equal(changes.length, 10_000);
  assert.equal(changes.at(-1)?.at, T0 + 11_999 * 1000, 'the latest change is included');
  assert.ok(changes.every((c, i) => i === 0 || (changes[i - 1]?.at ?? 0) < c.at), 'oldest first');
  assert.equal(store.stateChanges({ until: T0 + 10 * 1000, limit: 3 }).map((c) => c.at).join(), [7, 8, 9].map((s) => T0 + s * 1000).join());
});


test('items: the newest are returned (oldest first) when there are more than the limit', () => {
  const { store } = tempStore();
  for (let i = 0; i < 5; i++) store.recordRun(run('m', T0 + i * 60_000, 'pass', 5, { items: [{ type: 'mail.message', key: `k${i}`, data: { i } }] }));
  assert.deepEqual(store.items({ type: 'mail.message', limit: 2 }).map((item) => item.data.i), [3, 4]);
  assert.deepEqual(store.items({ type: 'mail.message', limit: 2, newest: true }).map((item) => item.data.i), [4, 3]);
});


test('a database from a newer scaiprobe is refused with a sentence naming it, and left as it is', () => {
  const { store, path, clock } = tempStore();
  store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)").run();
  store.close();
  const before = readFileSync(path);
  assert.throws(() => new Store(path, clock), (error: Error) => {
    assert.ok(error instanceof StoreOpenError);
    assert.match(error.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was written by a newer scaiprobe.*99 \\(from the future\\).*knows up to \\d+`));
    return true;
  });
  assert.deepEqual(readFileSync(path), before);
});


test('a damaged database is refused with its path and never overwritten', () => {
  const { store, path, clock } = tempStore();
  store.recordRun(run('api', T0, 'pass'));
  store.close();
  const notADatabase = join(dirname(path), 'garbage.db');
  writeFileSync(notADatabase, 'this is not a database, but someone\'s notes\n'.repeat(200));
  const damaged = readFileSync(path);
  damaged.fill(0x5a, 100, 4096); // page 1 (the schema) scrambled, header intact
  const damagedPath = join(dirname(path), 'damaged.db');
  writeFileSync(damagedPath, damaged);
  for (const file of [notADatabase, damagedPath]) {
    const before = readFileSync(file);
    assert.throws(() => new Store(file, clock), (error: Error) => {
      assert.ok(error instanceof StoreOpenError, String(error));
      assert.match(error.message, new RegExp(`the database ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged or not a database .*left as it is`));
      return true;
    });
    assert.deepEqual(readFileSync(file), before, `${file} unchanged`);
  }
});

