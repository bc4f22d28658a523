// A batch of runs written in one transaction: the runs, then what they changed, each table in one multi-row statement.
import type { Queryable } from './db.ts';
import type { NewStateChange, RunRecord } from '../types.ts';
import {
  applyItems,
  applyStatus,
  emptyBatchState,
  itemKey,
  locationKey,
  type BatchState,
  type LatestRow,
} from './run-batch.ts';
import { RUN_COLUMNS, RUN_VALUES } from './run-rows.ts';
import { columnsOf, insertFrom } from './rows.ts';

const runKey = (uid: string, startedAt: number) => `${uid}\0${startedAt}`;

/**
 * Inserts the runs not stored yet (same uid and start: ON CONFLICT DO NOTHING). Answers each run's id,
 * and which of them this call stored.
 */
export async function insertRuns(client: Queryable, runs: RunRecord[]): Promise<{ ids: number[]; fresh: boolean[] }> {
  const { rows } = await client.query<{ id: number; uid: string; started_at: number }>(
    insertFrom('runs', RUN_COLUMNS, 'ON CONFLICT (uid, started_at) DO NOTHING RETURNING id, uid, started_at'),
    columnsOf(runs, RUN_VALUES),
  );
  const inserted = new Map(rows.map((row) => [runKey(row.uid, row.started_at), row.id]));
  const ids = new Map(inserted);
  const missing = runs.filter((run) => !ids.has(runKey(run.uid, run.startedAt)));
  if (missing.length > 0) {
    const found = await client.query<{ id: number; uid: string; started_at: number }>(
      'SELECT id, uid, started_at FROM runs WHERE (uid, started_at) IN (SELECT * FROM unnest($1::text[], $2::int8[]))',
      [missing.map((run) => run.uid), missing.map((run) => run.startedAt)],
    );
    for (const row of found.rows) ids.set(runKey(row.uid, row.started_at), row.id);
  }
  // A uid twice in one batch: the first is the one stored.
  const claimed = new Set<string>();
  const fresh = runs.map((run) => {
    const key = runKey(run.uid, run.startedAt);
    const isNew = inserted.has(key) && !claimed.has(key);
    claimed.add(key);
    return isNew;
  });
  return { ids: runs.map((run) => ids.get(runKey(run.uid, run.startedAt)) ?? 0), fresh };
}

function latestRowOf(row: Record<string, unknown>): LatestRow {
  return {
    runId: row.run_id as number,
    status: row.status as string,
    statusSince: row.status_since as number,
    startedAt: row.started_at as number,
    durationMs: (row.duration_ms as number | undefined) ?? 0,
    message: row.message as string,
    errorCode: (row.error_code as string | null | undefined) ?? null,
  };
}

/** The rows the runs will change, read (probes' latest rows locked, in name order) before applying them. */
export async function loadState(client: Queryable, runs: RunRecord[]): Promise<BatchState> {
  const state = emptyBatchState();
  const probes = [...new Set(runs.map((run) => run.probe))].sort();
  const latest = await client.query(
    'SELECT * FROM probe_latest WHERE probe = ANY($1::text[]) ORDER BY probe FOR UPDATE',
    [probes],
  );
  for (const row of latest.rows) state.latest.set(row.probe as string, latestRowOf(row));
  const located = runs.filter((run) => run.location);
  if (located.length > 0) {
    const { rows } = await client.query(
      `SELECT * FROM probe_location_latest WHERE (probe, location) IN (SELECT * FROM unnest($1::text[], $2::text[]))
       ORDER BY probe, location FOR UPDATE`,
      [located.map((run) => run.probe), located.map((run) => run.location)],
    );
    for (const row of rows)
      state.locations.set(locationKey(row.probe as string, row.location as string), latestRowOf(row));
  }
  const items = runs.flatMap((run) =>
    run.items.filter((item) => item.state !== undefined).map((item) => [run.probe, item.type, item.key] as const),
  );
  if (items.length > 0) {
    const { rows } = await client.query(
      'SELECT * FROM item_states WHERE (probe, type, key) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))',
      [items.map((i) => i[0]), items.map((i) => i[1]), items.map((i) => i[2])],
    );
    for (const row of rows)
      state.items.set(itemKey(row.probe as string, row.type as string, row.key as string), {
        state: row.state as string,
        since: row.since as number,
        seenAt: row.seen_at as number,
      });
  }
  return state;
}

/** Applies each stored run in order (each sees the one before it); answers each run's changes. */
export function applyRuns(state: BatchState, runs: RunRecord[], ids: number[], fresh: boolean[]): NewStateChange[][] {
  return runs.map((run, i) => {
    if (!fresh[i]) return [];
    const runId = ids[i] ?? 0;
    return [...applyStatus(state, run, runId), ...applyItems(state, run, runId)];
  });
}
