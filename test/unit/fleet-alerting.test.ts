// Fleet alerting: two agents on one shared store, the lead moving mid-incident, and a sender that dies mid-delivery.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { asyncStoreOf } from '../../src/store/async-store.ts';
import type { StoredRun } from '../../src/store/types.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { startFleetAlerting, type FleetAlerting } from '../../src/alerting/fleet.ts';
import { REMOVED_PROBE_REASON } from '../../src/alerting/service.ts';
import type { SendResult, Transport } from '../../src/alerting/outbox.ts';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-fleet-alerting-'));
const stores: SqliteStore[] = [];
after(() => {
  stores.forEach((s) => s.close());
  rmSync(dir, { recursive: true, force: true });
});

interface Delivery {
  by: string;
  key: string;
  type: string;
}

/** A fleet of two agents (a in eu-west, b in us-east) sharing one store; the runs table is a list read by cursors. */
function fleet(name: string) {
  const clock = new ManualClock(T0);
  const path = join(dir, `${name}.sqlite`);
  const runs: StoredRun[] = [];
  const delivered: Delivery[] = [];
  let leader = 'a';
  const failures = { reads: 0 };
  const runsAfter = async (cursors: ReadonlyMap<string, number>, limit: number, since: number) => {
    if (failures.reads > 0 && failures.reads--) throw new Error('connection to the store lost');
    return runs
      .filter((r) => {
        const last = cursors.get(r.agent ?? '');
        return last === undefined ? r.startedAt >= since : r.id > last;
      })
      .slice(0, limit);
  };
  const { config } = parseAlertsSection({
    channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    rules: [{ name: 'down', probes: ['web'], quorum: 2, successes: 1 }],
  });
  const agent = (id: string, transport?: Transport, configured?: (probe: string) => boolean): FleetAlerting => {
    const sqlite = new SqliteStore(path, clock);
    stores.push(sqlite);
    return startFleetAlerting({
      store: asyncStoreOf(sqlite),
      isLeader: () => leader === id,
      runsAfter,
      liveLocations: () => ['eu-west', 'us-east'],
      clock,
      logger: pino({ level: 'silent' }),
      config: config!,
      intervalOf: () => 30_000,
      every: 3_600_000,
      ...(configured ? { configured } : {}),
      transport:
        transport ??
        (async (_url, init) => {
          const body = JSON.parse(init.body) as { type: string };
          delivered.push({ by: id, key: init.headers['idempotency-key'] ?? '', type: body.type });
          return { status: 200 };
        }),
    });
  };
  /** One run of `web` now, by agent a (eu-west) or b (us-east). */
  const run = (by: 'a' | 'b', status: 'pass' | 'fail') => {
    runs.push({
      id: runs.length + 1,
      uid: `run-${runs.length + 1}`,
      probe: 'web',
      kind: 'http',
      startedAt: clock.now(),
      durationMs: 5,
      status,
      attempts: 1,
      message: status === 'fail' ? 'HTTP 503' : 'ok',
      error: null,
      observations: {},
      assertions: [],
      phases: {},
      location: by === 'a' ? 'eu-west' : 'us-east',
      agent: by,
    });
  };
  return { clock, run, agent, delivered, failures, lead: (id: string) => (leader = id) };
}

/** Both agents take a round; then what either queued has been tried. */
async function rounds(...agents: FleetAlerting[]): Promise<void> {
  for (const a of agents) await a.poll();
  for (const a of agents) await a.alerts.outbox.drain();
}

describe('fleet alerting over a shared store', () => {
  test('the lead moves twice during an incident: it fires once, resolves once, and the quorum change made in between is not missed', async () => {
    const f = fleet('lead-moves');
    const a = f.agent('a');
    const b = f.agent('b');
    f.run('a', 'fail');
    f.run('b', 'pass');
    await rounds(a, b);
    assert.equal(f.delivered.length, 0, 'eu-west alone is a local failure');
    assert.equal(a.leading(), true);
    assert.equal(b.leading(), false);
    const local = (await b.alerts.list())[0];
    assert.equal((local?.local as { message: string } | null)?.message, 'failing only from eu-west since 12:00 UTC');

    // us-east fails too, and the lead moves to b before a has read it.
    f.clock.advance(30_000);
    f.run('a', 'fail');
    f.run('b', 'fail');
    f.lead('b');
    f.clock.advance(15_000); // the failover: a's lease runs out before b takes the lead
    await rounds(a, b);
    assert.equal(a.leading(), false);
    assert.deepEqual(
      f.delivered.map((d) => d.type),
      ['alert.firing'],
      'the new leader read back over what a had not evaluated',
    );

    // Back to a while firing: it reads back over everything b evaluated, and pages nothing again.
    f.clock.advance(30_000);
    f.run('a', 'fail');
    f.run('b', 'fail');
    f.lead('a');
    await rounds(a, b);
    assert.equal(f.delivered.length, 1);

    f.clock.advance(30_000);
    f.run('a', 'pass');
    f.run('b', 'pass');
    await rounds(a, b);
    f.lead('b');
    f.clock.advance(30_000);
    f.run('a', 'pass');
    await rounds(a, b);
    assert.deepEqual(
      f.delivered.map((d) => d.type),
      ['alert.firing', 'alert.resolved'],
    );
    assert.equal(new Set(f.delivered.map((d) => d.key)).size, 2);
    assert.equal((await a.alerts.list())[0]?.status, 'ok');
    await a.stop();
    await b.stop();
  });

  test("a probe the leader's configuration lacks resolves only once no agent has run it for 10 minutes", async () => {
    const f = fleet('gone');
    const a = f.agent('a', undefined, (probe) => probe !== 'web');
    const types = () => f.delivered.map((d) => d.type);
    f.run('a', 'fail');
    f.run('b', 'fail');
    await rounds(a);
    assert.deepEqual(types(), ['alert.firing']);
    // 12 minutes of a rolling deploy: agents still on the old configuration run it, and the alert stands.
    for (let i = 0; i < 24; i++) {
      f.clock.advance(30_000);
      f.run('a', 'fail');
      f.run('b', 'fail');
      await rounds(a);
    }
    assert.deepEqual(types(), ['alert.firing'], 'runs still come: the probe is not gone');
    // Then nobody runs it: after 10 minutes without a run it is resolved as removed, once.
    for (let i = 0; i < 19; i++) {
      f.clock.advance(30_000);
      await rounds(a);
    }
    assert.deepEqual(types(), ['alert.firing'], 'not before 10 minutes');
    for (let i = 0; i < 4; i++) {
      f.clock.advance(30_000);
      await rounds(a);
    }
    assert.deepEqual(types(), ['alert.firing', 'alert.resolved']);
    const [alert] = await a.alerts.list();
    assert.equal(alert?.status, 'ok');
    assert.equal(alert?.summary, REMOVED_PROBE_REASON);
    await a.stop();
  });

  test('a leader whose configuration has the probe never resolves its alert for want of runs', async () => {
    const f = fleet('kept');
    const a = f.agent('a', undefined, (probe) => probe === 'web');
    f.run('a', 'fail');
    f.run('b', 'fail');
    await rounds(a);
    for (let i = 0; i < 30; i++) {
      f.clock.advance(60_000);
      await rounds(a);
    }
    assert.deepEqual(
      f.delivered.map((d) => d.type),
      ['alert.firing'],
    );
    await a.stop();
  });

  test('an agent that dies mid-delivery: the other sends the notification once the lease ends, with the same Idempotency-Key', async () => {
    const f = fleet('sender-dies');
    const hung: Array<{ key: string; answer: (result: SendResult) => void }> = [];
    const a = f.agent('a', (_url, init) => {
      return new Promise((resolve) => hung.push({ key: init.headers['idempotency-key'] ?? '', answer: resolve }));
    });
    const b = f.agent('b');
    f.run('a', 'fail');
    f.run('b', 'fail');
    await a.poll();
    assert.equal(hung.length, 1, 'a has the firing in flight');
    void a.stop(); // a dies: its attempt never ends, its lease is not freed
    f.lead('b');
    await rounds(b);
    assert.equal(f.delivered.length, 0, 'not while the lease runs (timeout 10 s + 30 s)');
    f.clock.advance(39_000);
    await rounds(b);
    assert.equal(f.delivered.length, 0);
    f.clock.advance(2_000);
    await rounds(b);
    assert.deepEqual(f.delivered, [{ by: 'b', key: hung[0]!.key, type: 'alert.firing' }]);
    // a's attempt ends after all: its result does not overwrite the row b settled.
    hung[0]!.answer({ status: 200 });
    await new Promise((r) => setTimeout(r, 20));
    const rows = await b.alerts.outbox.rows();
    assert.deepEqual(
      rows.map((r) => [r.status, r.attempts]),
      [['delivered', 1]],
    );
    await b.stop();
  });

  test('a read the store fails: the round still sends what is due, and the next one reads on from where it stopped', async () => {
    const f = fleet('read-fails');
    const a = f.agent('a');
    await a.poll();
    const key = await a.alerts.sendTest('hook');
    f.run('a', 'fail');
    f.run('b', 'fail');
    f.failures.reads = 1;
    await assert.rejects(a.poll(), /connection to the store lost/);
    await new Promise((r) => setTimeout(r, 20)); // the attempt the round started ends
    assert.deepEqual(f.delivered, [{ by: 'a', key, type: 'alert.test' }]);
    await a.poll();
    await a.alerts.outbox.drain();
    assert.deepEqual(
      f.delivered.map((d) => d.type),
      ['alert.test', 'alert.firing'],
    );
    await a.stop();
  });
});
