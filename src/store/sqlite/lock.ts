// SQLite daemon lock: one row (daemon_lock) naming the daemon that holds the database, with its heartbeat.
import type { Database } from 'better-sqlite3';
import type { LockRepository } from '../repositories.ts';
import type { LockHolder } from '../types.ts';

function holderOf(row: Record<string, unknown> | undefined): LockHolder | undefined {
  if (!row) return undefined;
  return {
    owner: row.owner as string,
    pid: row.pid as number,
    host: row.host as string,
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
  };
}

export class SqliteLock implements LockRepository {
  constructor(private readonly db: Database) {}

  holder(): LockHolder | undefined {
    return holderOf(
      this.db.prepare('SELECT * FROM daemon_lock WHERE id = 1').get() as Record<string, unknown> | undefined,
    );
  }

  take(decide: (current: LockHolder | undefined) => LockHolder): void {
    this.db
      .transaction(() => {
        const next = decide(this.holder());
        this.db
          .prepare(
            `INSERT INTO daemon_lock (id, owner, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
          )
          .run(next.owner, next.pid, next.host, next.startedAt, next.heartbeatAt);
      })
      .immediate();
  }

  beat(owner: string, now: number): boolean {
    return (
      this.db.prepare('UPDATE daemon_lock SET heartbeat_at = ? WHERE id = 1 AND owner = ?').run(now, owner).changes > 0
    );
  }

  release(owner: string): void {
    if (this.db.open) this.db.prepare('DELETE FROM daemon_lock WHERE id = 1 AND owner = ?').run(owner);
  }
}
