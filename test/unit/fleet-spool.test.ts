// The agent's spool and replicator: runs reach the shared store in order, survive its absence and a restart, and are bounded.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pino } from 'pino';
import { makeTempDir } from '../../src/lab/processes.ts';
import { RunSpool } from '../../src/fleet/spool.ts';
import { RunReplicator } from '../../src/fleet/replicator.ts';
import { FleetReplica } from '../../src/fleet/replica.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { spoolingStore } from '../../src/fleet/spooling-store.ts';
import { ManualClock } from '../../src/util/clock.ts';

const temp = await makeTempDir('scaiprobe-spool-');
after(() => temp.remove());

function run(n: number): RunRecord {
  return {
    uid: `u${n}`,
    probe: 'p',
    kind: 'http',
    startedAt: 1_000 + n,
    durationMs: 5,
    status: 'pass',
    attempts: 1,
    message: 'ok',
    error: null,
    observations: { status: 200, 'body.text': 'é' },
    assertions: [],
    phases: {},
    items: [{ type: 'seed', key: 'a', state: 'inbox', data: { n } }],
    location: 'eu-west',
    agent: 'a1',
  };
}

test('spooled runs read back whole, oldest first, and survive reopening the file', () => {
  const path = join(temp.dir, 'reopen.db');
  const first = new RunSpool(path);
  first.add([run(1), run(2), run(3)]);
  first.close();
  const again = new RunSpool(path);
  assert.deepEqual(
    again.peek(10).map((entry) => entry.run),
    [run(1), run(2), run(3)],
  );
  const second = again.peek(2).at(-1);
  assert.ok(second);
  again.remove(second.seq);
  assert.deepEqual(
    again.peek(10).map((entry) => entry.run.uid),
    ['u3'],
  );
  again.close();
});

test('a full spool drops its oldest runs and counts them', () => {
  const spool = new RunSpool(join(temp.dir, 'bounded.db'), 3);
  spool.add([run(1), run(2)]);
  spool.add([run(3), run(4), run(5)]);
  assert.equal(spool.size(), 3);
  assert.equal(spool.dropped(), 2);
  assert.deepEqual(
    spool.peek(10).map((entry) => entry.run.uid),
    ['u3', 'u4', 'u5'],
  );
  spool.close();
});

test('while the store is away runs wait in the spool; when it is back they arrive once each, in order', async () => {
  const spool = new RunSpool(join(temp.dir, 'away.db'));
  const stored: string[] = [];
  let away = true;
  const replicator = new RunReplicator({
    spool,
    batchSize: 2,
    logger: pino({ level: 'silent' }),
    now: () => Date.now(),
    push: (runs) => {
      if (away) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      stored.push(...runs.map((r) => r.uid));
      return Promise.resolve();
    },
  });
  spool.add([run(1), run(2), run(3)]);
  await assert.rejects(replicator.flush(), /ECONNREFUSED/);
  const down = replicator.status();
  assert.equal(down.pending, 3);
  assert.match(down.problem?.message ?? '', /ECONNREFUSED/);
  away = false;
  assert.equal(await replicator.flush(), 3);
  assert.deepEqual(stored, ['u1', 'u2', 'u3']);
  assert.deepEqual(replicator.status(), { pending: 0, problem: undefined, pushed: 3, dropped: 0 });
  spool.close();
});

test("an agent's runs are stamped with its location and name, spooled, and stored locally", () => {
  const local = new SqliteStore(':memory:', new ManualClock(5_000));
  const spool = new RunSpool(join(temp.dir, 'stamp.db'));
  const store = spoolingStore(local, spool, { location: 'us-east', agent: 'b2' });
  store.probes.sync([{ name: 'p', kind: 'http', tags: [] }]);
  const { location: _l, agent: _a, ...plain } = run(7);
  store.runs.record(plain);
  const [spooled] = spool.peek(10);
  assert.equal(spooled?.run.location, 'us-east');
  assert.equal(spooled?.run.agent, 'b2');
  assert.equal(spool.size(), 1);
  assert.equal(local.runs.list('p').length, 1);
  assert.equal(store.runs.list('p')[0]?.uid, 'u7');
  local.close();
  spool.close();
});

test("a replica follows each agent by id, skips its own runs, and starts again on another database's ids", async () => {
  const stored: string[] = [];
  let database = 'db-1';
  const fleetRuns = [
    { ...run(1), id: 1, agent: 'a1' },
    { ...run(2), id: 2, agent: 'me' },
    { ...run(3), id: 3, agent: 'b1' },
  ];
  const replica = () =>
    new FleetReplica({
      agent: 'me',
      identity: () => Promise.resolve(database),
      cursorFile: join(temp.dir, 'replica.json'),
      logger: pino({ level: 'silent' }),
      store: (runs) => stored.push(...runs.map((r) => r.uid)),
      runsAfter: (cursors, limit) =>
        Promise.resolve(
          fleetRuns.filter((r) => r.id > (cursors.get(r.agent) ?? 0) && r.agent !== 'me').slice(0, limit),
        ),
    });
  assert.equal(await replica().pull(), 2);
  assert.deepEqual(stored, ['u1', 'u3']);
  // Started again on the same database: nothing copied twice.
  assert.equal(await replica().pull(), 0);
  // The database was replaced (its ids start again): the new one's runs are copied from the start.
  database = 'db-2';
  fleetRuns.splice(0, fleetRuns.length, { ...run(9), id: 1, agent: 'a1' });
  assert.equal(await replica().pull(), 1);
  assert.deepEqual(stored, ['u1', 'u3', 'u9']);
});
