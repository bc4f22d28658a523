// SQLite hourly rollups (rollups): computed from run_log for every finished hour, read per probe.
import type { Database } from 'better-sqlite3';
import type { RollupRepository } from '../repositories.ts';
import type { HourlyRollup } from '../types.ts';

const HOUR = 3_600_000;
/** Runs still in flight at an hour's end are stored a little later: wait this long before rolling the hour up. */
const ROLLUP_GRACE_MS = 10 * 60_000;

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? null;
}

/** Series rolled up per step: an hour of one-minute runs for 200 series is 12,000 rows, a few tens of ms. */
const SERIES_PER_STEP = 200;

/**
 * Aggregates every finished hour since the last rollup (runs, outcomes,
 * duration p50/p95/p99/max in hundredths of a millisecond, like run_log).
 * Rows are keyed by series and epoch hour; each series is read along its
 * (series, started_at) index. Yields between steps of SERIES_PER_STEP series,
 * each its own transaction: a rollup redone after a crash mid-way replaces the
 * same rows, and the watermark moves only after the last step. Returns hours done.
 */
export function* rollupSteps(db: Database, now: number): Generator<void, number> {
  const until = Math.floor((now - ROLLUP_GRACE_MS) / HOUR) * HOUR;
  const series = (db.prepare('SELECT id FROM run_series').all() as Array<{ id: number }>).map((row) => row.id);
  const from = yield* watermark(db, series);
  if (from === undefined || from >= until) return 0;
  const select = db.prepare(
    'SELECT started_at, status, duration FROM run_log WHERE series = ? AND started_at >= ? AND started_at < ?',
  );
  const upsert =
    db.prepare(`INSERT OR REPLACE INTO rollups (series, hour, runs, passes, warns, fails, p50, p95, p99, max)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const rollUp = db.transaction((ids: number[]) => {
    for (const id of ids) {
      const byHour = new Map<number, { durations: number[]; counts: [number, number, number] }>();
      for (const row of select.iterate(id, from, until) as IterableIterator<{
        started_at: number;
        status: number;
        duration: number;
      }>) {
        const hour = Math.floor(row.started_at / HOUR);
        const entry = byHour.get(hour) ?? { durations: [], counts: [0, 0, 0] };
        entry.durations.push(row.duration);
        entry.counts[row.status === 0 ? 0 : row.status === 1 ? 1 : 2] += 1;
        byHour.set(hour, entry);
      }
      for (const [hour, { durations, counts }] of byHour) {
        durations.sort((a, b) => a - b);
        upsert.run(
          id,
          hour,
          durations.length,
          counts[0],
          counts[1],
          counts[2],
          percentile(durations, 0.5),
          percentile(durations, 0.95),
          percentile(durations, 0.99),
          durations.at(-1) ?? null,
        );
      }
    }
  });
  for (let i = 0; i < series.length; i += SERIES_PER_STEP) {
    rollUp(series.slice(i, i + SERIES_PER_STEP));
    yield;
  }
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('rollup_until', ?)").run(String(until));
  return (until - from) / HOUR;
}

/** Where rollups resume: the watermark, or the hour of the oldest run (looked up in steps); undefined with no runs. */
function* watermark(db: Database, series: number[]): Generator<void, number | undefined> {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'rollup_until'").get() as { value: string } | undefined;
  if (row) return Number(row.value);
  const firstOf = db.prepare('SELECT min(started_at) AS first FROM run_log WHERE series = ?');
  let first = Infinity;
  for (let i = 0; i < series.length; i += SERIES_PER_STEP * 5) {
    for (const id of series.slice(i, i + SERIES_PER_STEP * 5))
      first = Math.min(first, (firstOf.get(id) as { first: number | null }).first ?? Infinity);
    yield;
  }
  return first === Infinity ? undefined : Math.floor(first / HOUR) * HOUR;
}

export class SqliteRollups implements RollupRepository {
  constructor(private readonly db: Database) {}

  hourly(probe: string, since = 0): HourlyRollup[] {
    const rows = this.db
      .prepare(
        `SELECT r.hour, sum(r.runs) AS runs, sum(r.passes) AS passes, sum(r.warns) AS warns, sum(r.fails) AS fails, max(r.p50) AS p50, max(r.p95) AS p95, max(r.p99) AS p99, max(r.max) AS max
         FROM run_series s JOIN rollups r ON r.series = s.id WHERE s.probe = ? AND r.hour >= ? GROUP BY r.hour ORDER BY r.hour`,
      )
      .all(probe, Math.ceil(since / HOUR)) as HourlyRollup[];
    const ms = (value: number | null) => (value === null ? null : value / 100);
    return rows.map((row) => ({
      ...row,
      hour: row.hour * HOUR,
      p50: ms(row.p50),
      p95: ms(row.p95),
      p99: ms(row.p99),
      max: ms(row.max),
    }));
  }
}
