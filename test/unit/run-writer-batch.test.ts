import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { RunWriter } from '../../src/store/run-writer.ts';
import { ManualClock } from '../../src/util/clock.ts';

const T0 = Date.UTC(2026, 0, 1);
const logger = pino({ level: 'silent' });

function run(probe: string, startedAt: number, status: RunRecord['status']): RunRecord {
  return {
    uid: `u${probe}${startedAt}`,
    probe,
    kind: 'http',
    startedAt,
    durationMs: 10,
    status,
    attempts: 1,
    message: status,
    error: null,
    observations: { status: 200 },
    assertions: [],
    phases: {},
    items: [],
  };
}

function store(): SqliteStore {
  return new SqliteStore(join(mkdtempSync(join(tmpdir(), 'scaiprobe-batch-')), 'probe.db'), new ManualClock(T0));
}

test('runs recorded together are stored together, each with its own id and state changes', async () => {
  const s = store();
  const writer = new RunWriter(s, { logger, batchMs: 5 });
  const recorded = await Promise.all([
    writer.record(run('a', T0, 'pass')),
    writer.record(run('b', T0, 'fail')),
    writer.record(run('a', T0 + 1000, 'fail')),
  ]);
  assert.equal(new Set(recorded.map((r) => r?.runId)).size, 3);
  assert.deepEqual(
    recorded.map((r) => r?.changes.map((c) => `${c.probe}:${c.from}->${c.to}`)),
    [['a:null->pass'], ['b:null->fail'], ['a:pass->fail']],
  );
  assert.equal(s.runs.list('a').length, 2);
  writer.close();
  s.close();
});

test('a run the database refuses for its own content fails alone; the others of its batch are stored', async () => {
  const s = store();
  const writer = new RunWriter(s, { logger, batchMs: 5 });
  s.db.exec(
    "CREATE TRIGGER refuse BEFORE INSERT ON run_log WHEN NEW.started_at = 42 BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  const recorded = await Promise.all([
    writer.record(run('a', T0, 'pass')),
    writer.record(run('b', 42, 'pass')),
    writer.record(run('c', T0, 'pass')),
  ]);
  assert.deepEqual(
    recorded.map((r) => r !== undefined),
    [true, false, true],
  );
  assert.deepEqual(writer.health(), { problem: undefined, queued: 0, dropped: 1 });
  assert.equal(s.runs.list('a').length, 1);
  assert.equal(s.runs.list('c').length, 1);
  writer.close();
  s.close();
});

test('a full batch is stored without waiting; close() stores what is still waiting', async () => {
  const s = store();
  const writer = new RunWriter(s, { logger, batchMs: 60_000, batchSize: 2 });
  const recorded = await Promise.all([writer.record(run('a', T0, 'pass')), writer.record(run('a', T0 + 1, 'pass'))]);
  assert.equal(recorded.filter(Boolean).length, 2);
  const last = writer.record(run('a', T0 + 2, 'pass'));
  writer.close();
  assert.ok(await last);
  assert.equal(s.runs.list('a').length, 3);
  s.close();
});
