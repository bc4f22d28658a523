// The store's contract: what every implementation of the repositories must do, run against each (SQLite and PostgreSQL).
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsyncStore } from '../../src/store/repositories.ts';
import { DEFAULT_RETENTION } from '../../src/store/retention.ts';
import type { LockHolder, NewOutboxRow, RunRecord, StoredAlert } from '../../src/store/types.ts';
import { ManualClock } from '../../src/util/clock.ts';

/** Opens an empty store on the given clock; `shared` opens a second store on the database the previous call opened. */
export type StoreFactory = (clock: ManualClock, options?: { shared?: boolean }) => Promise<AsyncStore>;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

function run(
  probe: string,
  startedAt: number,
  status: RunRecord['status'],
  durationMs = 10,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    uid: `${probe}-${startedAt}`,
    probe,
    kind: 'http',
    startedAt,
    durationMs,
    status,
    attempts: 1,
    message: status,
    error: null,
    observations: { status: 200 },
    assertions: [],
    phases: {},
    items: [],
    ...extra,
  };
}

function notification(key: string, alertId: string, channel: string, event = 'firing', createdAt = T0): NewOutboxRow {
  return { key, alertId, channel, event, body: `{"key":"${key}"}`, createdAt, expiresAt: createdAt + HOUR };
}

function alert(target: string, status: string, extra: Partial<StoredAlert> = {}): StoredAlert {
  return {
    rule: 'down',
    target,
    id: `id-${target}`,
    status,
    state: { status },
    severity: 'critical',
    summary: `${target} is ${status}`,
    labels: { probe: target },
    ...extra,
  };
}

export function repositorySuite(name: string, open: StoreFactory): void {
  describe(`store repositories: ${name}`, () => {
    let opened: AsyncStore[] = [];
    afterEach(async () => {
      for (const store of opened) await store.close();
      opened = [];
    });
    async function fresh(
      clock = new ManualClock(T0),
      options: { shared?: boolean } = {},
    ): Promise<{ store: AsyncStore; clock: ManualClock }> {
      const store = await open(clock, options);
      opened.push(store);
      return { store, clock };
    }

    describe('runs', () => {
      test('each run is stored with its assertions, and status changes are kept as state changes', async () => {
        const { store } = await fresh();
        await store.probes.sync([{ name: 'a', kind: 'http', tags: ['x'], tenant: 'acme' }]);
        const assertions = [{ expr: 'status == 200', ok: false, actual: 503, soft: false }];
        const outcomes = ['pass', 'pass', 'fail', 'fail', 'pass'] as const;
        for (const [i, status] of outcomes.entries())
          await store.runs.record(
            run('a', T0 + i * 60_000, status, 10, { tenant: 'acme', assertions: status === 'fail' ? assertions : [] }),
          );
        const changes = await store.stateChanges.list({ probe: 'a' });
        assert.deepEqual(
          changes.map((c) => [c.from, c.to]),
          [
            [null, 'pass'],
            ['pass', 'fail'],
            ['fail', 'pass'],
          ],
        );
        assert.equal(changes[1]?.at, T0 + 2 * 60_000 + 10);
        const stored = await store.runs.list('a');
        assert.equal(stored.length, 5);
        assert.deepEqual(
          stored[1]?.assertions,
          assertions,
          'newest first; the failing run keeps its assertion outcome',
        );
        const [latest] = await store.probes.latest();
        assert.equal(latest?.status, 'pass');
        assert.equal(latest?.statusSince, T0 + 4 * 60_000 + 10);
        assert.equal(latest?.tenant, 'acme');
      });

      test('a run reads back exactly as it was recorded, by probe and by id', async () => {
        const { store } = await fresh();
        const records = [
          run('api', T0, 'pass', 12.34, {
            observations: { status: 200, url: 'https://api.example.test/ready', 'json.valid': true },
            phases: { total: 12.3 },
          }),
          run('api', T0 + 60_000, 'fail', 5, {
            error: { code: 'PROTOCOL', message: 'bad' },
            message: 'HTTP 503',
            observations: { status: 503 },
            attempts: 2,
          }),
          run('api', T0 + 120_000, 'warn', 7, { tenant: 'acme' }),
        ];
        const recorded = await store.runs.recordAll(records);
        assert.deepEqual(
          recorded.map((r) => r.changes.map((c) => c.to)),
          [['pass'], ['fail'], ['warn']],
          'each run sees the one committed before it',
        );
        const expected = records.map(({ items: _items, state: _state, ...rest }, i) => ({
          id: recorded[i]?.runId,
          ...rest,
        }));
        assert.deepEqual(await store.runs.list('api'), [...expected].reverse());
        assert.deepEqual(await store.runs.get(recorded[1]?.runId ?? 0), expected[1]);
        assert.equal(await store.runs.get(999_999), undefined);
        assert.deepEqual(
          (await store.runs.list('api', { since: T0 + 60_000, until: T0 + 120_000 })).map((r) => r.status),
          ['fail'],
          '[since, until)',
        );
        assert.deepEqual(
          (await store.runs.list('api', { limit: 1 })).map((r) => r.status),
          ['warn'],
        );
        const summaries = expected.map(
          ({ message: _m, observations: _o, assertions: _a, phases: _p, ...rest }) => rest,
        );
        assert.deepEqual(
          await store.runs.summaries('api'),
          [...summaries].reverse(),
          'summaries: the same runs and fixed fields, without bodies',
        );
        assert.deepEqual(
          (await store.runs.summaries('api', { since: T0 + 60_000, until: T0 + 120_000 })).map((r) => r.error),
          [{ code: 'PROTOCOL', message: 'bad' }],
        );
        assert.deepEqual(
          (await store.runs.summaries('api', { limit: 2 })).map((r) => r.status),
          ['warn', 'fail'],
        );
      });

      test('runs of a probe whose tenant changed are listed together, newest first; recent statuses read them too', async () => {
        const { store } = await fresh();
        await store.runs.record(run('api', T0, 'pass', 5, { tenant: 'a' }));
        await store.runs.record(run('api', T0 + 60_000, 'fail', 5, { tenant: 'b' }));
        await store.runs.record(run('api', T0 + 120_000, 'pass', 5, { tenant: 'a' }));
        assert.deepEqual(
          (await store.runs.list('api')).map((r) => r.tenant),
          ['a', 'b', 'a'],
        );
        assert.deepEqual(
          (await store.runs.summaries('api')).map((r) => [r.tenant, r.status]),
          [
            ['a', 'pass'],
            ['b', 'fail'],
            ['a', 'pass'],
          ],
        );
        assert.deepEqual(
          await store.runs.recentStatuses(['api', 'none'], 2),
          new Map([
            ['api', ['fail', 'pass']],
            ['none', []],
          ]),
        );
        assert.deepEqual(await store.runs.recentStatuses(['api'], 0), new Map([['api', []]]));
      });

      test('observations over a period: each run at its end, oldest first, both ends included', async () => {
        const { store } = await fresh();
        for (let i = 0; i < 4; i++)
          await store.runs.record(run('q', T0 + i * 60_000, 'pass', 10, { observations: { depth: i } }));
        const series = await store.runs.observationsOver('q', T0 + 60_000, T0 + 180_000);
        assert.deepEqual(
          series.map((p) => [p.at - T0, p.observations.depth]),
          [
            [60_010, 1],
            [120_010, 2],
            [180_010, 3],
          ],
        );
      });

      test('probe state is carried over between runs', async () => {
        const { store } = await fresh();
        await store.runs.record(run('prom', T0, 'pass', 5, { state: { counters: { x: 5 } } }));
        assert.deepEqual(await store.probes.state('prom'), { counters: { x: 5 } });
        assert.equal(await store.probes.state('other'), undefined);
      });

      test('an error that is not a storage condition is not one', async () => {
        const { store } = await fresh();
        assert.equal(store.storageCondition(new Error('NOT NULL constraint failed')), undefined);
        assert.equal(typeof store.location, 'string');
      });
    });

    describe('runs from several locations', () => {
      test('a run keeps its location and agent, read back by list, get and summaries; a run without them has neither', async () => {
        const { store } = await fresh();
        const [located, plain] = await store.runs.recordAll([
          run('a', T0, 'pass', 10, { location: 'eu-west', agent: 'agent-1' }),
          run('a', T0 + 60_000, 'pass'),
        ]);
        const [newest, oldest] = await store.runs.list('a');
        assert.deepEqual([oldest?.location, oldest?.agent], ['eu-west', 'agent-1']);
        assert.equal(newest && 'location' in newest, false);
        assert.equal(newest && 'agent' in newest, false);
        const byId = await store.runs.get(located?.runId ?? 0);
        assert.deepEqual([byId?.location, byId?.agent], ['eu-west', 'agent-1']);
        assert.equal((await store.runs.get(plain?.runId ?? 0))?.location, undefined);
        assert.deepEqual(
          (await store.runs.summaries('a')).map((r) => [r.location, r.agent]),
          [
            [undefined, undefined],
            ['eu-west', 'agent-1'],
          ],
        );
      });

      test("list and summaries with a location read that location's runs only", async () => {
        const { store } = await fresh();
        await store.runs.recordAll([
          run('a', T0, 'pass', 10, { location: 'eu-west', agent: 'agent-1' }),
          run('a', T0 + 60_000, 'fail', 10, { location: 'us-east', agent: 'agent-2' }),
          run('a', T0 + 120_000, 'pass', 10, { location: 'eu-west', agent: 'agent-1' }),
          run('a', T0 + 180_000, 'pass'),
        ]);
        assert.deepEqual(
          (await store.runs.list('a', { location: 'eu-west' })).map((r) => [r.startedAt - T0, r.location]),
          [
            [120_000, 'eu-west'],
            [0, 'eu-west'],
          ],
        );
        assert.deepEqual(
          (await store.runs.summaries('a', { location: 'us-east', limit: 5 })).map((r) => [r.status, r.agent]),
          [['fail', 'agent-2']],
        );
        assert.deepEqual(await store.runs.list('a', { location: 'ap-south' }), []);
        assert.equal((await store.runs.list('a')).length, 4, 'without a location: every run');
      });

      test('mail messages carry the location of the run that reported them', async () => {
        const { store } = await fresh();
        const message = (key: string, placement: string) => ({
          type: 'mail.message',
          key,
          data: { seed: 'gmail', placement },
        });
        await store.runs.recordAll([
          run('seeds', T0, 'pass', 5, { tenant: 'acme', location: 'eu-west', items: [message('1', 'inbox')] }),
          run('seeds', T0 + 60_000, 'pass', 5, { tenant: 'acme', location: 'us-east', items: [message('2', 'spam')] }),
          run('seeds', T0 + 120_000, 'pass', 5, { tenant: 'acme', items: [message('3', 'inbox')] }),
        ]);
        const rows = await store.items.mailMessages({
          type: 'mail.message',
          tenant: 'acme',
          since: T0,
          until: T0 + DAY,
        });
        assert.deepEqual(
          rows.map((r) => [r.placement, r.location]),
          [
            ['inbox', 'eu-west'],
            ['spam', 'us-east'],
            ['inbox', null],
          ],
        );
      });

      test("each location's status changes against its own previous run; latest() shows the newest run overall and per location", async () => {
        const { store } = await fresh();
        await store.probes.sync([{ name: 'web', kind: 'http', tags: [] }]);
        const at = (location: string, i: number, status: RunRecord['status']) =>
          run('web', T0 + i * 60_000, status, 10, {
            location,
            agent: `${location}-1`,
            message: `${location} ${status}`,
          });
        const recorded = await store.runs.recordAll([
          at('eu', 0, 'pass'),
          at('us', 1, 'pass'),
          at('eu', 2, 'fail'),
          at('us', 3, 'pass'),
          at('eu', 4, 'fail'),
        ]);
        assert.deepEqual(
          recorded.map((r) => r.changes.map((c) => [c.subject, c.from, c.to])),
          [[['@eu', null, 'pass']], [['@us', null, 'pass']], [['@eu', 'pass', 'fail']], [], []],
          'a location failing does not flap the other',
        );
        assert.deepEqual(
          (await store.stateChanges.list({ probe: 'web' })).map((c) => c.subject),
          ['@eu', '@us', '@eu'],
        );
        const [latest] = await store.probes.latest();
        assert.deepEqual(
          [latest?.status, latest?.startedAt, latest?.message],
          ['fail', T0 + 4 * 60_000, 'eu fail'],
          'the newest run of any location',
        );
        assert.deepEqual(latest?.locations, [
          {
            location: 'eu',
            status: 'fail',
            startedAt: T0 + 4 * 60_000,
            statusSince: T0 + 2 * 60_000 + 10,
            message: 'eu fail',
          },
          {
            location: 'us',
            status: 'pass',
            startedAt: T0 + 3 * 60_000,
            statusSince: T0 + 60_000 + 10,
            message: 'us pass',
          },
        ]);
        await store.runs.record(run('plain', T0, 'pass'));
        await store.probes.sync([{ name: 'plain', kind: 'http', tags: [] }]);
        const plain = (await store.probes.latest({ names: ['plain'] }))[0];
        assert.equal(plain && 'locations' in plain, false, 'runs without a location: no locations');
        assert.deepEqual(
          (await store.stateChanges.list({ probe: 'plain' })).map((c) => c.subject),
          [''],
        );
      });

      test('a run whose uid is stored already is not stored again, and the batch does not fail', async () => {
        const { store } = await fresh();
        const first = run('a', T0, 'fail', 10, {
          uid: 'abc123',
          items: [{ type: 't', key: 'k', state: 'on', data: {} }],
        });
        const [stored] = await store.runs.recordAll([first]);
        const second = run('a', T0 + 60_000, 'pass');
        const again = await store.runs.recordAll([first, second, first, second]);
        assert.deepEqual(
          again.map((r) => [r.runId, r.changes.map((c) => c.to)]),
          [
            [stored?.runId, []],
            [again[1]?.runId, ['pass']],
            [stored?.runId, []],
            [again[1]?.runId, []],
          ],
          'a run twice in one batch is stored once too',
        );
        assert.equal((await store.runs.list('a')).length, 2);
        assert.equal((await store.items.list({ type: 't' })).length, 1);
        assert.deepEqual(
          (await store.stateChanges.list({ probe: 'a' })).map((c) => [c.subject, c.to]),
          [
            ['', 'fail'],
            ['t:k', 'on'],
            ['', 'pass'],
          ],
        );
      });
    });

    describe('probes', () => {
      test('probes no longer configured leave latest() but keep their history; a probe configured again comes back', async () => {
        const { store, clock } = await fresh();
        await store.probes.sync([
          { name: 'kept', kind: 'http', tags: [] },
          { name: 'gone', kind: 'http', tags: [], tenant: 'acme' },
        ]);
        await store.runs.record(run('kept', T0, 'pass'));
        await store.runs.record(run('gone', T0, 'fail', 10, { tenant: 'acme' }));
        clock.advance(HOUR);
        assert.deepEqual(await store.probes.retireUnconfigured(['kept']), ['gone']);
        assert.deepEqual(await store.probes.retireUnconfigured(['kept']), [], 'retired once');
        assert.deepEqual(
          (await store.probes.latest()).map((p) => p.probe),
          ['kept'],
        );
        assert.deepEqual(await store.probes.latest({ tenant: 'acme' }), []);
        assert.deepEqual(await store.probes.removed(), ['gone']);
        const all = await store.probes.latest({ includeRemoved: true });
        assert.deepEqual(
          all.map((p) => [p.probe, p.removedAt]),
          [
            ['gone', T0 + HOUR],
            ['kept', null],
          ],
        );
        assert.equal(all[0]?.status, 'fail', 'its last state is still there for whoever asks');
        assert.equal((await store.runs.list('gone')).length, 1);
        assert.equal((await store.stateChanges.list({ probe: 'gone' })).length, 1);
        await store.probes.sync([{ name: 'gone', kind: 'http', tags: [] }]);
        assert.deepEqual(
          (await store.probes.latest()).map((p) => p.probe),
          ['gone', 'kept'],
        );
        assert.deepEqual(await store.probes.removed(), []);
      });

      test('latest() filters by name, status, tenant and tag; a probe that has not run is listed without a status', async () => {
        const { store } = await fresh();
        await store.probes.sync([
          { name: 'a', kind: 'http', tags: ['edge'], tenant: 't1' },
          { name: 'b', kind: 'dns', tags: [] },
          { name: 'c', kind: 'http', tags: ['edge'] },
        ]);
        await store.runs.record(run('a', T0, 'fail', 5, { tenant: 't1' }));
        await store.runs.record(run('c', T0, 'pass'));
        assert.deepEqual(
          (await store.probes.latest({ tag: 'edge' })).map((p) => p.probe),
          ['a', 'c'],
        );
        assert.deepEqual(
          (await store.probes.latest({ status: 'fail' })).map((p) => p.probe),
          ['a'],
        );
        assert.deepEqual(
          (await store.probes.latest({ tenant: 't1' })).map((p) => p.probe),
          ['a'],
        );
        assert.deepEqual(
          (await store.probes.latest({ names: ['b', 'c'] })).map((p) => [p.probe, p.status, p.tags]),
          [
            ['b', null, []],
            ['c', 'pass', ['edge']],
          ],
        );
      });
    });

    describe('items and state changes', () => {
      test('items with a state record a change only when the state differs', async () => {
        const { store } = await fresh();
        const listing = (state: string) => ({ type: 'rbl.listing', key: '192.0.2.1|bl.test', state, data: { state } });
        await store.runs.record(run('rbl', T0, 'pass', 5, { items: [listing('clean')] }));
        await store.runs.record(run('rbl', T0 + 60_000, 'pass', 5, { items: [listing('listed')] }));
        await store.runs.record(run('rbl', T0 + 120_000, 'pass', 5, { items: [listing('listed')] }));
        await store.runs.record(run('rbl', T0 + 180_000, 'pass', 5, { items: [listing('clean')] }));
        const changes = await store.stateChanges.list({ subjectPrefix: 'rbl.listing:' });
        assert.deepEqual(
          changes.map((c) => c.to),
          ['clean', 'listed', 'clean'],
        );
        assert.equal((await store.items.list({ type: 'rbl.listing' })).length, 4);
      });

      test('items: the newest are returned (oldest first) when there are more than the limit', async () => {
        const { store } = await fresh();
        for (let i = 0; i < 5; i++)
          await store.runs.record(
            run('m', T0 + i * 60_000, 'pass', 5, { items: [{ type: 'mail.message', key: `k${i}`, data: { i } }] }),
          );
        assert.deepEqual(
          (await store.items.list({ type: 'mail.message', limit: 2 })).map((item) => item.data.i),
          [3, 4],
        );
        assert.deepEqual(
          (await store.items.list({ type: 'mail.message', limit: 2, newest: true })).map((item) => item.data.i),
          [4, 3],
        );
      });

      test('items in a state now: of configured probes, with their latest data and tenant', async () => {
        const { store } = await fresh();
        await store.probes.sync([
          { name: 'rbl', kind: 'rbl', tags: [], tenant: 'acme' },
          { name: 'old', kind: 'rbl', tags: [] },
        ]);
        const listing = (key: string, state: string, data: Record<string, unknown>) => ({
          type: 'rbl-listing',
          key,
          state,
          data,
        });
        await store.runs.record(
          run('rbl', T0, 'pass', 5, {
            tenant: 'acme',
            items: [listing('ip@bl', 'listed', { zone: 'bl', n: 1 }), listing('ip@other', 'clean', {})],
          }),
        );
        await store.runs.record(
          run('rbl', T0 + 60_000, 'pass', 5, {
            tenant: 'acme',
            items: [listing('ip@bl', 'listed', { zone: 'bl', n: 2 })],
          }),
        );
        await store.runs.record(run('old', T0, 'pass', 5, { items: [listing('x@bl', 'listed', {})] }));
        await store.probes.retireUnconfigured(['rbl']);
        assert.deepEqual(await store.items.inState('rbl-listing', 'listed'), [
          { probe: 'rbl', key: 'ip@bl', tenant: 'acme', data: { zone: 'bl', n: 2 } },
        ]);
        assert.deepEqual(await store.items.inState('rbl-listing', 'gone'), []);
      });

      test("item states of a tenant's configured probes by type prefix: listed first, then by key", async () => {
        const { store } = await fresh();
        await store.probes.sync([
          { name: 'rbl', kind: 'rbl', tags: [], tenant: 'acme' },
          { name: 'elsewhere', kind: 'rbl', tags: [], tenant: 'other' },
        ]);
        const items = [
          { type: 'rbl-listing', key: 'a@bl', state: 'clean', data: {} },
          { type: 'rbl-listing', key: 'b@bl', state: 'listed', data: {} },
          { type: 'rbl-zone', key: 'c', state: 'clean', data: {} },
          { type: 'mail.message', key: 'm', state: 'inbox', data: {} },
        ];
        await store.runs.record(run('rbl', T0, 'pass', 5, { tenant: 'acme', items }));
        await store.runs.record(
          run('elsewhere', T0, 'pass', 5, {
            tenant: 'other',
            items: [{ type: 'rbl-listing', key: 'z', state: 'listed', data: {} }],
          }),
        );
        const states = await store.items.states({ tenant: 'acme', typePrefix: 'rbl' });
        assert.deepEqual(
          states.map((s) => [s.type, s.key, s.state, s.since]),
          [
            ['rbl-listing', 'b@bl', 'listed', T0 + 5],
            ['rbl-listing', 'a@bl', 'clean', T0 + 5],
            ['rbl-zone', 'c', 'clean', T0 + 5],
          ],
        );
      });

      test("mail messages: a tenant's messages in a period, reduced to the fields reports read", async () => {
        const { store } = await fresh();
        const message = (key: string, data: Record<string, unknown>) => ({ type: 'mail.message', key, data });
        const auth = {
          spf: 'pass',
          dkim: 'fail',
          dmarc: 'pass',
          dkimDomain: 'd.test',
          compauthReason: '000',
          receivedSpf: 'pass (ok)',
        };
        await store.runs.record(
          run('seeds', T0, 'pass', 5, {
            tenant: 'acme',
            items: [
              message('1', {
                seed: 'gmail',
                provider: 'Gmail',
                placement: 'inbox',
                timeToInboxMs: 3000,
                auth,
                extra: 'x'.repeat(100),
              }),
            ],
          }),
        );
        await store.runs.record(
          run('seeds', T0 + 60_000, 'pass', 5, {
            tenant: 'acme',
            items: [message('2', { seed: 'yahoo', placement: 'spam', auth: null })],
          }),
        );
        await store.runs.record(
          run('seeds', T0 + 120_000, 'pass', 5, {
            tenant: 'other',
            items: [message('3', { seed: 'x', placement: 'inbox' })],
          }),
        );
        const rows = await store.items.mailMessages({
          type: 'mail.message',
          tenant: 'acme',
          since: T0,
          until: T0 + DAY,
        });
        assert.deepEqual(rows, [
          {
            at: T0 + 5,
            seed: 'gmail',
            provider: 'Gmail',
            placement: 'inbox',
            tti: 3000,
            auth: 1,
            spf: 'pass',
            dkim: 'fail',
            dmarc: 'pass',
            dkimDomain: 'd.test',
            compauthReason: '000',
            receivedSpf: 'pass (ok)',
            location: null,
          },
          {
            at: T0 + 60_005,
            seed: 'yahoo',
            provider: null,
            placement: 'spam',
            tti: null,
            auth: 0,
            spf: null,
            dkim: null,
            dmarc: null,
            dkimDomain: null,
            compauthReason: null,
            receivedSpf: null,
            location: null,
          },
        ]);
        assert.deepEqual(
          (
            await store.items.mailMessages({ type: 'mail.message', tenant: 'acme', since: T0 + 10, until: T0 + DAY })
          ).map((r) => r.seed),
          ['yahoo'],
        );
      });

      test('state changes recorded on their own; the newest are returned, oldest first, when there are more than the limit', async () => {
        const { store } = await fresh();
        for (let i = 0; i < 30; i++)
          await store.stateChanges.record({
            probe: 'a',
            tenant: i % 2 === 0 ? 't' : null,
            subject: `alert:down:a${i}`,
            from: 'ok',
            to: 'firing',
            at: T0 + i * 1000,
            runId: null,
            message: `m${i}`,
          });
        const tenant = await store.stateChanges.list({ tenant: 't', limit: 3 });
        assert.deepEqual(
          tenant.map((c) => c.message),
          ['m24', 'm26', 'm28'],
        );
        assert.deepEqual(
          (await store.stateChanges.list({ until: T0 + 10 * 1000, limit: 3 })).map((c) => c.at - T0),
          [7000, 8000, 9000],
        );
        assert.deepEqual(
          (await store.stateChanges.list({ subjectPrefix: 'alert:down:a1', since: T0 + 12_000 })).map((c) => c.subject),
          [
            'alert:down:a12',
            'alert:down:a13',
            'alert:down:a14',
            'alert:down:a15',
            'alert:down:a16',
            'alert:down:a17',
            'alert:down:a18',
            'alert:down:a19',
          ],
        );
        assert.deepEqual(tenant[0], {
          id: tenant[0]?.id,
          probe: 'a',
          tenant: 't',
          subject: 'alert:down:a24',
          from: 'ok',
          to: 'firing',
          at: T0 + 24_000,
          runId: null,
          message: 'm24',
        });
      });
    });

    describe('rollups and retention', () => {
      test('hourly rollups: counts and duration percentiles per probe and hour', async () => {
        const { store, clock } = await fresh();
        for (let i = 0; i < 100; i++)
          await store.runs.record(run('a', T0 + i * 30_000, i % 10 === 0 ? 'fail' : 'pass', i + 1));
        clock.set(T0 + 3 * HOUR);
        const { hoursRolledUp } = await store.maintain(DEFAULT_RETENTION);
        assert.equal(hoursRolledUp, 2, 'two finished hours (the current one and its grace are left)');
        const hours = await store.rollups.hourly('a');
        assert.equal(hours[0]?.hour, T0);
        assert.equal(hours[0]?.runs, 100);
        assert.equal(hours[0]?.fails, 10);
        assert.equal(hours[0]?.p50, 50);
        assert.equal(hours[0]?.p99, 99);
        assert.equal(hours[0]?.max, 100);
        assert.deepEqual(await store.rollups.hourly('a', T0 + HOUR), []);
        // Idempotent: nothing more to roll up until time passes.
        assert.equal((await store.maintain(DEFAULT_RETENTION)).hoursRolledUp, 0);
      });

      test('retention prunes raw runs but keeps the rollups and state changes', async () => {
        const { store, clock } = await fresh();
        await store.runs.record(run('a', T0, 'fail'));
        await store.runs.record(run('a', T0 + 20 * DAY, 'pass'));
        clock.set(T0 + 20 * DAY + HOUR);
        const { runsPruned } = await store.maintain(DEFAULT_RETENTION);
        assert.equal(runsPruned, 1);
        assert.equal((await store.runs.list('a')).length, 1);
        assert.equal((await store.rollups.hourly('a'))[0]?.fails, 1, 'the pruned run lives on in its hour');
        assert.equal((await store.stateChanges.list({ probe: 'a' })).length, 2);
      });

      test('retention prunes maintenance windows long over, and keeps recent and open-ended ones', async () => {
        const { store, clock } = await fresh();
        const window = (startsAt: number, endsAt: number) =>
          store.maintenanceWindows.add({ probes: ['web-*'], reason: 'deploy', startsAt, endsAt, createdAt: startsAt });
        const old = await window(T0, T0 + HOUR);
        const endedEarly = await window(T0, T0 + 500 * DAY);
        await store.maintenanceWindows.end(endedEarly.id, T0 + 2 * HOUR);
        const recent = await window(T0 + 399 * DAY, T0 + 399 * DAY + HOUR);
        const inForce = await window(T0 + 400 * DAY, T0 + 402 * DAY);
        clock.set(T0 + 401 * DAY);
        assert.equal((await store.maintain(DEFAULT_RETENTION)).pruned.maintenance, 2);
        assert.deepEqual(
          (await store.maintenanceWindows.list()).map((w) => w.id).sort((a, b) => a - b),
          [recent.id, inForce.id],
          `windows ${old.id} and ${endedEarly.id} ended over 400 days ago`,
        );
      });
    });

    describe('alerts', () => {
      test('an alert is saved and read back; open, owing and recent select as they say', async () => {
        const { store, clock } = await fresh();
        await store.alerts.save(alert('a', 'firing'));
        clock.advance(1000);
        await store.alerts.save(alert('b', 'ok'));
        clock.advance(1000);
        await store.alerts.save(
          alert('c', 'ok', { state: { status: 'ok', heldResolution: { firedAt: T0, at: T0 + 1, summary: 's' } } }),
        );
        clock.advance(1000);
        await store.alerts.save(alert('d', 'pending'));
        assert.deepEqual(await store.alerts.get('down', 'a'), alert('a', 'firing'));
        assert.equal(await store.alerts.get('down', 'nope'), undefined);
        assert.deepEqual((await store.alerts.open()).map((a) => a.target).sort(), ['a', 'd']);
        assert.deepEqual(
          (await store.alerts.owing()).map((a) => a.target).sort(),
          ['a', 'c', 'd'],
          'a resolution still owed keeps an alert back to ok in view',
        );
        assert.deepEqual(
          (await store.alerts.recent(2)).map((a) => a.target),
          ['d', 'c'],
          'most recently updated first',
        );
        await store.alerts.save(alert('a', 'ok', { summary: 'back', id: 'ignored' }));
        assert.equal((await store.alerts.get('down', 'a'))?.summary, 'back');
        assert.equal((await store.alerts.get('down', 'a'))?.id, 'id-a', 'an alert keeps its id');
      });

      test('an alert is saved together with the notifications and the state change it caused', async () => {
        const { store } = await fresh();
        const change = {
          probe: 'a',
          tenant: 't',
          subject: 'alert:down:a',
          from: 'ok',
          to: 'firing',
          at: T0,
          runId: null,
          message: 'critical: a is firing',
        };
        await store.alerts.save(alert('a', 'firing'), {
          notifications: [notification('k1', 'id-a', 'hook'), notification('k1', 'id-a', 'chat')],
          change,
        });
        assert.deepEqual(
          (await store.outbox.list()).map((r) => [r.key, r.channel, r.status]),
          [
            ['k1', 'chat', 'pending'],
            ['k1', 'hook', 'pending'],
          ],
        );
        assert.deepEqual(
          (await store.stateChanges.list({ subjectPrefix: 'alert:' })).map((c) => [c.subject, c.to, c.message]),
          [['alert:down:a', 'firing', 'critical: a is firing']],
        );
      });
    });

    describe('outbox', () => {
      const lease = (owner: string, until = T0 + HOUR) => ({ owner, until });

      test('rows are queued once per key and channel, due at once, and read back', async () => {
        const { store } = await fresh();
        await store.outbox.add([
          notification('k1', 'a', 'hook'),
          notification('k1', 'a', 'hook', 'resolved'),
          notification('k2', 'a', 'hook'),
        ]);
        const rows = await store.outbox.list();
        assert.deepEqual(
          rows.map((r) => [r.key, r.event]),
          [
            ['k2', 'firing'],
            ['k1', 'firing'],
          ],
          'newest first; a repeat of a key and channel is ignored',
        );
        const first = await store.outbox.find('k1', 'hook');
        assert.deepEqual(first, {
          id: first?.id,
          key: 'k1',
          alertId: 'a',
          channel: 'hook',
          event: 'firing',
          createdAt: T0,
          expiresAt: T0 + HOUR,
          nextAttemptAt: T0,
          attempts: 0,
          status: 'pending',
          lastStatus: null,
          lastError: null,
          lastResponse: null,
          finishedAt: null,
          leaseOwner: null,
          leaseUntil: null,
        });
        assert.deepEqual(await store.outbox.get(first?.id ?? 0), first);
        assert.equal(await store.outbox.find('k1', 'other'), undefined);
        assert.deepEqual(await store.outbox.counts(), { pending: 2, delivered: 0, failed: 0, expired: 0 });
        assert.deepEqual(await store.outbox.byChannel(), [
          { channel: 'hook', status: 'pending', count: 2, oldestCreatedAt: T0 },
        ]);
        assert.equal(await store.outbox.waiting('a', 'hook'), true);
        assert.equal(await store.outbox.waiting('a', 'chat'), false);
        assert.equal(await store.outbox.waiting('b', 'hook'), false);
        assert.deepEqual(await store.outbox.list({ status: 'delivered' }), []);
        assert.equal((await store.outbox.list({ limit: 1 })).length, 1);
      });

      test("claims follow each alert's line: a later row waits for the one before it; a lease keeps others off", async () => {
        const { store } = await fresh();
        await store.outbox.add([
          notification('fire', 'a', 'hook'),
          notification('resolve', 'a', 'hook', 'resolved'),
          notification('other', 'b', 'hook'),
        ]);
        assert.equal(await store.outbox.hasWork('hook', T0), true);
        assert.equal(await store.outbox.hasWork('chat', T0), false);
        const first = await store.outbox.claimNext('hook', T0, lease('me'));
        assert.equal(first.leased?.row.key, 'fire');
        assert.equal(first.leased?.body, '{"key":"fire"}');
        assert.deepEqual([first.leased?.row.leaseOwner, first.leased?.row.leaseUntil], ['me', T0 + HOUR]);
        const second = await store.outbox.claimNext('hook', T0, lease('you'));
        assert.equal(second.leased?.row.key, 'other', 'the resolution waits for its firing, leased or not');
        assert.equal((await store.outbox.claimNext('hook', T0, lease('you'))).leased, undefined);
        assert.equal(
          await store.outbox.settle({
            id: first.leased?.row.id ?? 0,
            owner: 'you',
            status: 'delivered',
            lastStatus: 200,
            lastError: null,
            lastResponse: null,
            nextAttemptAt: T0,
            finishedAt: T0,
          }),
          false,
          'only the lease holder settles',
        );
        assert.equal(
          await store.outbox.settle({
            id: first.leased?.row.id ?? 0,
            owner: 'me',
            status: 'delivered',
            lastStatus: 200,
            lastError: null,
            lastResponse: null,
            nextAttemptAt: T0,
            finishedAt: T0,
          }),
          true,
        );
        const settled = await store.outbox.find('fire', 'hook');
        assert.deepEqual(
          [settled?.status, settled?.attempts, settled?.lastStatus, settled?.finishedAt, settled?.leaseOwner],
          ['delivered', 1, 200, T0, null],
        );
        assert.equal((await store.outbox.claimNext('hook', T0, lease('me'))).leased?.row.key, 'resolve');
      });

      test('a retry is due at its next attempt; an expired row is expired on the way to the next claim', async () => {
        const { store } = await fresh();
        await store.outbox.add([notification('k', 'a', 'hook')]);
        const claimed = await store.outbox.claimNext('hook', T0, lease('me'));
        await store.outbox.settle({
          id: claimed.leased?.row.id ?? 0,
          owner: 'me',
          status: 'pending',
          lastStatus: 503,
          lastError: 'HTTP 503',
          lastResponse: 'busy',
          nextAttemptAt: T0 + 60_000,
          finishedAt: null,
        });
        assert.equal(await store.outbox.hasWork('hook', T0 + 30_000), false);
        assert.equal((await store.outbox.claimNext('hook', T0 + 30_000, lease('me'))).leased, undefined);
        assert.equal(await store.outbox.hasWork('hook', T0 + HOUR), true, 'overdue is work too');
        const late = await store.outbox.claimNext('hook', T0 + HOUR, lease('me'));
        assert.deepEqual([late.leased, late.expired], [undefined, 1]);
        const row = await store.outbox.find('k', 'hook');
        assert.deepEqual(
          [row?.status, row?.lastError, row?.lastResponse, row?.finishedAt],
          ['expired', 'HTTP 503', 'busy', T0 + HOUR],
        );
      });

      test('a given row is claimed only when it may be sent and its channel can be sent to', async () => {
        const { store } = await fresh();
        await store.outbox.add([notification('k', 'a', 'hook'), notification('t', 'test', 'gone', 'test')]);
        const row = await store.outbox.find('k', 'hook');
        const gone = await store.outbox.find('t', 'gone');
        assert.equal(
          await store.outbox.claim(gone?.id ?? 0, T0, () => undefined),
          undefined,
          'no lease for a channel that cannot be sent to',
        );
        const seen: string[] = [];
        const claimed = await store.outbox.claim(row?.id ?? 0, T0, (channel) => (seen.push(channel), lease('me')));
        assert.deepEqual([claimed?.row.key, claimed?.row.leaseOwner, seen], ['k', 'me', ['hook']]);
        assert.equal(await store.outbox.claim(row?.id ?? 0, T0, () => lease('you')), undefined, 'leased already');
      });

      test('leases of an owner are found and freed; rows of channels not configured expire after their grace', async () => {
        const { store } = await fresh();
        await store.outbox.add([
          notification('a', 'a', 'hook'),
          notification('b', 'b', 'hook'),
          notification('c', 'c', 'removed'),
          notification('d', 'd', 'removed', 'firing', T0 + HOUR),
        ]);
        await store.outbox.claimNext('hook', T0, lease('dead'));
        await store.outbox.claimNext('hook', T0, lease('alive'));
        assert.deepEqual((await store.outbox.leaseOwners(T0)).sort(), ['alive', 'dead']);
        assert.deepEqual(await store.outbox.leaseOwners(T0 + 2 * HOUR), [], "a lease that ran out is no one's");
        assert.equal(await store.outbox.releaseLeases('dead'), 1);
        assert.deepEqual(await store.outbox.leaseOwners(T0), ['alive']);
        assert.equal(
          await store.outbox.expireUnconfigured(['hook'], T0 + 2 * HOUR, T0 + 30 * 60_000),
          1,
          'only the row due before the cutoff',
        );
        const expired = await store.outbox.find('c', 'removed');
        assert.deepEqual([expired?.status, expired?.finishedAt], ['expired', T0 + 2 * HOUR]);
        assert.match(expired?.lastError ?? '', /removed/);
        assert.equal((await store.outbox.find('d', 'removed'))?.status, 'pending');
        assert.deepEqual(await store.outbox.counts(), { pending: 3, delivered: 0, failed: 0, expired: 1 });
      });
      test('two stores on one database claiming at once never lease the same row', async () => {
        const { store } = await fresh();
        const { store: other } = await fresh(new ManualClock(T0), { shared: true });
        const rows = Array.from({ length: 20 }, (_, i) => notification(`k${i}`, `alert-${i}`, 'hook'));
        await store.outbox.add(rows);
        const claimer = (repo: AsyncStore, owner: string) => async () => {
          const leased: number[] = [];
          for (;;) {
            const { leased: row } = await repo.outbox.claimNext('hook', T0, lease(owner));
            if (!row) return leased;
            leased.push(row.row.id);
          }
        };
        const results = await Promise.all([
          claimer(store, 'one')(),
          claimer(other, 'two')(),
          claimer(store, 'three')(),
          claimer(other, 'four')(),
        ]);
        const all = results.flat();
        assert.equal(all.length, 20, 'every row leased');
        assert.equal(new Set(all).size, 20, 'no row leased twice');
      });
    });

    describe('daemon lock', () => {
      const holder = (owner: string, at = T0): LockHolder => ({
        owner,
        pid: 42,
        host: 'h',
        startedAt: at,
        heartbeatAt: at,
      });

      test('the lock is taken, beaten and released by its owner only', async () => {
        const { store } = await fresh();
        assert.equal(await store.lock.holder(), undefined);
        let seen: LockHolder | undefined | 'not asked' = 'not asked';
        await store.lock.take((current) => ((seen = current), holder('me')));
        assert.equal(seen, undefined);
        assert.deepEqual(await store.lock.holder(), holder('me'));
        assert.equal(await store.lock.beat('me', T0 + 5000), true);
        assert.equal((await store.lock.holder())?.heartbeatAt, T0 + 5000);
        assert.equal(await store.lock.beat('you', T0 + 6000), false);
        await store.lock.release('you');
        assert.equal((await store.lock.holder())?.owner, 'me', 'only the owner releases');
        await store.lock.release('me');
        assert.equal(await store.lock.holder(), undefined);
      });

      test('a refusal leaves the holder as it was; a taker replaces it', async () => {
        const { store } = await fresh();
        await store.lock.take(() => holder('first'));
        await assert.rejects(
          () =>
            store.lock.take(() => {
              throw new Error('in use');
            }),
          /in use/,
        );
        assert.deepEqual(await store.lock.holder(), holder('first'));
        await store.lock.take((current) => {
          assert.equal(current?.owner, 'first');
          return holder('second', T0 + 1);
        });
        assert.deepEqual(await store.lock.holder(), holder('second', T0 + 1));
        assert.equal(await store.lock.beat('first', T0 + 2), false);
      });
    });

    describe('maintenance windows', () => {
      const MIN = 60_000;
      const window = (startsAt: number, minutes: number, probes = ['web-*'], reason = 'deploy') => ({
        probes,
        reason,
        startsAt,
        endsAt: startsAt + minutes * MIN,
        createdAt: startsAt,
      });

      test('a window is stored with an id, read back as it was, and in force from its start until its end', async () => {
        const { store } = await fresh();
        const added = await store.maintenanceWindows.add(window(T0, 30, ['web-*', 'api-ready'], 'deploy 42'));
        assert.ok(Number.isInteger(added.id) && added.id > 0);
        assert.deepEqual(added, {
          id: added.id,
          probes: ['web-*', 'api-ready'],
          reason: 'deploy 42',
          startsAt: T0,
          endsAt: T0 + 30 * MIN,
          createdAt: T0,
          endedAt: null,
        });
        assert.deepEqual(await store.maintenanceWindows.get(added.id), added);
        assert.equal(await store.maintenanceWindows.get(added.id + 1000), undefined);
        assert.deepEqual(await store.maintenanceWindows.active(T0 - 1), [], 'not before its start');
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0)).map((w) => w.id),
          [added.id],
        );
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0 + 30 * MIN - 1)).map((w) => w.id),
          [added.id],
        );
        assert.deepEqual(await store.maintenanceWindows.active(T0 + 30 * MIN), [], 'over at its end');
      });

      test('ending a window: over from then on, its planned end kept; ending it again, or after its end, changes nothing', async () => {
        const { store } = await fresh();
        const { id } = await store.maintenanceWindows.add(window(T0, 30));
        const ended = await store.maintenanceWindows.end(id, T0 + 10 * MIN);
        assert.equal(ended?.endedAt, T0 + 10 * MIN);
        assert.equal(ended?.endsAt, T0 + 30 * MIN);
        assert.deepEqual(await store.maintenanceWindows.active(T0 + 10 * MIN), []);
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0 + 5 * MIN)).map((w) => w.id),
          [id],
          'it was in force before it was ended',
        );
        assert.equal(
          (await store.maintenanceWindows.end(id, T0 + 20 * MIN))?.endedAt,
          T0 + 10 * MIN,
          'the first end stands',
        );
        const ranOut = await store.maintenanceWindows.add(window(T0, 5));
        assert.equal(
          (await store.maintenanceWindows.end(ranOut.id, T0 + 6 * MIN))?.endedAt,
          null,
          'a window that ran its course was not ended',
        );
        assert.equal(await store.maintenanceWindows.end(ranOut.id + 1000, T0), undefined);
      });

      test('windows in force, the soonest over first; the list is newest first and limited; ids grow', async () => {
        const { store } = await fresh();
        const long = await store.maintenanceWindows.add(window(T0, 60, ['a']));
        const short = await store.maintenanceWindows.add(window(T0, 10, ['b']));
        const later = await store.maintenanceWindows.add(window(T0 + 20 * MIN, 10, ['c']));
        await store.maintenanceWindows.end(long.id, T0 + 5 * MIN);
        const again = await store.maintenanceWindows.add(window(T0, 30, ['d']));
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0 + MIN)).map((w) => w.probes[0]),
          ['a', 'b', 'd'],
        );
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0 + 6 * MIN)).map((w) => w.probes[0]),
          ['b', 'd'],
        );
        assert.deepEqual(
          (await store.maintenanceWindows.active(T0 + 25 * MIN)).map((w) => w.probes[0]),
          ['c', 'd'],
        );
        assert.deepEqual(
          (await store.maintenanceWindows.list()).map((w) => w.id),
          [again.id, later.id, short.id, long.id],
        );
        assert.deepEqual(
          (await store.maintenanceWindows.list({ limit: 2 })).map((w) => w.id),
          [again.id, later.id],
        );
        assert.ok(new Set([long.id, short.id, later.id, again.id]).size === 4 && again.id > later.id);
      });
    });
  });
}
