import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecentItems, storedItems } from '../../src/runner/recorded-items.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { ManualClock } from '../../src/util/clock.ts';
import type { RunItem } from '../../src/core/probe.ts';

const T0 = Date.UTC(2026, 0, 1);

function mailRun(probe: string, startedAt: number, token: string, seeds = ['seed-a', 'seed-b']): RunRecord {
  const items: RunItem[] = seeds.map((seed) => ({
    type: 'mail.message',
    key: `${seed}:${token}`,
    data: { seed, token },
  }));
  return {
    uid: `u${startedAt}`,
    probe,
    kind: 'mail',
    startedAt,
    durationMs: 10,
    status: 'pass',
    attempts: 1,
    message: '',
    error: null,
    observations: {},
    assertions: [],
    phases: {},
    items,
  };
}

const tokens = (items: RunItem[]) => items.map((item) => item.data.token);

test("recent runs' items, newest first, per probe and type, a bounded number kept", () => {
  const recent = new RecentItems();
  recent.remember(mailRun('mail-lab', T0, 't1'));
  recent.remember(mailRun('mail-other', T0 + 1, 'x1'));
  recent.remember(mailRun('mail-lab', T0 + 2, 't2'));
  assert.deepEqual(tokens(recent.newest('mail-lab', 'mail.message', 3)), ['t2', 't2', 't1']);
  assert.deepEqual(recent.newest('mail-lab', 'rbl.listing', 3), []);
  assert.deepEqual(recent.newest('nobody', 'mail.message', 3), []);
  for (let n = 1; n <= 300; n++) recent.remember(mailRun('busy', T0 + n, `b${n}`, ['seed-a']));
  const kept = recent.newest('busy', 'mail.message', 1000);
  assert.equal(kept.length, 200);
  assert.equal(kept[0]?.data.token, 'b300');
});

test("the store's items read newest first for a probe, so a limit keeps the latest runs", () => {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'scaiprobe-items-')), 'probe.db'), new ManualClock(T0));
  store.probes.sync([
    { name: 'mail-lab', kind: 'mail', tags: [] },
    { name: 'mail-other', kind: 'mail', tags: [] },
  ]);
  for (let n = 1; n <= 5; n++) store.runs.record(mailRun('mail-lab', T0 + n * 60_000, `t${n}`));
  store.runs.record(mailRun('mail-other', T0 + 10 * 60_000, 'x1'));
  assert.deepEqual(tokens(storedItems(store.items).newest('mail-lab', 'mail.message', 3)), ['t5', 't5', 't4']);
  // Without `newest` the latest ones still, oldest first, as reports and indicators read them.
  assert.deepEqual(
    store.items.list({ type: 'mail.message', probe: 'mail-lab', limit: 3 }).map((item) => item.data.token),
    ['t4', 't5', 't5'],
  );
  store.close();
});
