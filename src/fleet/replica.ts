// A replica agent's copy of the fleet's results: the other agents' runs, pulled from PostgreSQL into the local store.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { RunRecord, RunWithItems } from '../store/types.ts';

export interface ReplicaOptions {
  /** This agent: its own runs are in the local store already. */
  agent: string;
  /** Runs of any agent above that agent's cursor (every run of agents not in the map), oldest first per agent, with their items. */
  runsAfter: (cursors: Map<string, number>, limit: number) => Promise<RunWithItems[]>;
  /** Stores pulled runs in the local store, all or none. */
  store: (runs: RunRecord[]) => void;
  /** Where the cursors are kept between starts. */
  cursorFile: string;
  /** The database's identity: cursors read from another database (restored, replaced) start again. */
  identity: () => Promise<string>;
  logger: Logger;
  batchSize?: number;
  intervalMs?: number;
}

/** The run as the local store records it: with its items, which the run's location and agent place. */
function recordOf(run: RunWithItems): RunRecord {
  const { id: _id, ...rest } = run;
  return rest;
}

interface SavedCursors {
  database: string | undefined;
  cursors: Map<string, number>;
}

function readCursors(file: string): SavedCursors {
  if (!existsSync(file)) return { database: undefined, cursors: new Map() };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { database?: unknown; cursors?: Record<string, unknown> };
    const entries = Object.entries(parsed.cursors ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number');
    return { database: typeof parsed.database === 'string' ? parsed.database : undefined, cursors: new Map(entries) };
  } catch {
    return { database: undefined, cursors: new Map() };
  }
}

/**
 * Follows every other agent's runs by id. The cursors are written after the
 * local commit, so a crash between the two pulls one batch again: at most
 * `batchSize` runs shown twice, never a run missed.
 */
export class FleetReplica {
  private cursors: Map<string, number>;
  private database: string | undefined;
  private checked = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly options: ReplicaOptions) {
    ({ database: this.database, cursors: this.cursors } = readCursors(options.cursorFile));
  }

  /** Once per start: cursors kept for another database are dropped (its run ids are not this one's). */
  private async checkDatabase(): Promise<void> {
    if (this.checked) return;
    const identity = await this.options.identity();
    if (this.database !== undefined && this.database !== identity && this.cursors.size > 0) {
      this.options.logger.warn(
        { cursorFile: this.options.cursorFile },
        "the fleet's database is not the one this replica copied from: copying its runs from the start",
      );
      this.cursors = new Map();
    }
    this.database = identity;
    this.checked = true;
  }

  start(): void {
    this.schedule(0);
  }

  /** Pulls until caught up; returns how many runs were copied. */
  async pull(): Promise<number> {
    const { agent, runsAfter, store, batchSize = 1000 } = this.options;
    await this.checkDatabase();
    let copied = 0;
    for (;;) {
      // Our own runs are skipped by placing our cursor beyond any id.
      const cursors = new Map(this.cursors).set(agent, Number.MAX_SAFE_INTEGER);
      const runs = await runsAfter(cursors, batchSize);
      if (runs.length === 0) return copied;
      store(runs.filter((run) => run.agent !== agent).map(recordOf));
      for (const run of runs)
        if (run.agent) this.cursors.set(run.agent, Math.max(this.cursors.get(run.agent) ?? 0, run.id));
      this.saveCursors();
      copied += runs.length;
      if (runs.length < batchSize) return copied;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private saveCursors(): void {
    const temporary = `${this.options.cursorFile}.tmp`;
    writeFileSync(temporary, JSON.stringify({ database: this.database, cursors: Object.fromEntries(this.cursors) }));
    renameSync(temporary, this.options.cursorFile);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pull()
        .then(() => {
          if (this.failing) this.options.logger.info('fleet results are copied again');
          this.failing = false;
        })
        .catch((error: unknown) => {
          if (!this.failing) this.options.logger.warn({ err: error }, 'fleet results cannot be copied now; retrying');
          this.failing = true;
        })
        .finally(() => {
          this.running = undefined;
          this.schedule(this.options.intervalMs ?? 1000);
        });
    }, delayMs);
  }
}
