import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Clock } from '../util/clock.ts';
import { processAlive, thisHost } from '../util/process-alive.ts';

/** How often the holder proves it is alive. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A holder silent this long is gone (it may run on another host, where its pid cannot be checked). */
export const LOCK_STALE_AFTER_MS = 30_000;

export interface LockHolder {
  owner: string;
  pid: number;
  host: string;
  startedAt: number;
  heartbeatAt: number;
}

/** A second daemon on a database that already has one: one sentence, naming the other's pid. */
export class DatabaseInUseError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    now: number,
  ) {
    const seen = Math.max(0, Math.round((now - holder.heartbeatAt) / 1000));
    super(
      `${path} is in use by another scaiprobe daemon (pid ${holder.pid} on ${holder.host}, running since ${new Date(holder.startedAt).toISOString()}, last heartbeat ${seen}s ago): stop it, or give this daemon another store.path`,
    );
    this.name = 'DatabaseInUseError';
  }
}

/**
 * Why a recorded holder no longer holds the database, or undefined while it
 * does. A crashed daemon (kill -9, power loss) never releases its lock, so a
 * restart must not wait for it: on the same host a dead pid frees the lock at
 * once; elsewhere a heartbeat older than `staleAfterMs` does. A holder with
 * this process's pid that started before this process did is a previous life
 * of a container whose daemon is always pid 1.
 */
export function goneBecause(holder: LockHolder, now: number, me: { pid: number; host: string; startedAt: number }, staleAfterMs = LOCK_STALE_AFTER_MS): string | undefined {
  if (now - holder.heartbeatAt >= staleAfterMs) return `no heartbeat for ${Math.round((now - holder.heartbeatAt) / 1000)}s`;
  if (holder.host !== me.host) return undefined;
  if (holder.pid === me.pid) return holder.startedAt < me.startedAt ? `pid ${holder.pid} is a new process now` : undefined;
  if (!processAlive(holder.pid)) return `pid ${holder.pid} is not running`;
  return undefined;
}

function holderOf(row: Record<string, unknown> | undefined): LockHolder | undefined {
  if (!row) return undefined;
  return { owner: row.owner as string, pid: row.pid as number, host: row.host as string, startedAt: row.started_at as number, heartbeatAt: row.heartbeat_at as number };
}

/**
 * One daemon per database: a row in the database itself (so it holds on any
 * filesystem SQLite works on), refreshed by a heartbeat. Other commands
 * (`alert test`, `report`) do not take it: they only read, or touch their own rows.
 */
export class DaemonLock {
  readonly owner = randomUUID();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: {
      db: Database;
      /** The database file, for the refusal message. */
      path: string;
      clock: Clock;
      pid?: number;
      host?: string;
      heartbeatMs?: number;
      staleAfterMs?: number;
      /** Another daemon took the database over (this one was silent too long). */
      onLost?: (holder: LockHolder | undefined) => void;
      /** A heartbeat could not be written (a full disk, a locked file); the lock is kept, the next beat tries again. */
      onError?: (error: unknown) => void;
    },
  ) {}

  private get me(): { pid: number; host: string; startedAt: number } {
    // When this process started, on the lock's clock (a little early, never late).
    return { pid: this.deps.pid ?? process.pid, host: this.deps.host ?? thisHost(), startedAt: this.deps.clock.now() - Math.ceil(process.uptime() * 1000) };
  }

  holder(): LockHolder | undefined {
    return holderOf(this.deps.db.prepare('SELECT * FROM daemon_lock WHERE id = 1').get() as Record<string, unknown> | undefined);
  }

  /**
   * Takes the database or throws DatabaseInUseError. Returns the crashed
   * holder it replaced, if any, and why it was considered gone.
   */
  acquire(): { replaced?: LockHolder; reason?: string } {
    const { db, clock } = this.deps;
    const me = this.me;
    const result = db
      .transaction(() => {
        const now = clock.now();
        const current = this.holder();
        const reason = current && current.owner !== this.owner ? goneBecause(current, now, me, this.deps.staleAfterMs) : undefined;
        if (current && current.owner !== this.owner && reason === undefined) throw new DatabaseInUseError(this.deps.path, current, now);
        db.prepare(
          `INSERT INTO daemon_lock (id, owner, pid, host, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, host = excluded.host, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at`,
        ).run(this.owner, me.pid, me.host, now, now);
        return current && reason ? { replaced: current, reason } : {};
      })
      .immediate();
    this.timer ??= setInterval(() => this.beat(), this.deps.heartbeatMs ?? LOCK_HEARTBEAT_MS);
    this.timer.unref();
    return result;
  }

  /** Refreshes the heartbeat; notices when another daemon has taken over. */
  beat(): void {
    try {
      const changed = this.deps.db.prepare('UPDATE daemon_lock SET heartbeat_at = ? WHERE id = 1 AND owner = ?').run(this.deps.clock.now(), this.owner).changes;
      if (changed > 0) return;
      this.stopBeating();
      this.deps.onLost?.(this.holder());
    } catch (error) {
      this.deps.onError?.(error);
    }
  }

  private stopBeating(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Frees the database for the next daemon (a clean stop; a crash leaves the row for `goneBecause`). */
  release(): void {
    this.stopBeating();
    if (this.deps.db.open) this.deps.db.prepare('DELETE FROM daemon_lock WHERE id = 1 AND owner = ?').run(this.owner);
  }
}
