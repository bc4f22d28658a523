import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { DaemonLock, DatabaseInUseError } from '../../src/store/daemon-lock.ts';
import { thisHost } from '../../src/util/process-alive.ts';

const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-lock-unit-'));
const stores: SqliteStore[] = [];
after(() => {
  stores.forEach((s) => s.close());
  rmSync(dir, { recursive: true, force: true });
});

let dbCount = 0;
function database(clock: ManualClock): SqliteStore {
  const store = new SqliteStore(join(dir, `db-${++dbCount}.sqlite`), clock);
  stores.push(store);
  return store;
}

describe('one daemon per database', () => {
  function lock(
    store: SqliteStore,
    clock: ManualClock,
    extra: Partial<ConstructorParameters<typeof DaemonLock>[0]> = {},
  ) {
    return new DaemonLock({ locks: store.lock, path: 'data/x.db', clock, heartbeatMs: 60_000, ...extra });
  }

  test("a second daemon is refused with a sentence naming the first one's pid", () => {
    const clock = new ManualClock(Date.now());
    const store = database(clock);
    const first = lock(store, clock, { pid: process.ppid });
    assert.deepEqual(first.acquire(), {});
    const second = lock(store, clock);
    assert.throws(
      () => second.acquire(),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseInUseError);
        assert.match(
          error.message,
          new RegExp(
            `^data/x\\.db is in use by another scaiprobe daemon \\(pid ${process.ppid} on ${thisHost()}, running since .*, last heartbeat 0s ago\\): stop it, or give this daemon another store\\.path$`,
          ),
        );
        return true;
      },
    );
    first.release();
    assert.deepEqual(second.acquire(), {});
    second.release();
  });

  test('another daemon in this same process is refused too', () => {
    const clock = new ManualClock(Date.now());
    const store = database(clock);
    const first = lock(store, clock);
    first.acquire();
    assert.throws(() => lock(store, clock).acquire(), DatabaseInUseError);
    first.release();
  });

  test('a crashed daemon does not block a restart: dead pid, stale heartbeat, or this pid in an earlier life', () => {
    const clock = new ManualClock(Date.now());
    const store = database(clock);
    const put = store.db.prepare(
      'INSERT OR REPLACE INTO daemon_lock (id, owner, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?)',
    );
    put.run('crashed', 2147483646, thisHost(), clock.now() - 1000, clock.now());
    const replacing = lock(store, clock);
    assert.deepEqual(replacing.acquire(), {
      replaced: {
        owner: 'crashed',
        pid: 2147483646,
        host: thisHost(),
        startedAt: clock.now() - 1000,
        heartbeatAt: clock.now(),
      },
      reason: 'pid 2147483646 is not running',
    });
    replacing.release();
    put.run('elsewhere', process.ppid, 'another-host', clock.now() - 60_000, clock.now() - 31_000);
    assert.match(lock(store, clock).acquire().reason ?? '', /no heartbeat for 31s/);
    put.run('elsewhere', process.ppid, 'another-host', clock.now() - 60_000, clock.now() - 5_000);
    assert.throws(
      () => lock(store, clock).acquire(),
      /pid \d+ on another-host/,
      'a live holder elsewhere is only known by its heartbeat',
    );
    put.run('container', process.pid, thisHost(), clock.now() - 3_600_000 * 24 * 365, clock.now());
    assert.match(lock(store, clock).acquire().reason ?? '', /is a new process now/);
  });

  test('a daemon that was taken over notices at its next heartbeat', () => {
    const clock = new ManualClock(Date.now());
    const store = database(clock);
    const lost: Array<number | undefined> = [];
    const first = lock(store, clock, { pid: process.ppid, onLost: (holder) => lost.push(holder?.pid) });
    first.acquire();
    first.beat();
    assert.deepEqual(lost, []);
    clock.advance(40_000);
    const second = lock(store, clock);
    assert.match(second.acquire().reason ?? '', /no heartbeat/);
    first.beat();
    assert.deepEqual(lost, [process.pid]);
    second.release();
  });
});
