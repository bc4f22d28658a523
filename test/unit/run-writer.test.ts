import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { RunWriter } from '../../src/store/run-writer.ts';
import { describeStorageError } from '../../src/store/sqlite/conditions.ts';
import { ManualClock } from '../../src/util/clock.ts';

const T0 = Date.UTC(2026, 0, 1);
const logger = pino({ level: 'silent' });

function run(i: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    uid: `u${i}`,
    probe: 'p',
    kind: 'http',
    startedAt: T0 + i * 1000,
    durationMs: 5,
    status: i % 2 ? 'fail' : 'pass',
    attempts: 1,
    message: `run ${i}`,
    error: null,
    observations: { status: 200, body: 'x'.repeat(400), i },
    assertions: [],
    phases: {},
    items: [],
    ...extra,
  };
}

function store(): SqliteStore {
  return new SqliteStore(join(mkdtempSync(join(tmpdir(), 'scaiprobe-writer-')), 'w.db'), new ManualClock(T0));
}

/** The database may not grow past its current size: writes that need a new page fail with SQLITE_FULL, as on a full disk. */
function fillUp(s: SqliteStore): void {
  s.db.pragma('wal_checkpoint(TRUNCATE)');
  s.db.pragma(`max_page_count = ${s.db.pragma('page_count', { simple: true }) as number}`);
}

test('while the database is full, runs wait in memory in order; once it takes writes they are stored with their state changes', () => {
  const s = store();
  const writer = new RunWriter(s, { logger, retryMs: 60_000 });
  assert.ok(writer.write(run(0)));
  fillUp(s);
  let i = 1;
  // The last free pages still take a few runs.
  while (writer.health().queued === 0 && i < 1000) writer.write(run(i++));
  for (let n = 0; n < 5; n++)
    assert.equal(writer.write(run(i++)), undefined, 'within the retry pause nothing is attempted');
  const health = writer.health();
  assert.equal(health.problem, 'database: disk full');
  assert.equal(health.dropped, 0);
  s.db.pragma('max_page_count = 1073741823');
  const stored = writer.flush();
  assert.equal(stored.size, health.queued);
  assert.deepEqual(writer.health(), { problem: undefined, queued: 0, dropped: 0 });
  const runs = s.runs.list('p', { limit: 10_000 });
  assert.equal(runs.length, i, 'every run stored once');
  assert.deepEqual(
    runs.map((r) => r.uid).reverse(),
    Array.from({ length: i }, (_, n) => `u${n}`),
    'in order',
  );
  assert.equal(
    s.stateChanges.list({ probe: 'p' }).length,
    i,
    'each alternating status is a state change, queued ones too',
  );
  writer.close();
  s.close();
});

test('a full queue drops its oldest runs and counts them', () => {
  const s = store();
  const writer = new RunWriter(s, { logger, capacity: 3, retryMs: 60_000 });
  fillUp(s);
  const queued: string[] = [];
  for (let i = 0; i < 1000 && writer.health().dropped < 2; i++) if (!writer.write(run(i))) queued.push(`u${i}`);
  assert.deepEqual(writer.health(), { problem: 'database: disk full', queued: 3, dropped: 2 });
  s.db.pragma('max_page_count = 1073741823');
  writer.flush();
  const stored = new Set(s.runs.list('p', { limit: 10_000 }).map((r) => r.uid));
  assert.deepEqual(
    queued.filter((uid) => !stored.has(uid)),
    queued.slice(0, 2),
    'the two oldest queued runs were dropped',
  );
  assert.ok(queued.slice(2).every((uid) => stored.has(uid)));
  writer.close();
  s.close();
});

test('a run the database refuses for its own content is dropped without holding up the rest', () => {
  const s = store();
  const writer = new RunWriter(s, { logger });
  // A constraint the run breaks: retrying would never store it.
  s.db.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON run_log WHEN NEW.started_at = 42 BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  assert.equal(writer.write(run(0, { startedAt: 42 })), undefined);
  assert.ok(writer.write(run(1)));
  assert.deepEqual(writer.health(), { problem: undefined, queued: 0, dropped: 1 });
  writer.close();
  s.close();
});

test('storage conditions in a few words', () => {
  const error = (code: string, message = 'm') => Object.assign(new Error(message), { code });
  assert.equal(describeStorageError(error('SQLITE_FULL'), '/d.db'), 'disk full');
  assert.equal(describeStorageError(error('SQLITE_READONLY_DBMOVED'), '/d.db'), 'read-only');
  assert.equal(describeStorageError(error('SQLITE_BUSY'), '/d.db'), 'locked by another process');
  assert.equal(describeStorageError(error('SQLITE_CORRUPT'), '/d.db'), 'damaged (/d.db; it is left as it is)');
  assert.equal(
    describeStorageError(error('SQLITE_IOERR_WRITE', 'disk I/O error'), '/d.db'),
    'I/O error (SQLITE_IOERR_WRITE: disk I/O error)',
  );
});
