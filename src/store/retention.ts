import type { Database } from 'better-sqlite3';
import { KEYFRAME_MAX_AGE_MS } from './run-log.ts';

/** How long each kind of row is kept (ms). Every table that grows with time has one. */
export interface RetentionConfig {
  /** Raw runs. */
  raw: number;
  /** Hourly rollups. */
  hourly: number;
  /** Run items (probe messages, listings: what reports read), and item states not seen for this long. */
  items: number;
  /** State changes (probe up/down, listed/delisted, alert fired/resolved: incident history for reports). */
  stateChanges: number;
  /** Alerts back to ok and not evaluated for this long (their rule or target is gone). */
  alerts: number;
  /** Notifications delivered, expired or failed this long ago. */
  outbox: number;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

export const DEFAULT_RETENTION: RetentionConfig = {
  raw: 14 * DAY,
  hourly: 400 * DAY,
  items: 90 * DAY,
  stateChanges: 400 * DAY,
  alerts: 30 * DAY,
  outbox: 30 * DAY,
};

export interface Pruned {
  runs: number;
  rollups: number;
  items: number;
  itemStates: number;
  stateChanges: number;
  alerts: number;
  outbox: number;
  series: number;
}

export const NOTHING_PRUNED: Pruned = Object.freeze({ runs: 0, rollups: 0, items: 0, itemStates: 0, stateChanges: 0, alerts: 0, outbox: 0, series: 0 });

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

function pruneRuns(db: Database, cutoff: number): number {
  // Differences go at the cutoff; whole rows KEYFRAME_MAX_AGE_MS later, since a
  // kept difference may still point at one (it is never more than that older).
  // Series by series, along the (series, started_at) index.
  const prune = db.prepare('DELETE FROM run_log WHERE series = ? AND started_at < ? AND (base IS NOT NULL OR started_at < ?)');
  let deleted = 0;
  for (const { id } of db.prepare('SELECT id FROM run_series').all() as Array<{ id: number }>) deleted += prune.run(id, cutoff, cutoff - KEYFRAME_MAX_AGE_MS).changes;
  return deleted;
}

/** Deletes what each retention no longer keeps, in one transaction. */
export function pruneOld(db: Database, now: number, retention: RetentionConfig): Pruned {
  return db.transaction((): Pruned => {
    const runs = pruneRuns(db, now - retention.raw);
    const rollups = db.prepare('DELETE FROM rollups WHERE series IN (SELECT id FROM run_series) AND hour < ?').run(Math.floor((now - retention.hourly) / HOUR)).changes;
    const deleteItems = db.prepare('DELETE FROM run_items WHERE type = ? AND at < ?');
    let items = 0;
    for (const type of itemTypes(db)) items += deleteItems.run(type, now - retention.items).changes;
    const itemStates = db.prepare('DELETE FROM item_states WHERE seen_at < ?').run(now - retention.items).changes;
    const stateChanges = db.prepare('DELETE FROM state_changes WHERE at < ?').run(now - retention.stateChanges).changes;
    // An alert back to ok may still owe its resolution (held by a silence): it stays until sent.
    const alerts = db.prepare("DELETE FROM alerts WHERE status = 'ok' AND updated_at < ? AND json_extract(state, '$.heldResolution') IS NULL").run(now - retention.alerts).changes;
    const outbox = db.prepare('DELETE FROM alert_outbox WHERE finished_at IS NOT NULL AND finished_at < ?').run(now - retention.outbox).changes;
    // A series with neither runs nor rollups left (a probe removed or renamed long ago).
    const series = db
      .prepare(
        `DELETE FROM run_series WHERE NOT EXISTS (SELECT 1 FROM run_log WHERE run_log.series = run_series.id)
           AND NOT EXISTS (SELECT 1 FROM rollups WHERE rollups.series = run_series.id)`,
      )
      .run().changes;
    return { runs, rollups, items, itemStates, stateChanges, alerts, outbox, series };
  })();
}
