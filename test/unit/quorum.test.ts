// Quorum rules: a probe's locations must agree before an alert pages; fewer is a local failure, noted and not paged.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { asyncStoreOf } from '../../src/store/async-store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { AlertService } from '../../src/alerting/service.ts';
import type { Transport } from '../../src/alerting/outbox.ts';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const stores: SqliteStore[] = [];
after(() => stores.forEach((s) => s.close()));

function setup(rule: Record<string, unknown>, live?: string[], interval?: number) {
  const clock = new ManualClock(T0);
  const sqlite = new SqliteStore(':memory:', clock);
  stores.push(sqlite);
  const sent: string[] = [];
  const transport: Transport = async (_url, init) => {
    const body = JSON.parse(init.body) as { type: string; alert: { summary: string } };
    sent.push(`${body.type} ${body.alert.summary}`);
    return { status: 200 };
  };
  const { config, issues } = parseAlertsSection({
    channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    rules: [{ name: 'down', probes: ['web'], successes: 1, ...rule }],
  });
  assert.deepEqual(issues, []);
  const alerts = new AlertService({
    store: asyncStoreOf(sqlite),
    clock,
    logger: pino({ level: 'silent' }),
    config: config!,
    transport,
    locations: {
      ...(live ? { live: () => live } : {}),
      ...(interval !== undefined ? { interval: () => interval } : {}),
    },
  });
  /** One run of `web` from `location`, started now, then whatever it queued is sent. */
  const run = async (location: string | undefined, status: 'pass' | 'fail') => {
    const message = status === 'fail' ? `HTTP 503 from ${location ?? 'here'}` : 'ok';
    await alerts.onRun({ probe: 'web', kind: 'http', status, message, location, startedAt: clock.now() });
    await alerts.tick();
  };
  const alert = async () => (await alerts.list()).find((a) => a.rule === 'down')!;
  const changes = () => sqlite.stateChanges.list({ subjectPrefix: 'alert:' }).map((c) => `${c.from} > ${c.to}`);
  return { clock, alerts, run, alert, sent, changes };
}

describe('quorum in the configuration', () => {
  test('a number of at least 1 or majority, on probe rules only', () => {
    const rule = (quorum: unknown, extra: Record<string, unknown> = {}) =>
      parseAlertsSection({ rules: [{ name: 'r', quorum, ...extra }] }).issues.map(
        (i) => `${i.path.join('.')}: ${i.message}`,
      );
    assert.deepEqual(rule(2), []);
    assert.deepEqual(rule('majority'), []);
    assert.equal(rule(0).length, 1);
    assert.equal(rule(1.5).length, 1);
    assert.equal(rule('most').length, 1);
    assert.deepEqual(rule(2, { indicators: ['*'] }), [
      'alerts.rules.0.quorum: quorum counts the locations a probe runs from; an indicator rule has none',
    ]);
  });
});

describe('quorum over locations', () => {
  test('1 of 2 locations failing under quorum 2: no notification, a local failure noted with its locations and since', async () => {
    const q = setup({ quorum: 2 }, ['eu-west', 'us-east']);
    await q.run('us-east', 'pass');
    q.clock.advance(2 * 60_000);
    await q.run('eu-west', 'fail');
    q.clock.advance(30_000);
    await q.run('us-east', 'pass');
    await q.run('eu-west', 'fail');
    assert.deepEqual(q.sent, []);
    const alert = await q.alert();
    assert.equal(alert.status, 'ok');
    assert.deepEqual(alert.local, {
      locations: ['eu-west'],
      since: new Date(T0 + 2 * 60_000).toISOString(),
      message: 'failing only from eu-west since 12:02 UTC',
    });
    assert.deepEqual(q.changes(), ['ok > local'], 'kept as a state change, once');
    q.clock.advance(60_000);
    await q.run('eu-west', 'pass');
    assert.equal((await q.alert()).local, null);
    assert.deepEqual(q.changes(), ['ok > local', 'local > ok']);
    assert.deepEqual(q.sent, []);
  });

  test('2 of 2 failing fires exactly once and resolves once', async () => {
    const q = setup({ quorum: 2 }, ['eu-west', 'us-east']);
    await q.run('eu-west', 'fail');
    await q.run('us-east', 'fail');
    for (let i = 0; i < 3; i++) {
      q.clock.advance(60_000);
      await q.run('eu-west', 'fail');
      await q.run('us-east', 'fail');
    }
    assert.deepEqual(q.sent, ['alert.firing HTTP 503 from eu-west (failing from eu-west, us-east)']);
    assert.equal((await q.alert()).status, 'firing');
    q.clock.advance(60_000);
    await q.run('eu-west', 'pass');
    await q.run('us-east', 'fail');
    q.clock.advance(60_000);
    await q.run('us-east', 'pass');
    await q.run('eu-west', 'pass');
    assert.equal(q.sent.length, 2);
    assert.match(q.sent[1]!, /^alert\.resolved /);
    // eu-west alone first (local), then both (firing); resolved while us-east still failed, which ended with its next pass.
    assert.deepEqual(q.changes(), ['ok > local', 'ok > firing', 'firing > resolved', 'local > ok']);
    assert.equal((await q.alert()).status, 'ok');
    assert.equal((await q.alert()).local, null);
  });

  test('majority of 3 live locations is 2; a location that is not live does not count', async () => {
    const q = setup({ quorum: 'majority' }, ['a', 'b', 'c']);
    await q.run('a', 'fail');
    await q.run('d', 'fail');
    assert.deepEqual(q.sent, [], 'a alone is not a majority of 3, and d has no live agent');
    assert.deepEqual((await q.alert()).local, {
      locations: ['a'],
      since: new Date(T0).toISOString(),
      message: 'failing only from a since 12:00 UTC',
    });
    await q.run('c', 'fail');
    assert.equal(q.sent.length, 1);
    assert.match(q.sent[0]!, /^alert\.firing .*\(failing from a, c\)$/);
    await q.run('b', 'fail');
    assert.equal(q.sent.length, 1, 'fires once');
  });

  test('majority of 4 live locations needs 3', async () => {
    const q = setup({ quorum: 'majority' }, ['a', 'b', 'c', 'd']);
    await q.run('a', 'fail');
    await q.run('b', 'fail');
    assert.deepEqual(q.sent, []);
    await q.run('c', 'fail');
    assert.equal(q.sent.length, 1);
  });

  test('a location silent for more than 3 intervals no longer counts', async () => {
    const q = setup({ quorum: 2 }, undefined, 60_000);
    await q.run('eu-west', 'fail');
    q.clock.advance(3 * 60_000 + 1);
    await q.run('us-east', 'fail');
    assert.deepEqual(q.sent, [], "eu-west's failure is too old to agree with");
    q.clock.advance(30_000);
    await q.run('eu-west', 'fail');
    assert.equal(q.sent.length, 1);
  });

  test('runs read late (spooled while the database was away) are judged at their own time: the failure still pages', async () => {
    const q = setup({}, undefined, 1_000);
    const late = (status: 'pass' | 'fail', at: number) =>
      q.alerts.onRun({ probe: 'web', kind: 'http', status, message: status, location: 'eu-west', startedAt: at });
    q.clock.advance(60_000);
    await late('pass', T0);
    await late('fail', T0 + 1_000);
    await late('pass', T0 + 2_000);
    await q.alerts.tick();
    assert.deepEqual(
      q.sent.map((s) => s.split(' ')[0]),
      ['alert.firing', 'alert.resolved'],
    );
  });

  test('a run read twice changes nothing: no second page, and an old failure read after the recovery does not fire again', async () => {
    const q = setup({ quorum: 2 }, ['eu-west', 'us-east']);
    const failing = {
      probe: 'web',
      kind: 'http',
      status: 'fail' as 'pass' | 'fail',
      message: 'HTTP 503',
      startedAt: T0,
    };
    const feed = async (...runs: Array<Partial<typeof failing> & { location: string }>) => {
      for (const r of runs) await q.alerts.onRun({ ...failing, ...r });
      await q.alerts.tick();
    };
    await feed({ location: 'eu-west' }, { location: 'us-east' });
    q.clock.advance(60_000);
    await feed({ location: 'eu-west' }, { location: 'us-east' }, { location: 'eu-west' });
    assert.deepEqual(q.sent, ['alert.firing HTTP 503 (failing from eu-west, us-east)']);
    assert.deepEqual(q.changes(), ['ok > local', 'ok > firing']);
    await feed({ location: 'us-east', status: 'pass', startedAt: T0 + 60_000 });
    assert.equal(q.sent.length, 2);
    assert.match(q.sent[1]!, /^alert\.resolved /);
    await feed({ location: 'us-east' }, { location: 'eu-west' });
    assert.equal(q.sent.length, 2, 'the old failures are older than us-east pass');
    assert.equal((await q.alert()).status, 'ok');
  });

  test('two runs finishing together are judged one after the other over a store answering through Promises', async () => {
    const q = setup({ quorum: 2 }, ['eu-west', 'us-east']);
    const failing = { probe: 'web', kind: 'http', status: 'fail' as const, message: 'HTTP 503', startedAt: T0 };
    await Promise.all([
      q.alerts.onRun({ ...failing, location: 'eu-west' }),
      q.alerts.onRun({ ...failing, location: 'us-east' }),
    ]);
    await q.alerts.tick();
    assert.deepEqual(q.sent, ['alert.firing HTTP 503 (failing from eu-west, us-east)']);
  });

  test('runs without a location are judged one by one, as without quorum', async () => {
    const q = setup({ quorum: 2 }, ['eu-west', 'us-east']);
    await q.run(undefined, 'fail');
    assert.deepEqual(q.sent, ['alert.firing HTTP 503 from here']);
    await q.run(undefined, 'pass');
    assert.equal(q.sent.length, 2);
  });

  test('without quorum, one failing location is enough', async () => {
    const q = setup({}, ['eu-west', 'us-east']);
    await q.run('us-east', 'pass');
    await q.run('eu-west', 'fail');
    assert.deepEqual(q.sent, ['alert.firing HTTP 503 from eu-west (failing from eu-west)']);
  });
});
