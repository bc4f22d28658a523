// The store as small repositories, one per kind of row; an implementation (SQLite today) provides them all.
//
// Each method that changes several rows is one atomic unit (a run with its items and state changes; an
// alert with the notifications and state change it caused; a lease on an outbox row): no transaction is
// opened or held across calls, so an implementation over a server database keeps the same guarantees.
// The methods are synchronous, as SQLite answers in-process; an implementation over a network client
// (PostgreSQL) is an AsyncStore: the same repositories with each method answering through a Promise,
// and callers await the same single calls.
import type { Pruned, RetentionConfig } from './retention.ts';
import type {
  ConfiguredProbe,
  CurrentItem,
  HourlyRollup,
  ItemQuery,
  ItemState,
  LatestFilter,
  LeasedRow,
  LockHolder,
  MailMessageFields,
  MaintenanceWindow,
  NewMaintenanceWindow,
  NewOutboxRow,
  NewStateChange,
  OutboxRow,
  OutboxStatus,
  ProbeLatest,
  RecordedRun,
  RunRecord,
  RunStatus,
  Settlement,
  StateChange,
  StateChangeQuery,
  StoredAlert,
  StoredItem,
  RunSummary,
  StoredRun,
} from './types.ts';

/** The configured probes, each with its latest run and the state it carries from run to run. */
export interface ProbeRepository {
  /** Records which probes the configuration has (so listings show probes that have not run yet); a probe back in it is no longer removed. */
  sync(probes: ConfiguredProbe[]): void;
  /**
   * Marks every probe not in `configured` as removed: it leaves `latest()` while
   * its runs, items and state changes stay readable. Returns the probes removed by this call.
   */
  retireUnconfigured(configured: string[]): string[];
  /** Probes that were configured once and are not any more, by name. */
  removed(): string[];
  /** Every configured probe with its latest run, by name. */
  latest(filter?: LatestFilter): ProbeLatest[];
  /** What the probe's last run left for the next (undefined if nothing). */
  state(probe: string): unknown;
}

/** Which of a probe's runs a listing reads. */
export interface RunRange {
  since?: number;
  until?: number;
  limit?: number;
  /** Only the runs made at this fleet location. */
  location?: string;
}

export interface RunRepository {
  /** Commits one finished run with its items, state changes and carried-over state; returns its id and the changes it caused. */
  record(run: RunRecord): RecordedRun;
  /** Commits finished runs, in order, all or none. */
  recordAll(runs: RunRecord[]): RecordedRun[];
  /** The probe's newest runs first (at most `limit`, 1000 by default), started in [since, until); only `location`'s when given. */
  list(probe: string, options?: RunRange): StoredRun[];
  /** As list(), without the runs' bodies: read from fixed columns, nothing rebuilt (a day of one-minute runs in a few milliseconds). */
  summaries(probe: string, options?: RunRange): RunSummary[];
  get(id: number): StoredRun | undefined;
  /** The last `n` statuses of each named probe, oldest first. */
  recentStatuses(probes: string[], n: number): Map<string, RunStatus[]>;
  /** Each run's end time and observations, for runs started in [since, until], oldest first. */
  observationsOver(
    probe: string,
    since: number,
    until: number,
  ): Array<{ at: number; observations: StoredRun['observations'] }>;
}

export interface ItemRepository {
  /** The newest `limit` items of a type matching, oldest first (newest first with `newest`). */
  list(query: ItemQuery): StoredItem[];
  /** Items of a type whose current state is `state`, of probes not removed, with the data of their latest report. */
  inState(type: string, state: string): CurrentItem[];
  /** The current states of the tenant's items whose type starts with `typePrefix`, of probes not removed: `listed` first, then by key. */
  states(options: { tenant: string; typePrefix: string }): ItemState[];
  /** The report fields of the tenant's `type` items (mail messages) in [since, until), oldest first. */
  mailMessages(options: { type: string; tenant: string; since: number; until: number }): MailMessageFields[];
}

export interface StateChangeRepository {
  /** Records a change that is not a run's (an alert firing or resolving). */
  record(change: NewStateChange): void;
  /** The newest `limit` (10,000 by default) changes matching, oldest first. */
  list(query?: StateChangeQuery): StateChange[];
}

export interface AlertRepository {
  get(rule: string, target: string): StoredAlert | undefined;
  /** Alerts not back to ok (pending or firing). */
  open(): StoredAlert[];
  /** Alerts not back to ok, and those back to ok that still owe a held resolution. */
  owing(): StoredAlert[];
  /** The most recently updated alerts, newest first. */
  recent(limit: number): StoredAlert[];
  /** Saves the alert with what its change caused (notifications to queue, a state change to keep), all or none. */
  save(alert: StoredAlert, effects?: { notifications?: NewOutboxRow[]; change?: NewStateChange }): void;
}

export interface OutboxRepository {
  /** Queues notifications, due at once; one already queued for the same key and channel is left as it is. */
  add(rows: NewOutboxRow[]): void;
  /** Whether the channel has a row due or overdue and not leased (read without taking a write lock). */
  hasWork(channel: string, now: number): boolean;
  /**
   * Expires the channel's rows past their expiry, then leases the next row in
   * line: due, not leased, and first for its alert and channel (a resolution
   * never overtakes the firing queued before it; tests are in no alert's line).
   */
  claimNext(
    channel: string,
    now: number,
    lease: { owner: string; until: number },
  ): { leased: LeasedRow | undefined; expired: number };
  /** Leases one given row if it may be sent now; `leaseFor` answers undefined for a channel that cannot be sent to. */
  claim(
    id: number,
    now: number,
    leaseFor: (channel: string) => { owner: string; until: number } | undefined,
  ): LeasedRow | undefined;
  /** Records an attempt's outcome and frees the lease; false when the row is no longer leased to `owner`. */
  settle(settlement: Settlement): boolean;
  get(id: number): OutboxRow | undefined;
  find(key: string, channel: string): OutboxRow | undefined;
  /** Newest first. */
  list(options?: { status?: OutboxStatus; limit?: number }): OutboxRow[];
  counts(): Record<OutboxStatus, number>;
  /** Whether a notification (not a test) of the alert to the channel is still pending. */
  waiting(alertId: string, channel: string): boolean;
  /** Rows per channel and status, with the creation time of the oldest of each group (for /metrics). */
  byChannel(): Array<{ channel: string; status: OutboxStatus; count: number; oldestCreatedAt: number }>;
  /** Expires pending rows of channels not in `channels` that were due before `dueBefore` and are not leased; returns how many. */
  expireUnconfigured(channels: string[], now: number, dueBefore: number): number;
  /** Owners of leases still running on pending rows. */
  leaseOwners(now: number): string[];
  /** Frees the leases `owner` holds on pending rows; returns how many. */
  releaseLeases(owner: string): number;
}

export interface RollupRepository {
  /** Hourly rollups of the probe from `since` on (durations in milliseconds). */
  hourly(probe: string, since?: number): HourlyRollup[];
}

/** The one-daemon-per-database lock, kept in the store itself. */
export interface LockRepository {
  holder(): LockHolder | undefined;
  /**
   * Atomically: reads the holder, asks `decide` (which throws to refuse) for the
   * holder to write instead, and writes it.
   */
  take(decide: (current: LockHolder | undefined) => LockHolder): void;
  /** Refreshes `owner`'s heartbeat; false when someone else holds the lock now. */
  beat(owner: string, now: number): boolean;
  /** Frees the lock if `owner` holds it (nothing when the store is closed). */
  release(owner: string): void;
}

/** Maintenance windows started at run time (configured ones live in the configuration); kept after they end, as a record. */
export interface MaintenanceWindowRepository {
  /** Stores a window; returns it with its id (ids are never reused). */
  add(window: NewMaintenanceWindow): MaintenanceWindow;
  get(id: number): MaintenanceWindow | undefined;
  /**
   * Ends a window at `at` if it is in force then (one that has ended already is
   * left as it is). Returns the window as it is now; undefined when there is none with this id.
   */
  end(id: number, at: number): MaintenanceWindow | undefined;
  /** Windows in force at `at` (started, not over, not ended), the soonest over first. */
  active(at: number): MaintenanceWindow[];
  /** The newest windows first, at most `limit` (50 by default), in force or not. */
  list(options?: { limit?: number }): MaintenanceWindow[];
}

export interface Maintenance {
  hoursRolledUp: number;
  runsPruned: number;
  pruned: Pruned;
}

export interface Store {
  readonly probes: ProbeRepository;
  readonly runs: RunRepository;
  readonly items: ItemRepository;
  readonly stateChanges: StateChangeRepository;
  readonly alerts: AlertRepository;
  readonly outbox: OutboxRepository;
  readonly rollups: RollupRepository;
  readonly lock: LockRepository;
  readonly maintenanceWindows: MaintenanceWindowRepository;
  /** Where the data is, for messages (the database file). */
  readonly location: string;
  /**
   * The condition of the storage itself (disk full, read-only, locked, damaged)
   * that made an operation fail, in a few words; undefined when the error is
   * about what was written (the same write would fail again).
   */
  storageCondition(error: unknown): string | undefined;
  /** Rolls up finished hours and prunes what retention no longer keeps. Cheap to call often. */
  maintain(retention: RetentionConfig): Maintenance;
  close(): void;
}

/** The repository R with each method answering through a Promise (an implementation over a network client). */
export type AsyncRepository<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => Promise<Awaited<T>> : R[K];
};

/** The store over a network client (PostgreSQL): the same repositories and contract, answering through Promises. */
export interface AsyncStore {
  readonly probes: AsyncRepository<ProbeRepository>;
  readonly runs: AsyncRepository<RunRepository>;
  readonly items: AsyncRepository<ItemRepository>;
  readonly stateChanges: AsyncRepository<StateChangeRepository>;
  readonly alerts: AsyncRepository<AlertRepository>;
  readonly outbox: AsyncRepository<OutboxRepository>;
  readonly rollups: AsyncRepository<RollupRepository>;
  readonly lock: AsyncRepository<LockRepository>;
  readonly maintenanceWindows: AsyncRepository<MaintenanceWindowRepository>;
  readonly location: string;
  storageCondition(error: unknown): string | undefined;
  maintain(retention: RetentionConfig): Promise<Maintenance>;
  close(): Promise<void>;
}

/**
 * The repository R with each method answering either at once or through a
 * Promise: code that awaits every call serves the embedded store (a Store)
 * and a shared one over the network (an AsyncStore) with one code path.
 */
export type MaybeAsync<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => T | Promise<Awaited<T>> : R[K];
};
