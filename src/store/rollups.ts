import type { Database } from 'better-sqlite3';

export interface RetentionConfig {
  /** Raw runs and items are kept this long (ms). */
  raw: number;
  /** Hourly rollups are kept this long (ms). */
  hourly: number;
  /** Run items (probe messages, listings: what reports read) are kept this long (ms). */
  items: number;
}

const HOUR = 3_600_000;
/** Runs still in flight at an hour's end are stored a little later: wait this long before rolling the hour up. */
const ROLLUP_GRACE_MS = 10 * 60_000;

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? null;
}

/** Aggregates every finished hour since the last rollup (runs, outcomes, duration p50/p95/p99). Returns hours done. */
export function computeRollups(db: Database, now: number): number {
  const until = Math.floor((now - ROLLUP_GRACE_MS) / HOUR) * HOUR;
  const watermarkRow = db.prepare("SELECT value FROM meta WHERE key = 'rollup_until'").get() as { value: string } | undefined;
  let from = watermarkRow ? Number(watermarkRow.value) : undefined;
  if (from === undefined) {
    const first = db.prepare('SELECT MIN(started_at) AS first FROM runs').get() as { first: number | null };
    if (first.first === null) return 0;
    from = Math.floor(first.first / HOUR) * HOUR;
  }
  if (from >= until) return 0;
  const select = db.prepare('SELECT probe, status, duration_ms FROM runs WHERE started_at >= ? AND started_at < ? ORDER BY probe');
  const upsert = db.prepare(`INSERT OR REPLACE INTO rollups_hourly (probe, hour, runs, passes, warns, fails, duration_p50, duration_p95, duration_p99, duration_max)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  let hours = 0;
  for (let hour = from; hour < until; hour += HOUR) {
    const rows = select.all(hour, hour + HOUR) as Array<{ probe: string; status: string; duration_ms: number }>;
    const byProbe = new Map<string, Array<{ status: string; duration_ms: number }>>();
    for (const row of rows) {
      const list = byProbe.get(row.probe) ?? [];
      list.push(row);
      byProbe.set(row.probe, list);
    }
    db.transaction(() => {
      for (const [probe, runs] of byProbe) {
        const durations = runs.map((r) => r.duration_ms).sort((a, b) => a - b);
        const count = (status: string) => runs.filter((r) => r.status === status).length;
        upsert.run(probe, hour, runs.length, count('pass'), count('warn'), count('fail'), percentile(durations, 0.5), percentile(durations, 0.95), percentile(durations, 0.99), durations.at(-1) ?? null);
      }
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('rollup_until', ?)").run(String(hour + HOUR));
    })();
    hours++;
  }
  return hours;
}

/** Deletes raw runs and items older than the raw retention, and rollups older than theirs. Returns runs deleted. */
export function pruneOld(db: Database, now: number, retention: RetentionConfig): number {
  const rawCutoff = now - retention.raw;
  return db.transaction(() => {
    const runs = db.prepare('DELETE FROM runs WHERE started_at < ?').run(rawCutoff).changes;
    db.prepare('DELETE FROM run_items WHERE at < ?').run(now - retention.items);
    db.prepare('DELETE FROM rollups_hourly WHERE hour < ?').run(now - retention.hourly);
    return runs;
  })();
}
