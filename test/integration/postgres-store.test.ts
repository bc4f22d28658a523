// The PostgreSQL store: the repositories' contract on a private cluster, and what only it has (partitions, concurrent migrators, runsAfter).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/open.ts';
import type { PostgresTls } from '../../src/store/postgres/db.ts';
import type { PostgresStore } from '../../src/store/postgres/store.ts';
import { listPartitions } from '../../src/store/postgres/partitions.ts';
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts';
import { StoreOpenError } from '../../src/store/sqlite/open.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { DEFAULT_RETENTION } from '../../src/store/retention.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { repositorySuite } from '../store/repository-suite.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { freePort } from '../../src/lab/processes.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

let postgres: TestPostgres;
before(async () => {
  postgres = await startTestPostgres();
});
after(async () => {
  await postgres.stop();
});

// Every repository's contract, on a database of its own per test (a second store on it when a test asks for one).
let lastUrl = '';
repositorySuite('PostgreSQL', async (clock, options = {}) => {
  if (!options.shared) lastUrl = await postgres.freshDatabase();
  return openPostgresStore({ url: lastUrl, clock, tls: false });
});

function run(probe: string, startedAt: number, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    uid: `${probe}-${startedAt}`,
    probe,
    kind: 'http',
    startedAt,
    durationMs: 10,
    status: 'pass',
    attempts: 1,
    message: 'ok',
    error: null,
    observations: {},
    assertions: [],
    phases: {},
    items: [],
    ...extra,
  };
}

async function open(url: string, clock = new ManualClock(T0)): Promise<PostgresStore> {
  return openPostgresStore({ url, clock, tls: false });
}

/** Turns TLS on in the test cluster with the lab's certificate for localhost (plain connections still work). */
async function enableServerTls(url: string): Promise<void> {
  const admin = new pg.Client(url);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ data_directory: string }>('SHOW data_directory');
    const data = rows[0]?.data_directory ?? '';
    const owner = statSync(data);
    for (const [from, to] of [
      ['lab-services.pem', 'server.crt'],
      ['lab-services.key', 'server.key'],
    ] as const) {
      const target = join(data, to);
      copyFileSync(new URL(`../../src/lab/tls/${from}`, import.meta.url), target);
      chmodSync(target, 0o600);
      chownSync(target, owner.uid, owner.gid);
    }
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
    // The reload is asynchronous: wait until the server says it is on.
    for (let i = 0; i < 50; i++) {
      const shown = await admin.query<{ ssl: string }>('SHOW ssl');
      if (shown.rows[0]?.ssl === 'on') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('the server did not turn TLS on');
  } finally {
    await admin.end();
  }
}

describe('PostgreSQL only', () => {
  test('runs go to one partition per day, made on demand; retention drops whole days and trims the boundary one', async () => {
    const clock = new ManualClock(T0);
    const store = await open(await postgres.freshDatabase(), clock);
    try {
      await store.runs.recordAll([run('a', T0), run('a', T0 + DAY + HOUR), run('a', T0 + 2 * DAY + 12 * HOUR)]);
      await store.runs.record(run('a', T0 + 2 * DAY + 18 * HOUR));
      assert.deepEqual(
        (await listPartitions(store.db)).map((p) => p.name),
        ['runs_20260101', 'runs_20260102', 'runs_20260103'],
      );
      clock.set(T0 + 2 * DAY + 15 * HOUR + DEFAULT_RETENTION.raw);
      const { runsPruned } = await store.maintain(DEFAULT_RETENTION);
      assert.equal(runsPruned, 3, 'two days dropped whole, and the run before the cutoff in the third');
      assert.deepEqual(
        (await listPartitions(store.db)).map((p) => p.name),
        ['runs_20260103', 'runs_20260117', 'runs_20260118'],
        'the boundary day kept; today and tomorrow made ahead by maintenance',
      );
      assert.deepEqual(
        (await store.runs.list('a')).map((r) => r.startedAt),
        [T0 + 2 * DAY + 18 * HOUR],
      );
      // A day dropped and written again (a late run): made again.
      await store.runs.record(run('a', T0 + 30 * 60_000 + 1));
      assert.equal((await store.runs.list('a')).length, 2);
    } finally {
      await store.close();
    }
  });

  test('two stores creating the same partitions at once both write', async () => {
    const url = await postgres.freshDatabase();
    const [one, two] = await Promise.all([open(url), open(url)]);
    try {
      const batch = (agent: string) =>
        Array.from({ length: 5 }, (_, day) => run(`p-${agent}`, T0 + day * DAY, { agent }));
      await Promise.all([one.runs.recordAll(batch('one')), two.runs.recordAll(batch('two'))]);
      assert.equal((await listPartitions(one.db)).length, 5);
      assert.equal((await one.runs.list('p-one')).length + (await one.runs.list('p-two')).length, 10);
    } finally {
      await one.close();
      await two.close();
    }
  });

  test('agents writing the same probes from their locations at once: every run stored, each location its own status', async () => {
    const url = await postgres.freshDatabase();
    const agents = await Promise.all(['eu', 'us', 'ap'].map(() => open(url)));
    try {
      const probes = Array.from({ length: 20 }, (_, i) => `p${i}`);
      await Promise.all(
        ['eu', 'us', 'ap'].map(async (location, a) => {
          for (let minute = 0; minute < 10; minute++) {
            const batch = probes.map((probe) =>
              run(probe, T0 + minute * 60_000 + a, {
                location,
                agent: `${location}-1`,
                status: location === 'us' && minute >= 5 ? 'fail' : 'pass',
              }),
            );
            await agents[a]!.runs.recordAll(a === 1 ? batch.reverse() : batch);
          }
        }),
      );
      const store = agents[0]!;
      assert.equal((await store.runs.list('p7')).length, 30);
      assert.deepEqual((await store.stateChanges.list({ probe: 'p7' })).map((c) => [c.subject, c.to]).sort(), [
        ['@ap', 'pass'],
        ['@eu', 'pass'],
        ['@us', 'fail'],
        ['@us', 'pass'],
      ]);
    } finally {
      for (const agent of agents) await agent.close();
    }
  });

  test('a server that cannot be reached is refused with a sentence, and its error is a storage condition', async () => {
    const closed = postgres.server.url.replace(`:${postgres.server.port}/`, `:${await freePort()}/`);
    const refused = await open(closed).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(refused instanceof StoreOpenError);
    assert.match(refused.message, /^cannot open the database postgres:\/\/scaiprobe@127\.0\.0\.1:\d+\/scaiprobe: /);
    const store = await open(await postgres.freshDatabase());
    try {
      assert.match(store.storageCondition(refused.cause) ?? '', /^unreachable \(ECONNREFUSED\)/);
      assert.equal(store.storageCondition({ code: '53100' }), 'disk full');
      assert.equal(store.storageCondition({ code: '23505' }), undefined, 'a duplicate key is about the row');
    } finally {
      await store.close();
    }
  });

  test('TLS from the configuration: the server is verified against the given CA and name; false is plain', async () => {
    const url = await postgres.freshDatabase();
    await enableServerTls(url);
    const tlsDir = new URL('../../src/lab/tls/', import.meta.url);
    const ca = readFileSync(new URL('lab-ca.pem', tlsDir), 'utf8');
    const encrypted = async (tls: PostgresTls) => {
      const store = await openPostgresStore({ url: `${url}?sslmode=disable`, clock: new ManualClock(T0), tls });
      try {
        const { rows } = await store.db.query<{ ssl: boolean }>(
          'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        return rows[0]?.ssl;
      } finally {
        await store.close();
      }
    };
    assert.equal(await encrypted({ ca, serverName: 'localhost' }), true, 'the configuration wins over the URL');
    assert.equal(await encrypted(false), false);
    await assert.rejects(
      encrypted({ ca, serverName: 'other.example.test' }),
      StoreOpenError,
      'a name the certificate lacks',
    );
    await assert.rejects(encrypted({ serverName: 'localhost' }), StoreOpenError, 'a CA the system does not trust');
  });

  test('concurrent migrators: one applies each migration, the others wait and find them applied', async () => {
    const url = await postgres.freshDatabase();
    const stores = await Promise.all(Array.from({ length: 5 }, () => open(url)));
    try {
      const { rows } = await stores[0]!.db.query<{ version: number }>('SELECT version FROM schema_migrations');
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      for (const store of stores) await store.close();
    }
  });

  test('a database carrying a newer migration is refused with a sentence, without the password, and left as it is', async () => {
    const url = await postgres.freshDatabase();
    await (await open(url)).close();
    const admin = new pg.Client(url);
    await admin.connect();
    try {
      await admin.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', 0)`);
      const withPassword = url.replace('scaiprobe@', 'scaiprobe:s3cret@');
      const refused = await open(withPassword).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.ok(refused instanceof StoreOpenError);
      assert.match(refused.message, /written by a newer scaiprobe: it carries migration 99 \(from the future\)/);
      assert.doesNotMatch(refused.message, /s3cret/);
      const { rows } = await admin.query('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows[0].n, MIGRATIONS.length + 1);
    } finally {
      await admin.end();
    }
  });

  test('the location is the URL without its password', async () => {
    const url = await postgres.freshDatabase();
    const store = await open(url.replace('scaiprobe@', 'scaiprobe:s3cret@'));
    try {
      assert.equal(store.location, url);
    } finally {
      await store.close();
    }
  });

  test('runsWithItemsAfter: each run with the items it reported, as a replica records them', async () => {
    const store = await open(await postgres.freshDatabase());
    try {
      const message = (key: string, placement: string, state?: string) => ({
        type: 'mail.message',
        key,
        ...(state ? { state } : {}),
        data: { seed: 'gmail', placement, timeToInboxMs: placement === 'inbox' ? 2000 : null },
      });
      const stored = await store.runs.recordAll([
        run('seeds', T0, {
          agent: 'eu-1',
          location: 'eu',
          tenant: 'acme',
          items: [message('1', 'inbox'), message('2', 'spam', 'late')],
        }),
        run('web', T0 + 1, { agent: 'us-1', location: 'us' }),
        run('seeds', T0 + 2, { agent: 'us-1', location: 'us', tenant: 'acme', items: [message('3', 'missing')] }),
      ]);
      const copied = await store.runsWithItemsAfter(new Map(), 100);
      assert.deepEqual(
        copied.map((r) => [r.id, r.location, r.agent, r.items]),
        [
          [stored[0]?.runId, 'eu', 'eu-1', [message('1', 'inbox'), message('2', 'spam', 'late')]],
          [stored[1]?.runId, 'us', 'us-1', []],
          [stored[2]?.runId, 'us', 'us-1', [message('3', 'missing')]],
        ],
      );
      const past = await store.runsWithItemsAfter(
        new Map([
          ['eu-1', stored[0]!.runId],
          ['us-1', stored[1]!.runId],
        ]),
        10,
      );
      assert.deepEqual(
        past.map((r) => r.items.map((i) => i.key)),
        [['3']],
        "past the cursors: the next run's items only",
      );
      // What a replica does with them: a local store records the copies, and the report's rows are placed by location.
      const local = new SqliteStore(':memory:', new ManualClock(T0));
      try {
        local.runs.recordAll(copied.map(({ id: _id, ...record }) => record));
        const rows = local.items.mailMessages({ type: 'mail.message', tenant: 'acme', since: T0, until: T0 + DAY });
        assert.deepEqual(
          rows.map((r) => [r.placement, r.location, r.tti]),
          [
            ['inbox', 'eu', 2000],
            ['spam', 'eu', null],
            ['missing', 'us', null],
          ],
        );
      } finally {
        local.close();
      }
    } finally {
      await store.close();
    }
  });

  test("runsAfter: each agent's runs past its cursor, of agents not named those since a time, oldest first, at most the limit", async () => {
    const store = await open(await postgres.freshDatabase());
    try {
      const stored = await store.runs.recordAll([
        run('a', T0, { agent: 'eu-1', location: 'eu' }),
        run('a', T0 + 1, { agent: 'us-1', location: 'us' }),
        run('b', T0 + 2),
        run('a', T0 + 3, { agent: 'eu-1', location: 'eu' }),
        run('a', T0 + 4, { agent: 'us-1', location: 'us' }),
      ]);
      const ids = stored.map((r) => r.runId);
      const all = await store.runsAfter(new Map(), 100);
      assert.deepEqual(
        all.map((r) => [r.agent, r.location, r.startedAt - T0]),
        [
          ['eu-1', 'eu', 0],
          ['us-1', 'us', 1],
          [undefined, undefined, 2],
          ['eu-1', 'eu', 3],
          ['us-1', 'us', 4],
        ],
      );
      const past = await store.runsAfter(
        new Map([
          ['eu-1', ids[0]!],
          ['', ids[2]!],
        ]),
        100,
      );
      assert.deepEqual(
        past.map((r) => r.startedAt - T0),
        [1, 3, 4],
        "a run without an agent is agent ''s",
      );
      const limited = await store.runsAfter(new Map([['eu-1', ids[3]!]]), 1);
      assert.deepEqual(
        limited.map((r) => [r.agent, r.startedAt - T0]),
        [['us-1', 1]],
      );
      const since = await store.runsAfter(new Map([['eu-1', ids[0]!]]), 100, T0 + 3);
      assert.deepEqual(
        since.map((r) => [r.agent, r.startedAt - T0]),
        [
          ['eu-1', 3],
          ['us-1', 4],
        ],
        'agents without a cursor: from `since` on',
      );
      const caughtUp = new Map([
        ['eu-1', ids[3]!],
        ['us-1', ids[4]!],
        ['', ids[2]!],
      ]);
      assert.deepEqual(await store.runsAfter(caughtUp, 10), []);
      const [late] = await store.runs.recordAll([run('c', T0 + 5, { agent: 'ap-1' })]);
      assert.deepEqual(
        (await store.runsAfter(caughtUp, 10)).map((r) => r.id),
        [late?.runId],
        'an agent that appears later is read from its first run',
      );
    } finally {
      await store.close();
    }
  });
});
