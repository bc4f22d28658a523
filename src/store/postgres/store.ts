// The PostgreSQL store: every repository over one connection pool, shared by the agents of a fleet.
import type { Clock } from '../../util/clock.ts';
import type { AsyncStore, Maintenance } from '../repositories.ts';
import { NOTHING_PRUNED, type RetentionConfig } from '../retention.ts';
import type { RunWithItems, StoredRun } from '../types.ts';
import { PostgresAlerts } from './alerts.ts';
import { postgresCondition } from './conditions.ts';
import type { PostgresDb } from './db.ts';
import { PostgresItems } from './items.ts';
import { PostgresLock } from './lock.ts';
import { PostgresMaintenanceWindows } from './maintenance-windows.ts';
import { PostgresOutbox } from './outbox.ts';
import { Partitions } from './partitions.ts';
import { PostgresProbes } from './probes.ts';
import { pruneOld } from './prune.ts';
import { computeRollups, PostgresRollups } from './rollups.ts';
import { PostgresRuns } from './runs.ts';
import { PostgresStateChanges } from './state-changes.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Open it with openPostgresStore (which connects and migrates first). */
export class PostgresStore implements AsyncStore {
  readonly probes: PostgresProbes;
  readonly runs: PostgresRuns;
  readonly items: PostgresItems;
  readonly stateChanges: PostgresStateChanges;
  readonly alerts: PostgresAlerts;
  readonly outbox: PostgresOutbox;
  readonly rollups: PostgresRollups;
  readonly lock: PostgresLock;
  readonly maintenanceWindows: PostgresMaintenanceWindows;
  /** The runs table's partitions (created on demand, dropped by retention). */
  readonly partitions: Partitions;
  private prunedHour: number | undefined;
  private open = true;

  /** `location` is the database URL without its password. */
  constructor(
    readonly db: PostgresDb,
    readonly location: string,
    private readonly clock: Clock,
  ) {
    this.partitions = new Partitions(db);
    this.probes = new PostgresProbes(db, clock);
    this.runs = new PostgresRuns(db, this.partitions);
    this.items = new PostgresItems(db);
    this.stateChanges = new PostgresStateChanges(db);
    this.outbox = new PostgresOutbox(db);
    this.alerts = new PostgresAlerts(db, clock);
    this.rollups = new PostgresRollups(db);
    this.lock = new PostgresLock(db, () => this.open);
    this.maintenanceWindows = new PostgresMaintenanceWindows(db);
  }

  /**
   * How replicas and the alert leader read the other agents' runs: each agent's runs past its cursor (a run
   * id; one agent's ids grow in the order its runs are committed); of an agent not in `cursors`, those started
   * at or after `since` (all by default). A run without an agent is agent ''s. Each agent's oldest first (all
   * ordered by id), at most `limit`.
   */
  runsAfter(cursors: ReadonlyMap<string, number>, limit: number, since = 0): Promise<StoredRun[]> {
    return this.runs.after(cursors, limit, since);
  }

  /** This database's identity, made when its schema was: a database restored or replaced under the same URL has another (and run ids of its own). */
  async identity(): Promise<string> {
    const { rows } = await this.db.pool.query<{ id: string }>('SELECT id FROM store_identity LIMIT 1');
    const id = rows[0]?.id;
    if (!id) throw new Error('the database has no store identity');
    return id;
  }

  /**
   * As runsAfter, each run with the items it reported (a replica copies them with the run: a tenant report
   * reads mail placement from them, placed by the run's location).
   */
  async runsWithItemsAfter(cursors: ReadonlyMap<string, number>, limit: number, since = 0): Promise<RunWithItems[]> {
    const runs = await this.runs.after(cursors, limit, since);
    const items = await this.items.ofRuns(runs.map((run) => run.id));
    return runs.map((run) => ({ ...run, items: items.get(run.id) ?? [] }));
  }

  storageCondition(error: unknown): string | undefined {
    return postgresCondition(error);
  }

  async maintain(retention: RetentionConfig): Promise<Maintenance> {
    const now = this.clock.now();
    // Today's and tomorrow's partitions before the first run needs them: none is made in a burst at midnight.
    await this.partitions.ensure([now, now + DAY]);
    const hoursRolledUp = await computeRollups(this.db, now);
    // Retention moves by the hour: pruning more often finds nothing.
    const hour = Math.floor(now / HOUR);
    const pruned = hour === this.prunedHour ? NOTHING_PRUNED : await pruneOld(this.db, this.partitions, now, retention);
    this.prunedHour = hour;
    return { hoursRolledUp, runsPruned: pruned.runs, pruned };
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.db.close();
  }
}
