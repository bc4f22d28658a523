// One daemon per database: the lock, its heartbeat, and when a recorded holder is gone.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../util/clock.ts';
import type { LockRepository } from './repositories.ts';
import type { LockHolder } from './types.ts';
import { processAlive, thisHost } from '../util/process-alive.ts';

/** How often the holder proves it is alive. */
export const LOCK_HEARTBEAT_MS = 5_000;
/** A holder silent this long is gone (it may run on another host, where its pid cannot be checked). */
export const LOCK_STALE_AFTER_MS = 30_000;

export type { LockHolder } from './types.ts';

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
export function goneBecause(
  holder: LockHolder,
  now: number,
  me: { pid: number; host: string; startedAt: number },
  staleAfterMs = LOCK_STALE_AFTER_MS,
): string | undefined {
  if (now - holder.heartbeatAt >= staleAfterMs)
    return `no heartbeat for ${Math.round((now - holder.heartbeatAt) / 1000)}s`;
  if (holder.host !== me.host) return undefined;
  if (holder.pid === me.pid)
    return holder.startedAt < me.startedAt ? `pid ${holder.pid} is a new process now` : undefined;
  if (!processAlive(holder.pid)) return `pid ${holder.pid} is not running`;
  return undefined;
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
      locks: LockRepository;
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
    return {
      pid: this.deps.pid ?? process.pid,
      host: this.deps.host ?? thisHost(),
      startedAt: this.deps.clock.now() - Math.ceil(process.uptime() * 1000),
    };
  }

  holder(): LockHolder | undefined {
    return this.deps.locks.holder();
  }

  /**
   * Takes the database or throws DatabaseInUseError. Returns the crashed
   * holder it replaced, if any, and why it was considered gone.
   */
  acquire(): { replaced?: LockHolder; reason?: string } {
    const { locks, clock } = this.deps;
    const me = this.me;
    let result: { replaced?: LockHolder; reason?: string } = {};
    locks.take((current) => {
      const now = clock.now();
      const reason =
        current && current.owner !== this.owner ? goneBecause(current, now, me, this.deps.staleAfterMs) : undefined;
      if (current && current.owner !== this.owner && reason === undefined)
        throw new DatabaseInUseError(this.deps.path, current, now);
      result = current && reason ? { replaced: current, reason } : {};
      return { owner: this.owner, pid: me.pid, host: me.host, startedAt: now, heartbeatAt: now };
    });
    this.timer ??= setInterval(() => this.beat(), this.deps.heartbeatMs ?? LOCK_HEARTBEAT_MS);
    this.timer.unref();
    return result;
  }

  /** Refreshes the heartbeat; notices when another daemon has taken over. */
  beat(): void {
    try {
      if (this.deps.locks.beat(this.owner, this.deps.clock.now())) return;
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
    this.deps.locks.release(this.owner);
  }
}
