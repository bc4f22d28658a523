// What a batch of runs leaves besides the runs: latest rows, items and their states, state changes, carried-over state.
import type { NewStateChange, RunRecord } from '../types.ts';
import type { BatchState, LatestRow } from './run-batch.ts';
import { columnsOf, insertFrom } from './rows.ts';
import type { Queryable } from './db.ts';

const LATEST_SET = `run_id = excluded.run_id, status = excluded.status, status_since = excluded.status_since,
  started_at = excluded.started_at, message = excluded.message`;

const CHANGE_COLUMNS: Array<[string, string]> = [
  ['probe', 'text'],
  ['tenant', 'text'],
  ['subject', 'text'],
  ['from_state', 'text'],
  ['to_state', 'text'],
  ['at', 'float8'],
  ['run_id', 'int8'],
  ['message', 'text'],
];

/** Inserts state changes in one statement (a run's, or ones recorded on their own). */
export async function insertStateChanges(db: Queryable, changes: NewStateChange[]): Promise<void> {
  if (changes.length === 0) return;
  await db.query(
    insertFrom('state_changes', CHANGE_COLUMNS),
    columnsOf(changes, [
      (c) => c.probe,
      (c) => c.tenant,
      (c) => c.subject,
      (c) => c.from,
      (c) => c.to,
      (c) => c.at,
      (c) => c.runId,
      (c) => c.message,
    ]),
  );
}

async function writeLatest(client: Queryable, state: BatchState): Promise<void> {
  // In key order, as every writer takes the rows' locks: two batches never wait on each other in a cycle.
  const latest = [...state.dirty.latest].sort().map((probe) => [probe, state.latest.get(probe)] as [string, LatestRow]);
  if (latest.length > 0)
    await client.query(
      insertFrom(
        'probe_latest',
        [
          ['probe', 'text'],
          ['run_id', 'int8'],
          ['status', 'text'],
          ['status_since', 'float8'],
          ['started_at', 'int8'],
          ['duration_ms', 'float8'],
          ['message', 'text'],
          ['error_code', 'text'],
        ],
        `ON CONFLICT (probe) DO UPDATE SET ${LATEST_SET}, duration_ms = excluded.duration_ms, error_code = excluded.error_code`,
      ),
      columnsOf(latest, [
        ([probe]) => probe,
        ([, row]) => row.runId,
        ([, row]) => row.status,
        ([, row]) => row.statusSince,
        ([, row]) => row.startedAt,
        ([, row]) => row.durationMs,
        ([, row]) => row.message,
        ([, row]) => row.errorCode,
      ]),
    );
  const located = [...state.dirty.locations].sort().map((key) => [key.split('\0'), state.locations.get(key)] as const);
  if (located.length > 0)
    await client.query(
      insertFrom(
        'probe_location_latest',
        [
          ['probe', 'text'],
          ['location', 'text'],
          ['run_id', 'int8'],
          ['status', 'text'],
          ['status_since', 'float8'],
          ['started_at', 'int8'],
          ['message', 'text'],
        ],
        `ON CONFLICT (probe, location) DO UPDATE SET ${LATEST_SET}`,
      ),
      columnsOf(located, [
        ([key]) => key[0],
        ([key]) => key[1],
        ([, row]) => row?.runId,
        ([, row]) => row?.status,
        ([, row]) => row?.statusSince,
        ([, row]) => row?.startedAt,
        ([, row]) => row?.message,
      ]),
    );
}

async function writeItemStates(client: Queryable, state: BatchState): Promise<void> {
  const items = [...state.dirty.items].sort().map((key) => [key.split('\0'), state.items.get(key)] as const);
  if (items.length === 0) return;
  await client.query(
    insertFrom(
      'item_states',
      [
        ['probe', 'text'],
        ['type', 'text'],
        ['key', 'text'],
        ['state', 'text'],
        ['since', 'float8'],
        ['seen_at', 'float8'],
      ],
      'ON CONFLICT (probe, type, key) DO UPDATE SET state = excluded.state, since = excluded.since, seen_at = excluded.seen_at',
    ),
    columnsOf(items, [
      ([key]) => key[0],
      ([key]) => key[1],
      ([key]) => key.slice(2).join('\0'),
      ([, row]) => row?.state,
      ([, row]) => row?.since,
      ([, row]) => row?.seenAt,
    ]),
  );
}

/** Every item of the stored runs, in one statement. */
async function insertItems(client: Queryable, runs: Array<{ run: RunRecord; runId: number }>): Promise<void> {
  const items = runs.flatMap(({ run, runId }) =>
    run.items.map((item) => ({ run, runId, item, at: run.startedAt + run.durationMs })),
  );
  if (items.length === 0) return;
  await client.query(
    insertFrom('run_items', [
      ['run_id', 'int8'],
      ['probe', 'text'],
      ['tenant', 'text'],
      ['type', 'text'],
      ['key', 'text'],
      ['state', 'text'],
      ['at', 'float8'],
      ['data', 'jsonb'],
    ]),
    columnsOf(items, [
      (i) => i.runId,
      (i) => i.run.probe,
      (i) => i.run.tenant ?? null,
      (i) => i.item.type,
      (i) => i.item.key,
      (i) => i.item.state ?? null,
      (i) => i.at,
      (i) => JSON.stringify(i.item.data),
    ]),
  );
}

async function writeProbeStates(client: Queryable, runs: RunRecord[]): Promise<void> {
  const last = new Map<string, RunRecord>();
  for (const run of runs) if (run.state !== undefined) last.set(run.probe, run);
  if (last.size === 0) return;
  const rows = [...last.values()];
  await client.query(
    insertFrom(
      'probe_state',
      [
        ['probe', 'text'],
        ['data', 'text'],
        ['updated_at', 'float8'],
      ],
      'ON CONFLICT (probe) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at',
    ),
    columnsOf(rows, [(r) => r.probe, (r) => JSON.stringify(r.state), (r) => r.startedAt + r.durationMs]),
  );
}

/** Writes back what the stored runs changed. */
export async function writeEffects(
  client: Queryable,
  state: BatchState,
  stored: Array<{ run: RunRecord; runId: number }>,
  changes: NewStateChange[],
): Promise<void> {
  await writeLatest(client, state);
  await writeItemStates(client, state);
  await insertItems(client, stored);
  await insertStateChanges(client, changes);
  await writeProbeStates(
    client,
    stored.map((s) => s.run),
  );
}
