// PostgreSQL daemon lock: one row (daemon_lock) naming the process that holds the store, with its heartbeat.
import type { AsyncRepository, LockRepository } from '../repositories.ts';
import type { LockHolder } from '../types.ts';
import type { PostgresDb, Queryable } from './db.ts';

/** The advisory lock taken while the holder is read and replaced (there may be no row to lock yet). */
const DAEMON_LOCK = 0x5ca1_0003;

async function holderIn(db: Queryable): Promise<LockHolder | undefined> {
  const { rows } = await db.query('SELECT * FROM daemon_lock WHERE id = 1');
  const row = rows[0];
  if (!row) return undefined;
  return {
    owner: row.owner as string,
    pid: row.pid as number,
    host: row.host as string,
    startedAt: row.started_at as number,
    heartbeatAt: row.heartbeat_at as number,
  };
}

export class PostgresLock implements AsyncRepository<LockRepository> {
  constructor(
    private readonly db: PostgresDb,
    private readonly isOpen: () => boolean,
  ) {}

  holder(): Promise<LockHolder | undefined> {
    return holderIn(this.db);
  }

  async take(decide: (current: LockHolder | undefined) => LockHolder): Promise<void> {
    await this.db.tx(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [DAEMON_LOCK]);
      const next = decide(await holderIn(client));
      await client.query(
        `INSERT INTO daemon_lock (id, owner, pid, host, started_at, heartbeat_at) VALUES (1, $1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host,
           started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
        [next.owner, next.pid, next.host, next.startedAt, next.heartbeatAt],
      );
    });
  }

  async beat(owner: string, now: number): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE daemon_lock SET heartbeat_at = $1 WHERE id = 1 AND owner = $2', [
      now,
      owner,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async release(owner: string): Promise<void> {
    if (this.isOpen()) await this.db.query('DELETE FROM daemon_lock WHERE id = 1 AND owner = $1', [owner]);
  }
}
