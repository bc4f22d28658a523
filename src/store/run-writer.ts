// The run write path: runs committed as they finish, kept in memory while the storage refuses writes.
import type { Logger } from 'pino';
import type { Store } from './repositories.ts';
import type { RecordedRun, RunRecord } from './types.ts';

export interface StoreHealth {
  /** Why runs are not being stored right now (`database: disk full`), or undefined while they are. */
  problem: string | undefined;
  /** Runs waiting in memory to be stored. */
  queued: number;
  /** Runs given up: the oldest when the queue was full, or one the database refused for its own content. */
  dropped: number;
}

export interface RunWriterOptions {
  logger: Logger;
  /** How long a run given to record() may wait for others to share its transaction. */
  batchMs?: number;
  /** This many runs waiting for record() are stored at once. */
  batchSize?: number;
  /** Runs kept in memory while the database refuses writes; beyond, the oldest are dropped. */
  capacity?: number;
  /** Time between attempts while the database refuses writes. */
  retryMs?: number;
}

const DEFAULT_CAPACITY = 10_000;
const DEFAULT_RETRY_MS = 2_000;
const DEFAULT_BATCH_MS = 20;
const DEFAULT_BATCH_SIZE = 500;

interface Waiting {
  run: RunRecord;
  done: (recorded: RecordedRun | undefined) => void;
}

/**
 * Commits runs as they finish; record() lets the runs that end within
 * `batchMs` of each other share one transaction (at thousands of runs a minute
 * a commit per run costs more than the run: each writes the same table and
 * index pages to the WAL again). When the database refuses a write because of
 * its file or disk (full, read-only, locked, damaged), the run is kept in
 * memory, up to `capacity` runs (the oldest dropped first), and the queue is
 * retried in order every `retryMs` and before each new run; nothing is lost
 * while the condition lasts less than the queue holds. A run the database
 * refuses for its own content is dropped and logged, so it cannot block the rest.
 */
export class RunWriter {
  private readonly queue: RunRecord[] = [];
  private readonly capacity: number;
  private readonly retryMs: number;
  private problem: string | undefined;
  private dropped = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waiting: Waiting[] = [];
  private batchTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<Store, 'runs' | 'storageCondition'>,
    private readonly options: RunWriterOptions,
  ) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  }

  /** Stores the run (after any queued before it); returns what was recorded, or undefined while it waits in the queue. */
  write(run: RunRecord): RecordedRun | undefined {
    this.enqueue(run);
    if (performance.now() < this.retryAt) return undefined;
    return this.flush().get(run);
  }

  /**
   * Like write(), once the runs that end within `batchMs` are together: they
   * are stored in one transaction. Resolves with what the run recorded, or
   * undefined while it waits in the queue (or was dropped).
   */
  record(run: RunRecord): Promise<RecordedRun | undefined> {
    return new Promise((done) => {
      this.waiting.push({ run, done });
      if (this.waiting.length >= (this.options.batchSize ?? DEFAULT_BATCH_SIZE)) this.writeWaiting();
      else this.batchTimer ??= setTimeout(() => this.writeWaiting(), this.options.batchMs ?? DEFAULT_BATCH_MS);
    });
  }

  private writeWaiting(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    for (const { run } of batch) this.enqueue(run);
    const recorded = performance.now() < this.retryAt ? new Map<RunRecord, RecordedRun>() : this.flush();
    for (const { run, done } of batch) done(recorded.get(run));
  }

  health(): StoreHealth {
    return { problem: this.problem, queued: this.queue.length, dropped: this.dropped };
  }

  /** Stores queued runs in order until the database refuses; returns what each stored run recorded. */
  flush(): Map<RunRecord, RecordedRun> {
    const recorded = new Map<RunRecord, RecordedRun>();
    const backlog = this.queue.length;
    // The whole queue in one transaction; should it fail, run by run finds the run or the condition to blame.
    if (this.queue.length > 1) {
      try {
        const runs = this.queue.slice();
        this.store.runs.recordAll(runs).forEach((result, i) => recorded.set(runs[i] as RunRecord, result));
        this.queue.splice(0, runs.length);
      } catch {
        recorded.clear();
      }
    }
    while (this.queue.length > 0) {
      const run = this.queue[0] as RunRecord;
      try {
        recorded.set(run, this.store.runs.record(run));
        this.queue.shift();
      } catch (error) {
        const condition = this.store.storageCondition(error);
        if (condition === undefined) {
          this.queue.shift();
          this.dropped++;
          this.options.logger.error(
            { err: error, probe: run.probe, run_id: run.uid },
            'the database refused this run; it is dropped',
          );
          continue;
        }
        this.refused(error, condition);
        return recorded;
      }
    }
    if (this.problem !== undefined) {
      this.options.logger.info(
        { stored: backlog, dropped: this.dropped },
        'the database takes writes again; queued runs are stored',
      );
      this.problem = undefined;
    }
    this.retryAt = 0;
    return recorded;
  }

  /** Stops retrying; one last attempt to store what is queued. */
  close(): void {
    if (this.waiting.length > 0) this.writeWaiting();
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length > 0) this.flush();
    clearTimeout(this.timer);
    if (this.queue.length > 0)
      this.options.logger.error(
        { queued: this.queue.length, problem: this.problem },
        'runs still queued at stop are lost',
      );
  }

  private enqueue(run: RunRecord): void {
    this.queue.push(run);
    if (this.queue.length <= this.capacity) return;
    this.queue.shift();
    this.dropped++;
    if (this.dropped === 1 || this.dropped % 1000 === 0)
      this.options.logger.error(
        { dropped: this.dropped, capacity: this.capacity, problem: this.problem },
        'run queue full: the oldest queued runs are dropped',
      );
  }

  private refused(error: unknown, condition: string): void {
    const problem = `database: ${condition}`;
    if (problem !== this.problem)
      this.options.logger.error(
        { err: error, queued: this.queue.length },
        `${problem}: runs are kept in memory and retried`,
      );
    this.problem = problem;
    this.retryAt = performance.now() + this.retryMs;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.retryMs);
    this.timer.unref();
  }
}
