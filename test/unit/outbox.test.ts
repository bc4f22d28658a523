import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { Outbox, type Transport } from '../../src/alerting/outbox.ts';
import { judge, type SendResult } from '../../src/alerting/delivery.ts';
import type { Notification } from '../../src/alerting/notification.ts';
import { thisHost } from '../../src/util/process-alive.ts';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-outbox-unit-'));
const stores: SqliteStore[] = [];
after(() => {
  stores.forEach((s) => s.close());
  rmSync(dir, { recursive: true, force: true });
});

let dbCount = 0;
function database(clock: ManualClock, path = join(dir, `db-${++dbCount}.sqlite`)): SqliteStore {
  const store = new SqliteStore(path, clock);
  stores.push(store);
  return store;
}

const quiet = pino({ level: 'silent' });
const CHANNELS = [
  { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 'a-long-secret' },
  { name: 'slow', type: 'webhook', url: 'http://127.0.0.1:9/slow' },
];

function outbox(
  store: SqliteStore,
  clock: ManualClock,
  transport: Transport,
  channels: string[] = ['hook', 'slow'],
): Outbox {
  const { config, issues } = parseAlertsSection({
    channels: CHANNELS.filter((c) => channels.includes(c.name)),
    delivery: { initialBackoff: '1s', maxBackoff: '1m', expireAfter: '1h', concurrency: 4 },
  });
  assert.deepEqual(issues, []);
  return new Outbox({
    outbox: store.outbox,
    clock,
    logger: quiet,
    channels: config!.channels,
    delivery: config!.delivery,
    transport,
    random: () => 1,
  });
}

function notification(alert: string, event: Notification['event'], at: number): Notification {
  return {
    key: `${alert}-${event}-${at}`,
    event,
    createdAt: at,
    alert: { id: alert, rule: 'down', target: alert, severity: 'critical', summary: 's', startedAt: at, labels: {} },
  };
}

/** A transport whose answers the test gives by hand, one per request, in order. */
function manualTransport() {
  const waiting: Array<{ url: string; key: string; type: string; answer: (r: SendResult) => void }> = [];
  const transport: Transport = (url, init) =>
    new Promise((resolve) =>
      waiting.push({
        url,
        key: init.headers['idempotency-key'] ?? '',
        type: (JSON.parse(init.body) as { type: string }).type,
        answer: resolve,
      }),
    );
  return { transport, waiting };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('outbox leases', () => {
  test('a row leased by one outbox is never sent by another on the same database', async () => {
    const clock = new ManualClock(T0);
    const path = join(dir, 'shared.sqlite');
    const first = manualTransport();
    const a = outbox(database(clock, path), clock, first.transport);
    const sentByB: string[] = [];
    const b = outbox(
      database(clock, path),
      clock,
      async (_url, init) => (sentByB.push(init.headers['idempotency-key'] ?? ''), { status: 200 }),
    );
    await a.enqueue(notification('x', 'firing', T0), ['hook']);
    await a.pump();
    assert.equal(first.waiting.length, 1, 'a has it in flight');
    assert.equal(await b.drain(), 0);
    assert.deepEqual(sentByB, [], 'b does not send what a holds');
    const row = (await a.rows())[0]!;
    assert.match(row.leaseOwner ?? '', new RegExp(`^${process.pid}@`));
    assert.ok((row.leaseUntil ?? 0) > T0);
    first.waiting[0]!.answer({ status: 200 });
    await a.drain();
    assert.equal(await b.drain(), 0);
    assert.deepEqual(sentByB, []);
    assert.equal((await a.counts()).delivered, 1);
    assert.equal((await a.rows())[0]?.leaseOwner, null, 'the lease ends with the attempt');
  });

  test('a lease that ran out (its sender stalled or died) is taken over', async () => {
    const clock = new ManualClock(T0);
    const path = join(dir, 'stalled.sqlite');
    const stalled = manualTransport();
    const a = outbox(database(clock, path), clock, stalled.transport);
    const b = outbox(database(clock, path), clock, async () => ({ status: 204 }));
    await a.enqueue(notification('x', 'firing', T0), ['hook']);
    await a.pump();
    clock.advance(10_000 + 29_000);
    assert.equal(await b.drain(), 0, 'still within timeout + margin');
    clock.advance(2_000);
    assert.equal(await b.drain(), 1);
    assert.equal((await b.counts()).delivered, 1);
    // The stalled attempt ends late: its result does not overwrite the row.
    stalled.waiting[0]!.answer({ status: 503 });
    await settle();
    assert.equal((await b.rows())[0]?.status, 'delivered');
    assert.equal((await b.rows())[0]?.attempts, 1);
  });

  test('leases of a process that is gone are freed at once; a live one keeps its rows', async () => {
    const clock = new ManualClock(T0);
    const store = database(clock);
    const box = outbox(store, clock, async () => ({ status: 200 }));
    await box.enqueue(notification('dead', 'firing', T0), ['hook']);
    await box.enqueue(notification('live', 'firing', T0), ['hook']);
    const lease = store.db.prepare('UPDATE alert_outbox SET lease_owner = ?, lease_until = ? WHERE alert_id = ?');
    lease.run(`2147483646@${thisHost()}/gone`, T0 + 60_000, 'dead');
    lease.run(`${process.ppid}@${thisHost()}/alive`, T0 + 60_000, 'live');
    assert.equal(await box.releaseOrphanedLeases(), 1);
    const owners = Object.fromEntries((await box.rows()).map((r) => [r.alertId, r.leaseOwner]));
    assert.equal(owners.dead, null);
    assert.equal(owners.live, `${process.ppid}@${thisHost()}/alive`);
  });

  test('deliverOwn sends its own row and nothing else', async () => {
    const clock = new ManualClock(T0);
    const sent: string[] = [];
    const box = outbox(
      database(clock),
      clock,
      async (_url, init) => (sent.push(init.headers['idempotency-key'] ?? ''), { status: 200 }),
    );
    await box.enqueue(notification('a', 'firing', T0), ['hook']);
    await box.enqueue(notification('b', 'firing', T0), ['hook', 'slow']);
    await box.enqueue(notification('t', 'test', T0), ['hook']);
    const own = (await box.find(`t-test-${T0}`, 'hook'))!;
    const row = await box.deliverOwn(own.id, 1000);
    assert.equal(row?.status, 'delivered');
    assert.deepEqual(sent, [`t-test-${T0}`]);
    assert.equal((await box.counts()).pending, 3);
    assert.ok((await box.rows({ status: 'pending' })).every((r) => r.attempts === 0));
  });

  test('rows of a channel this configuration lacks are expired only when asked, after a grace period, never while leased', async () => {
    const clock = new ManualClock(T0);
    const store = database(clock);
    const everything = outbox(store, clock, async () => ({ status: 200 }));
    await everything.enqueue(notification('a', 'firing', T0), ['slow']);
    await everything.enqueue(notification('b', 'firing', T0), ['slow']);
    store.db
      .prepare('UPDATE alert_outbox SET lease_owner = ?, lease_until = ? WHERE alert_id = ?')
      .run('someone', T0 + 10 * 60_000, 'b');
    const hookOnly = outbox(store, clock, async () => ({ status: 200 }), ['hook']);
    clock.advance(5 * 60_000);
    assert.equal(await hookOnly.drain(), 0);
    assert.equal((await hookOnly.counts()).pending, 2, 'draining leaves other channels alone');
    clock.set(T0 + 30_000);
    assert.equal(await hookOnly.expireUnconfigured(), 0, 'whoever queued it may still be trying');
    clock.set(T0 + 61_000);
    assert.equal(await hookOnly.expireUnconfigured(), 1);
    const byAlert = Object.fromEntries((await hookOnly.rows()).map((r) => [r.alertId, r]));
    assert.equal(byAlert.a?.status, 'expired');
    assert.match(byAlert.a?.lastError ?? '', /channel slow is not in the daemon's configuration/);
    assert.equal(byAlert.b?.status, 'pending', 'leased rows are left to their sender');
  });
});

describe('channels are independent', () => {
  test('a hung channel does not delay another, not even for notifications queued while it hangs', async () => {
    const clock = new ManualClock(T0);
    const hung = manualTransport();
    const sent: string[] = [];
    const transport: Transport = async (url, init) => {
      if (url.endsWith('/slow')) return hung.transport(url, init);
      sent.push(init.headers['idempotency-key'] ?? '');
      return { status: 200 };
    };
    const box = outbox(database(clock), clock, transport);
    await box.enqueue(notification('a', 'firing', T0), ['hook', 'slow']);
    await box.pump();
    await settle();
    assert.deepEqual(sent, [`a-firing-${T0}`]);
    clock.advance(1000);
    await box.enqueue(notification('b', 'firing', T0 + 1000), ['hook', 'slow']);
    await box.pump();
    await settle();
    assert.deepEqual(
      sent,
      [`a-firing-${T0}`, `b-firing-${T0 + 1000}`],
      'the second went out while the slow channel still hangs',
    );
    assert.equal(hung.waiting.length, 2, 'the slow channel has both in flight (its own slots)');
    for (const w of hung.waiting) w.answer({ error: 'TIMEOUT' });
    await box.drain();
    assert.equal((await box.counts()).delivered, 2);
  });
});

describe('order per alert and channel', () => {
  test('a resolution waits for its firing, which is retried first', async () => {
    const clock = new ManualClock(T0);
    const manual = manualTransport();
    const box = outbox(database(clock), clock, manual.transport, ['hook']);
    await box.enqueue(notification('x', 'firing', T0), ['hook']);
    await box.pump();
    await box.enqueue(notification('x', 'resolved', T0), ['hook']);
    await box.enqueue(notification('y', 'firing', T0), ['hook']);
    await box.pump();
    assert.deepEqual(
      manual.waiting.map((w) => `${w.key.split('-')[0]} ${w.type}`),
      ['x alert.firing', 'y alert.firing'],
      'the resolution is not sent beside its firing',
    );
    manual.waiting.shift()!.answer({ status: 503 });
    manual.waiting.shift()!.answer({ status: 200 });
    await settle();
    assert.equal(manual.waiting.length, 0, 'the firing backs off, and its resolution waits behind it');
    clock.advance(1000);
    await box.pump();
    assert.deepEqual(
      manual.waiting.map((w) => w.type),
      ['alert.firing'],
    );
    manual.waiting.shift()!.answer({ status: 200 });
    await settle();
    assert.deepEqual(
      manual.waiting.map((w) => w.type),
      ['alert.resolved'],
      'sent as soon as its firing is delivered',
    );
    manual.waiting.shift()!.answer({ status: 200 });
    await box.drain();
    assert.equal((await box.counts()).delivered, 3);
  });

  test('test notifications are not held behind a pending test to the same channel', async () => {
    const clock = new ManualClock(T0);
    const sent: string[] = [];
    const box = outbox(
      database(clock),
      clock,
      async (_url, init) => (sent.push(init.headers['idempotency-key'] ?? ''), { status: 200 }),
      ['hook'],
    );
    await box.enqueue({ ...notification('t', 'test', T0), key: 'first' }, ['hook']);
    await box.enqueue({ ...notification('t', 'test', T0), key: 'second' }, ['hook']);
    const second = (await box.find('second', 'hook'))!;
    await box.deliverOwn(second.id, 1000);
    assert.deepEqual(sent, ['second']);
  });
});

describe('permanent client errors', () => {
  const base = { attempts: 1, expiresAt: T0 + 3_600_000, now: T0, backoff: 1000, clientErrorAttempts: 3 };
  test('400, 401, 403, 404, 410, 413, 422 stop after the configured attempts; 408, 409, 425, 429 and 5xx keep retrying', () => {
    for (const status of [400, 401, 403, 404, 410, 413, 422]) {
      assert.equal(judge({ status, answer: 'no' }, { ...base, attempts: 2 }).kind, 'retry', `${status} on attempt 2`);
      assert.deepEqual(judge({ status, answer: 'no' }, { ...base, attempts: 3 }), {
        kind: 'failed',
        status,
        error: `HTTP ${status}`,
        answer: 'no',
      });
    }
    for (const status of [408, 409, 425, 429, 500, 502, 503, 301])
      assert.equal(judge({ status }, { ...base, attempts: 50 }).kind, 'retry', String(status));
    assert.equal(judge({ error: 'ECONNREFUSED' }, { ...base, attempts: 50 }).kind, 'retry');
  });

  test('Retry-After: 0 falls back to the backoff, so a receiver cannot make us spin', () => {
    assert.deepEqual(judge({ status: 429, retryAfter: '0' }, base), {
      kind: 'retry',
      at: T0 + 1000,
      status: 429,
      error: 'HTTP 429',
      answer: null,
    });
    assert.equal((judge({ status: 429, retryAfter: '7' }, base) as { at: number }).at, T0 + 7000);
  });

  test('a 400 is marked failed with the receiver answer after 3 attempts, and what follows it goes on', async () => {
    const clock = new ManualClock(T0);
    const types: string[] = [];
    const box = outbox(
      database(clock),
      clock,
      async (_url, init) => {
        const type = (JSON.parse(init.body) as { type: string }).type;
        types.push(type);
        return type === 'alert.firing' ? { status: 400, answer: '{"error":"unknown routing key"}' } : { status: 202 };
      },
      ['hook'],
    );
    await box.enqueue(notification('x', 'firing', T0), ['hook']);
    await box.enqueue(notification('x', 'resolved', T0), ['hook']);
    for (let i = 0; i < 10; i++) {
      await box.drain();
      clock.advance(5000);
    }
    assert.deepEqual(types, ['alert.firing', 'alert.firing', 'alert.firing', 'alert.resolved']);
    const [failed] = await box.rows({ status: 'failed' });
    assert.equal(failed?.attempts, 3);
    assert.equal(failed?.lastStatus, 400);
    assert.equal(failed?.lastError, 'HTTP 400');
    assert.equal(failed?.lastResponse, '{"error":"unknown routing key"}');
    assert.ok(failed?.finishedAt);
    assert.deepEqual(await box.counts(), { pending: 0, delivered: 1, failed: 1, expired: 0 });
  });
});

describe('migration', () => {
  test('rows queued before leases existed are kept, pending and unleased; failed is a status now', async () => {
    const { MIGRATIONS } = await import('../../src/store/sqlite/migrations.ts');
    const Database = (await import('better-sqlite3')).default;
    const path = join(dir, 'old.sqlite');
    const old = new Database(path);
    old.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const migration of MIGRATIONS.filter((m) => !/outbox leases/.test(m.name))) {
      old.exec(migration.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(migration.version, migration.name, T0);
    }
    old
      .prepare(
        `INSERT INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at, attempts, last_status, last_error) VALUES ('k', 'a', 'hook', 'firing', '{}', ?, ?, ?, 2, 503, 'HTTP 503')`,
      )
      .run(T0, T0 + 60_000, T0);
    old.close();
    const clock = new ManualClock(T0);
    const box = outbox(database(clock, path), clock, async () => ({ status: 400, answer: 'nope' }), ['hook']);
    assert.deepEqual(
      (await box.rows()).map((r) => [
        r.key,
        r.status,
        r.attempts,
        r.lastStatus,
        r.lastError,
        r.lastResponse,
        r.leaseOwner,
      ]),
      [['k', 'pending', 2, 503, 'HTTP 503', null, null]],
    );
    await box.drain();
    assert.equal((await box.rows())[0]?.status, 'failed', 'its third attempt was a 400');
  });
});
