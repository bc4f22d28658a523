import type { Database } from 'better-sqlite3';

const HOUR = 3_600_000;
/** Runs still in flight at an hour's end are stored a little later: wait this long before rolling the hour up. */
const ROLLUP_GRACE_MS = 10 * 60_000;

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? null;
}

/**
 * Aggregates every finished hour since the last rollup (runs, outcomes,
 * duration p50/p95/p99/max in hundredths of a millisecond, like run_log).
 * Rows are keyed by series and epoch hour. Returns hours done.
 */
export function computeRollups(db: Database, now: number): number {
  const until = Math.floor((now - ROLLUP_GRACE_MS) / HOUR) * HOUR;
  const watermarkRow = db.prepare("SELECT value FROM meta WHERE key = 'rollup_until'").get() as { value: string } | undefined;
  let from = watermarkRow ? Number(watermarkRow.value) : undefined;
  if (from === undefined) {
    const first = db.prepare('SELECT MIN(started_at) AS first FROM run_log').get() as { first: number | null };
    if (first.first === null) return 0;
    from = Math.floor(first.first / HOUR) * HOUR;
  }
  if (from >= until) return 0;
  const select = db.prepare('SELECT series, status, duration FROM run_log WHERE started_at >= ? AND started_at < ?');
  const upsert = db.prepare(`INSERT OR REPLACE INTO rollups (series, hour, runs, passes, warns, fails, p50, p95, p99, max)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const watermark = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('rollup_until', ?)");
  let hours = 0;
  for (let hour = from; hour < until; hour += HOUR) {
    const rows = select.all(hour, hour + HOUR) as Array<{ series: number; status: number; duration: number }>;
    const bySeries = new Map<number, { durations: number[]; counts: [number, number, number] }>();
    for (const row of rows) {
      const entry = bySeries.get(row.series) ?? { durations: [], counts: [0, 0, 0] };
      entry.durations.push(row.duration);
      entry.counts[row.status === 0 ? 0 : row.status === 1 ? 1 : 2] += 1;
      bySeries.set(row.series, entry);
    }
    db.transaction(() => {
      for (const [series, { durations, counts }] of bySeries) {
        durations.sort((a, b) => a - b);
        upsert.run(series, hour / HOUR, durations.length, counts[0], counts[1], counts[2], percentile(durations, 0.5), percentile(durations, 0.95), percentile(durations, 0.99), durations.at(-1) ?? null);
      }
      watermark.run(String(hour + HOUR));
    })();
    hours++;
  }
  return hours;
}
