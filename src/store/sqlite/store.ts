// The SQLite store: one file holding every repository, committed as runs finish (WAL).
import type Database from 'better-sqlite3';
import type { Clock } from '../../util/clock.ts';
import { drain } from '../../util/steps.ts';
import type { Maintenance, Store } from '../repositories.ts';
import { NOTHING_PRUNED, type RetentionConfig } from '../retention.ts';
import { SqliteAlerts } from './alerts.ts';
import { describeStorageError, isStorageCondition } from './conditions.ts';
import { SqliteItems } from './items.ts';
import { SqliteLock } from './lock.ts';
import { SqliteMaintenanceWindows } from './maintenance-windows.ts';
import { openDatabase } from './open.ts';
import { SqliteOutbox } from './outbox.ts';
import { SqliteProbes } from './probes.ts';
import { pruneSteps } from './prune.ts';
import { rollupSteps, SqliteRollups } from './rollups.ts';
import { RunLog } from './run-log.ts';
import { SqliteRuns } from './runs.ts';
import { SqliteStateChanges } from './state-changes.ts';

export { StoreOpenError } from './open.ts';

const HOUR = 3_600_000;

/**
 * The one SQLite file (WAL): each run stored with its items, state changes and
 * the probe's carried-over state atomically; runs that end together are
 * committed in one transaction (see RunWriter.record). `db` is for what only SQLite has (pragmas, tests of the file format).
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly probes: SqliteProbes;
  readonly runs: SqliteRuns;
  readonly items: SqliteItems;
  readonly stateChanges: SqliteStateChanges;
  readonly alerts: SqliteAlerts;
  readonly outbox: SqliteOutbox;
  readonly rollups: SqliteRollups;
  readonly lock: SqliteLock;
  readonly maintenanceWindows: SqliteMaintenanceWindows;
  private readonly log: RunLog;
  private prunedHour: number | undefined;

  constructor(
    readonly location: string,
    private readonly clock: Clock,
  ) {
    this.db = openDatabase(location);
    this.log = new RunLog(this.db);
    this.probes = new SqliteProbes(this.db, clock);
    this.runs = new SqliteRuns(this.db, this.log);
    this.items = new SqliteItems(this.db);
    this.stateChanges = new SqliteStateChanges(this.db);
    this.outbox = new SqliteOutbox(this.db);
    this.alerts = new SqliteAlerts(this.db, clock, this.outbox, this.stateChanges);
    this.rollups = new SqliteRollups(this.db);
    this.lock = new SqliteLock(this.db);
    this.maintenanceWindows = new SqliteMaintenanceWindows(this.db);
  }

  storageCondition(error: unknown): string | undefined {
    return isStorageCondition(error) ? describeStorageError(error, this.location) : undefined;
  }

  maintain(retention: RetentionConfig): Maintenance {
    return drain(this.maintenanceSteps(retention));
  }

  /**
   * Rollups and retention in bounded steps, for a caller that serves requests
   * between them (the daemon, through inTurns): at thousands of probes an
   * hour's rollup or prune done at once holds the event loop for a second.
   */
  *maintenanceSteps(retention: RetentionConfig): Generator<void, Maintenance> {
    const now = this.clock.now();
    const hoursRolledUp = yield* rollupSteps(this.db, now);
    // Retention moves by the hour: pruning more often would walk every series to find nothing.
    const hour = Math.floor(now / HOUR);
    const pruned = hour === this.prunedHour ? NOTHING_PRUNED : yield* pruneSteps(this.db, now, retention);
    this.prunedHour = hour;
    if (pruned.series > 0) this.log.forget();
    return { hoursRolledUp, runsPruned: pruned.runs, pruned };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
