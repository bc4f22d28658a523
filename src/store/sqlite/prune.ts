// Pruning the SQLite store: runs, items and rollups past their retention.
import type { Database } from 'better-sqlite3';
import type { Pruned, RetentionConfig } from '../retention.ts';
import { KEYFRAME_MAX_AGE_MS } from './run-log.ts';

const HOUR = 3_600_000;

/** The item types present, by walking the (type, at) index from one type to the next. */
function itemTypes(db: Database): string[] {
  const rows = db
    .prepare(
      `WITH RECURSIVE types(type) AS (
         SELECT min(type) FROM run_items
         UNION ALL SELECT (SELECT min(type) FROM run_items WHERE type > types.type) FROM types WHERE types.type IS NOT NULL
       ) SELECT type FROM types WHERE type IS NOT NULL`,
    )
    .all() as Array<{ type: string }>;
  return rows.map((row) => row.type);
}

/** Series pruned per step: at steady state an hour of one-minute runs each, 6,000 rows for 100 series. */
const SERIES_PER_STEP = 100;

function* pruneRuns(db: Database, cutoff: number): Generator<void, number> {
  // Differences go at the cutoff; whole rows KEYFRAME_MAX_AGE_MS later, since a
  // kept difference may still point at one (it is never more than that older).
  // Series by series, along the (series, started_at) index, a transaction per step.
  const prune = db.prepare(
    'DELETE FROM run_log WHERE series = ? AND started_at < ? AND (base IS NOT NULL OR started_at < ?)',
  );
  const pruneSome = db.transaction((ids: number[]) =>
    ids.reduce((deleted, id) => deleted + prune.run(id, cutoff, cutoff - KEYFRAME_MAX_AGE_MS).changes, 0),
  );
  const series = (db.prepare('SELECT id FROM run_series').all() as Array<{ id: number }>).map((row) => row.id);
  let deleted = 0;
  for (let i = 0; i < series.length; i += SERIES_PER_STEP) {
    deleted += pruneSome(series.slice(i, i + SERIES_PER_STEP));
    yield;
  }
  return deleted;
}

/**
 * Deletes what each retention no longer keeps: runs in steps (a step a
 * transaction; an hour's runs of thousands of probes would hold the event loop
 * for seconds), then the other tables in one transaction.
 */
export function* pruneSteps(db: Database, now: number, retention: RetentionConfig): Generator<void, Pruned> {
  const runs = yield* pruneRuns(db, now - retention.raw);
  return { runs, ...pruneTheRest(db, now, retention) };
}

function pruneTheRest(db: Database, now: number, retention: RetentionConfig): Omit<Pruned, 'runs'> {
  return db.transaction((): Omit<Pruned, 'runs'> => {
    const rollups = db
      .prepare('DELETE FROM rollups WHERE series IN (SELECT id FROM run_series) AND hour < ?')
      .run(Math.floor((now - retention.hourly) / HOUR)).changes;
    const deleteItems = db.prepare('DELETE FROM run_items WHERE type = ? AND at < ?');
    let items = 0;
    for (const type of itemTypes(db)) items += deleteItems.run(type, now - retention.items).changes;
    const itemStates = db.prepare('DELETE FROM item_states WHERE seen_at < ?').run(now - retention.items).changes;
    const stateChanges = db.prepare('DELETE FROM state_changes WHERE at < ?').run(now - retention.stateChanges).changes;
    // An alert back to ok may still owe its resolution (held by a silence): it stays until sent.
    const alerts = db
      .prepare(
        "DELETE FROM alerts WHERE status = 'ok' AND updated_at < ? AND json_extract(state, '$.heldResolution') IS NULL",
      )
      .run(now - retention.alerts).changes;
    const outbox = db
      .prepare('DELETE FROM alert_outbox WHERE finished_at IS NOT NULL AND finished_at < ?')
      .run(now - retention.outbox).changes;
    const maintenance = db
      .prepare('DELETE FROM maintenance_windows WHERE coalesce(ended_at, ends_at) < ?')
      .run(now - retention.maintenance).changes;
    // A series with neither runs nor rollups left (a probe removed or renamed long ago).
    const series = db
      .prepare(
        `DELETE FROM run_series WHERE NOT EXISTS (SELECT 1 FROM run_log WHERE run_log.series = run_series.id)
           AND NOT EXISTS (SELECT 1 FROM rollups WHERE rollups.series = run_series.id)`,
      )
      .run().changes;
    return { rollups, items, itemStates, stateChanges, alerts, outbox, maintenance, series };
  })();
}
