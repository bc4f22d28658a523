// The replica: the other agents' runs copied into the local store with their items, its own skipped, cursors kept.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { makeTempDir } from '../../src/lab/processes.ts';
import { FleetReplica } from '../../src/fleet/replica.ts';
import type { RunWithItems } from '../../src/store/types.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';

const T0 = Date.UTC(2026, 0, 1);
const temp = await makeTempDir('scaiprobe-replica-');
after(() => temp.remove());

function shared(id: number, agent: string, location: string, placement: string): RunWithItems {
  return {
    id,
    uid: `u${id}`,
    probe: 'acme-mail',
    kind: 'mail',
    tenant: 'acme',
    startedAt: T0 + id * 60_000,
    durationMs: 5,
    status: 'pass',
    attempts: 1,
    message: 'ok',
    error: null,
    observations: {},
    assertions: [],
    phases: {},
    location,
    agent,
    items: [{ type: 'mail.message', key: `gmail:${id}`, data: { seed: 'gmail', placement } }],
  };
}

test("the other agents' runs are stored with their items, placed by their run's location; this agent's are skipped", async () => {
  const fleet = [
    shared(1, 'west-1', 'eu-west', 'inbox'),
    shared(2, 'east-1', 'us-east', 'spam'),
    shared(3, 'self', 'eu-west', 'inbox'),
    shared(4, 'east-1', 'us-east', 'missing'),
  ];
  const asked: Array<Record<string, number>> = [];
  const store = new SqliteStore(':memory:', new ManualClock(T0));
  const replica = new FleetReplica({
    agent: 'self',
    runsAfter: (cursors, limit) => {
      asked.push(Object.fromEntries(cursors));
      return Promise.resolve(fleet.filter((run) => run.id > (cursors.get(run.agent ?? '') ?? 0)).slice(0, limit));
    },
    store: (runs) => void store.runs.recordAll(runs),
    cursorFile: join(temp.dir, 'replica.json'),
    identity: () => Promise.resolve('database-1'),
    logger: pino({ level: 'silent' }),
    batchSize: 2,
  });
  try {
    assert.equal(await replica.pull(), 3, 'two batches of two; our own run is never asked for');
    const rows = store.items.mailMessages({ type: 'mail.message', tenant: 'acme', since: T0, until: T0 + 3_600_000 });
    assert.deepEqual(
      rows.map((row) => [row.location, row.placement]),
      [
        ['eu-west', 'inbox'],
        ['us-east', 'spam'],
        ['us-east', 'missing'],
      ],
    );
    assert.deepEqual(asked.at(-1), { self: Number.MAX_SAFE_INTEGER, 'west-1': 1, 'east-1': 2 });
    assert.deepEqual(JSON.parse(readFileSync(join(temp.dir, 'replica.json'), 'utf8')), {
      database: 'database-1',
      cursors: { 'west-1': 1, 'east-1': 4 },
    });
  } finally {
    await replica.stop();
    store.close();
  }
});
