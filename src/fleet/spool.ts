// The agent's on-disk spool: runs on their way to the fleet's PostgreSQL, kept in a small SQLite file until they are stored there.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { RunRecord } from '../store/types.ts';

export interface SpooledRun {
  seq: number;
  run: RunRecord;
}

/**
 * Runs written here before the local store (so a run the agent committed is
 * always on its way to the fleet) and removed once PostgreSQL has them. Bounded:
 * beyond `limit` runs the oldest are dropped and counted, so an agent cut off
 * from its database for days fills a known amount of disk, not the disk.
 */
export class RunSpool {
  private readonly db: Database.Database;
  private readonly sql;
  private droppedRuns = 0;

  constructor(
    readonly path: string,
    private readonly limit = 1_000_000,
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)');
    this.sql = {
      insert: this.db.prepare('INSERT INTO spool (body) VALUES (?)'),
      peek: this.db.prepare('SELECT seq, body FROM spool ORDER BY seq LIMIT ?'),
      remove: this.db.prepare('DELETE FROM spool WHERE seq <= ?'),
      count: this.db.prepare('SELECT count(*) FROM spool').pluck(),
      dropOldest: this.db.prepare('DELETE FROM spool WHERE seq IN (SELECT seq FROM spool ORDER BY seq LIMIT ?)'),
    };
  }

  /** Adds runs in one transaction; drops the oldest beyond the limit. */
  add(runs: RunRecord[]): void {
    this.db.transaction(() => {
      for (const run of runs) this.sql.insert.run(JSON.stringify(run));
      const over = this.size() - this.limit;
      if (over > 0) {
        this.sql.dropOldest.run(over);
        this.droppedRuns += over;
      }
    })();
  }

  /** The oldest `n` runs waiting, oldest first. */
  peek(n: number): SpooledRun[] {
    const rows = this.sql.peek.all(n) as Array<{ seq: number; body: string }>;
    return rows.map((row) => ({ seq: row.seq, run: JSON.parse(row.body) as RunRecord }));
  }

  /** Forgets every run up to `seq` (they are stored in PostgreSQL). */
  remove(seq: number): void {
    this.sql.remove.run(seq);
  }

  size(): number {
    return this.sql.count.get() as number;
  }

  /** Runs dropped because the spool was full, since the agent started. */
  dropped(): number {
    return this.droppedRuns;
  }

  close(): void {
    this.db.close();
  }
}
