// PostgreSQL hourly rollups (rollups): computed in SQL from the runs of every finished hour, read per probe.
import type { AsyncRepository, RollupRepository } from '../repositories.ts';
import type { HourlyRollup } from '../types.ts';
import type { PostgresDb } from './db.ts';

const HOUR = 3_600_000;
/** Runs still in flight at an hour's end are stored a little later: wait this long before rolling the hour up. */
const ROLLUP_GRACE_MS = 10 * 60_000;

/**
 * Aggregates every finished hour since the last rollup: runs, outcomes, duration percentiles (percentile_disc:
 * the value at rank ceil(q·n), as the SQLite store computes them) in hundredths of a millisecond. Returns hours done.
 */
export async function computeRollups(db: PostgresDb, now: number): Promise<number> {
  const until = Math.floor((now - ROLLUP_GRACE_MS) / HOUR) * HOUR;
  return db.tx(async (client) => {
    // One maintainer at a time: the watermark row is the lock.
    await client.query(`INSERT INTO meta (key, value) VALUES ('rollup_until', '') ON CONFLICT (key) DO NOTHING`);
    const mark = await client.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'rollup_until' FOR UPDATE`);
    let from = mark.rows[0]?.value ? Number(mark.rows[0].value) : undefined;
    if (from === undefined) {
      const first = await client.query<{ first: number | null }>('SELECT min(started_at) AS first FROM runs');
      const earliest = first.rows[0]?.first;
      if (earliest === null || earliest === undefined) return 0;
      from = Math.floor(earliest / HOUR) * HOUR;
    }
    if (from >= until) return 0;
    await client.query(
      `INSERT INTO rollups (probe, hour, runs, passes, warns, fails, p50, p95, p99, max)
       SELECT probe, started_at / ${HOUR}, count(*), count(*) FILTER (WHERE status = 0), count(*) FILTER (WHERE status = 1),
         count(*) FILTER (WHERE status = 2), percentile_disc(0.5) WITHIN GROUP (ORDER BY duration),
         percentile_disc(0.95) WITHIN GROUP (ORDER BY duration), percentile_disc(0.99) WITHIN GROUP (ORDER BY duration), max(duration)
       FROM runs WHERE started_at >= $1 AND started_at < $2 GROUP BY probe, started_at / ${HOUR}
       ON CONFLICT (probe, hour) DO UPDATE SET runs = excluded.runs, passes = excluded.passes, warns = excluded.warns,
         fails = excluded.fails, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99, max = excluded.max`,
      [from, until],
    );
    await client.query(`UPDATE meta SET value = $1 WHERE key = 'rollup_until'`, [String(until)]);
    return (until - from) / HOUR;
  });
}

export class PostgresRollups implements AsyncRepository<RollupRepository> {
  constructor(private readonly db: PostgresDb) {}

  async hourly(probe: string, since = 0): Promise<HourlyRollup[]> {
    const { rows } = await this.db.query<HourlyRollup>(
      `SELECT hour, runs, passes, warns, fails, p50, p95, p99, max FROM rollups WHERE probe = $1 AND hour >= $2 ORDER BY hour`,
      [probe, Math.ceil(since / HOUR)],
    );
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
