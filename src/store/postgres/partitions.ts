// The runs table's daily partitions: created on demand before a batch writes into them, dropped whole by retention.
import type { Queryable, PostgresDb } from './db.ts';

const DAY = 86_400_000;
/** The advisory lock held while creating a partition: two agents creating the same day take turns. */
const PARTITION_LOCK = 0x5ca1_0002;

/** A day's partition: `runs_20260101` holds runs started in [day, day + 1 day). */
export function partitionName(day: number): string {
  const date = new Date(day);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `runs_${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}`;
}

export function dayOf(time: number): number {
  return Math.floor(time / DAY) * DAY;
}

export interface Partition {
  name: string;
  /** Its first day, epoch ms. */
  day: number;
}

/** The runs table's partitions, oldest first, as the catalog lists them. */
export async function listPartitions(db: Queryable): Promise<Partition[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'runs'::regclass ORDER BY c.relname`,
  );
  return rows.flatMap(({ name }) => {
    const match = /^runs_(\d{4})(\d{2})(\d{2})$/.exec(name);
    if (!match) return [];
    return [{ name, day: Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) }];
  });
}

/** Creates partitions on demand and remembers which exist (dropping one makes it forget them all). */
export class Partitions {
  private readonly known = new Set<number>();

  constructor(private readonly db: PostgresDb) {}

  /** Makes sure a partition exists for the day of each time. */
  async ensure(times: number[]): Promise<void> {
    const missing = [...new Set(times.map(dayOf))].filter((day) => !this.known.has(day));
    if (missing.length === 0) return;
    // Its own short transaction: creating a partition locks the parent table, and must not wait on a batch.
    await this.db.tx(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
      for (const day of missing)
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${partitionName(day)} PARTITION OF runs FOR VALUES FROM (${day}) TO (${day + DAY})`,
        );
    });
    for (const day of missing) this.known.add(day);
  }

  forget(): void {
    this.known.clear();
  }

  /**
   * Drops partitions wholly before `cutoff` and deletes the rows before it from the partition it falls in
   * (so a run is kept exactly as long as in the SQLite store). Returns how many runs went.
   */
  async prune(cutoff: number): Promise<number> {
    let removed = 0;
    const partitions = await listPartitions(this.db);
    for (const partition of partitions) {
      if (partition.day + DAY <= cutoff) {
        removed += await this.db.tx(async (client) => {
          await client.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
          // Another process may have dropped it since the listing.
          const present = await client.query('SELECT to_regclass($1) AS found', [partition.name]);
          if (present.rows[0]?.found === null) return 0;
          const { rows } = await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${partition.name}`);
          await client.query(`DROP TABLE IF EXISTS ${partition.name}`);
          return rows[0]?.n ?? 0;
        });
        this.known.delete(partition.day);
      } else if (partition.day < cutoff) {
        const { rowCount } = await this.db.query(`DELETE FROM ${partition.name} WHERE started_at < $1`, [cutoff]);
        removed += rowCount ?? 0;
      }
    }
    return removed;
  }
}
