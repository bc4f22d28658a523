// Pruning the PostgreSQL store: run partitions past the raw retention dropped whole, other rows past theirs deleted.
import type { Pruned, RetentionConfig } from '../retention.ts';
import { OWES_RESOLUTION } from './alerts.ts';
import type { PostgresDb } from './db.ts';
import type { Partitions } from './partitions.ts';

const HOUR = 3_600_000;

async function deleted(db: PostgresDb, sql: string, values: unknown[]): Promise<number> {
  return (await db.query(sql, values)).rowCount ?? 0;
}

/** Deletes what each retention no longer keeps (each table on its own: a fleet keeps writing meanwhile). */
export async function pruneOld(
  db: PostgresDb,
  partitions: Partitions,
  now: number,
  retention: RetentionConfig,
): Promise<Pruned> {
  const runs = await partitions.prune(now - retention.raw);
  const rollups = await deleted(db, 'DELETE FROM rollups WHERE hour < $1', [
    Math.floor((now - retention.hourly) / HOUR),
  ]);
  const items = await deleted(db, 'DELETE FROM run_items WHERE at < $1', [now - retention.items]);
  const itemStates = await deleted(db, 'DELETE FROM item_states WHERE seen_at < $1', [now - retention.items]);
  const stateChanges = await deleted(db, 'DELETE FROM state_changes WHERE at < $1', [now - retention.stateChanges]);
  // An alert back to ok may still owe its resolution (held by a silence): it stays until sent.
  const alerts = await deleted(
    db,
    `DELETE FROM alerts WHERE status = 'ok' AND updated_at < $1 AND NOT (${OWES_RESOLUTION})`,
    [now - retention.alerts],
  );
  const outbox = await deleted(db, 'DELETE FROM alert_outbox WHERE finished_at IS NOT NULL AND finished_at < $1', [
    now - retention.outbox,
  ]);
  const maintenance = await deleted(db, 'DELETE FROM maintenance_windows WHERE coalesce(ended_at, ends_at) < $1', [
    now - retention.maintenance,
  ]);
  return { runs, rollups, items, itemStates, stateChanges, alerts, outbox, maintenance, series: 0 };
}
