// Moves the agent's spooled runs to the fleet's PostgreSQL in batches, and says while it cannot.
import type { Logger } from 'pino';
import type { RunRecord } from '../store/types.ts';
import type { RunSpool } from './spool.ts';

export interface ReplicatorStatus {
  /** Runs waiting in the spool. */
  pending: number;
  /** Why runs are not reaching PostgreSQL now, since when; undefined while they are. */
  problem: { message: string; since: number } | undefined;
  /** Runs stored in PostgreSQL by this agent since it started. */
  pushed: number;
  /** Runs dropped because the spool was full. */
  dropped: number;
}

export interface ReplicatorOptions {
  spool: RunSpool;
  /** Stores a batch; a run already stored (same uid) is not stored twice, so a batch may be sent again. */
  push: (runs: RunRecord[]) => Promise<unknown>;
  logger: Logger;
  now: () => number;
  batchSize?: number;
  intervalMs?: number;
  /** Longest wait between attempts while PostgreSQL is away. */
  maxBackoffMs?: number;
}

/**
 * One loop, one batch in flight: the runs of one agent reach PostgreSQL in the
 * order it committed them (the fleet's readers follow each agent's runs by id).
 * A failed batch stays in the spool and is sent again after a growing pause.
 */
export class RunReplicator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private problem: ReplicatorStatus['problem'];
  private pushed = 0;
  private failures = 0;

  constructor(private readonly options: ReplicatorOptions) {}

  start(): void {
    this.schedule(0);
  }

  /** Sends what the spool holds now, batch after batch; resolves when it is empty or a batch fails. */
  async flush(): Promise<number> {
    const { spool, push, logger, now } = this.options;
    const batchSize = this.options.batchSize ?? 500;
    let sent = 0;
    for (;;) {
      const batch = spool.peek(batchSize);
      const last = batch.at(-1);
      if (!last) break;
      try {
        await push(batch.map((entry) => entry.run));
      } catch (error) {
        this.fail(error, now());
        throw error;
      }
      spool.remove(last.seq);
      sent += batch.length;
      this.pushed += batch.length;
    }
    if (this.problem) {
      logger.info(
        { runs: sent, awayMs: now() - this.problem.since },
        'PostgreSQL is back: runs spooled while it was away are stored',
      );
      this.problem = undefined;
    }
    this.failures = 0;
    return sent;
  }

  status(): ReplicatorStatus {
    const { spool } = this.options;
    return { pending: spool.size(), problem: this.problem, pushed: this.pushed, dropped: spool.dropped() };
  }

  /** Stops the loop after one last attempt to send what is spooled (bounded by `timeoutMs`); what is left stays spooled. */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.flush().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  private fail(error: unknown, at: number): void {
    this.failures += 1;
    const message = error instanceof Error ? error.message : String(error);
    if (!this.problem) {
      this.problem = { message, since: at };
      this.options.logger.warn(
        { err: error, pending: this.options.spool.size() },
        'PostgreSQL is unreachable: runs are spooled on disk and sent when it is back',
      );
    } else this.problem = { message, since: this.problem.since };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.flush()
        .then(() => undefined)
        .catch(() => undefined)
        .finally(() => {
          this.running = undefined;
          this.schedule(this.nextDelay());
        });
    }, delayMs);
  }

  private nextDelay(): number {
    const interval = this.options.intervalMs ?? 250;
    if (this.failures === 0) return interval;
    return Math.min(this.options.maxBackoffMs ?? 5_000, interval * 2 ** Math.min(this.failures, 6));
  }
}
