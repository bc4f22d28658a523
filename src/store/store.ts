import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../util/clock.ts';
import { migrate, NewerSchemaError } from './migrations.ts';
import { computeRollups } from './rollups.ts';
import { NOTHING_PRUNED, pruneOld, type Pruned, type RetentionConfig } from './retention.ts';
import { RunLog, STATUS_CODE, statusOf, type RunLogRow, type RunRecord, type RunStatus, type StoredRun } from './run-log.ts';

export type { RunRecord, RunStatus, StoredRun } from './run-log.ts';

export interface StateChange {
  id: number;
  probe: string;
  tenant: string | null;
  /** '' for the probe's own status; `<type>:<key>` for an item. */
  subject: string;
  from: string | null;
  to: string;
  at: number;
  runId: number | null;
  message: string;
}

export interface ProbeLatest {
  probe: string;
  kind: string;
  tenant: string | null;
  tags: string[];
  runId: number | null;
  status: RunStatus | null;
  statusSince: number | null;
  startedAt: number | null;
  durationMs: number | null;
  message: string | null;
  errorCode: string | null;
  /** When the probe left the configuration (removed or disabled); null while configured. */
  removedAt: number | null;
}

export interface StoredItem {
  id: number;
  runId: number;
  probe: string;
  tenant: string | null;
  type: string;
  key: string;
  state: string | null;
  at: number;
  data: Record<string, unknown>;
}

export interface RecordedRun {
  runId: number;
  changes: Array<Omit<StateChange, 'id'>>;
}

export interface HourlyRollup {
  hour: number;
  runs: number;
  passes: number;
  warns: number;
  fails: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

const HOUR = 3_600_000;
const ITEM_SEEN_RESOLUTION_MS = HOUR;

/** The database cannot be opened as it is; the file was not changed. */
export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

const CORRUPT = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

/**
 * Opens (or creates) the file and brings its schema up to date. Nothing is
 * ever deleted or recreated here: a file that is not a database, is damaged,
 * or comes from a newer scaiprobe is refused with a sentence naming it.
 */
function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (error) {
    db?.close();
    throw new StoreOpenError(openFailure(path, error), { cause: error });
  }
}

function openFailure(path: string, error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  if (error instanceof NewerSchemaError) return `the database ${path} was written by a newer scaiprobe: ${error.message}`;
  if (code && (CORRUPT.has(code) || code.startsWith('SQLITE_CORRUPT'))) {
    return `the database ${path} is damaged or not a database (${message}); it was left as it is: move it aside to start with an empty one, or restore a backup`;
  }
  return `cannot open the database ${path}: ${message ?? String(error)}`;
}

/**
 * The one SQLite file (WAL): each run stored with its items, state changes and
 * the probe's carried-over state atomically; runs that end together are
 * committed in one transaction (see RunWriter.record).
 */
export class Store {
  readonly db: Database.Database;
  private readonly log: RunLog;
  private readonly statements;
  private prunedHour: number | undefined;

  constructor(
    readonly path: string,
    private readonly clock: Clock,
  ) {
    this.db = openDatabase(path);
    this.log = new RunLog(this.db);
    this.statements = {
      latest: this.db.prepare('SELECT status, status_since FROM probe_latest WHERE probe = ?'),
      upsertLatest: this.db.prepare(`INSERT INTO probe_latest (probe, run_id, status, status_since, started_at, duration_ms, message, error_code)
        VALUES (@probe, @runId, @status, @statusSince, @startedAt, @durationMs, @message, @errorCode)
        ON CONFLICT (probe) DO UPDATE SET run_id = excluded.run_id, status = excluded.status, status_since = excluded.status_since,
          started_at = excluded.started_at, duration_ms = excluded.duration_ms, message = excluded.message, error_code = excluded.error_code`),
      insertChange: this.db.prepare(`INSERT INTO state_changes (probe, tenant, subject, from_state, to_state, at, run_id, message)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      insertItem: this.db.prepare('INSERT INTO run_items (run_id, probe, tenant, type, key, state, at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      itemState: this.db.prepare('SELECT state, seen_at FROM item_states WHERE probe = ? AND type = ? AND key = ?'),
      upsertItemState: this.db.prepare(`INSERT INTO item_states (probe, type, key, state, since, seen_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (probe, type, key) DO UPDATE SET state = excluded.state, since = excluded.since, seen_at = excluded.seen_at`),
      itemSeen: this.db.prepare('UPDATE item_states SET seen_at = ? WHERE probe = ? AND type = ? AND key = ?'),
      upsertProbeState: this.db.prepare(`INSERT INTO probe_state (probe, data, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (probe) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`),
      probeState: this.db.prepare('SELECT data FROM probe_state WHERE probe = ?'),
      seriesOf: this.db.prepare('SELECT id FROM run_series WHERE probe = ?'),
      // Ordered by start only, as the (series, started_at, status) index gives them: a tie-break on id would sort every answer
      // (two runs of one series never start in the same millisecond).
      seriesRuns: this.db.prepare('SELECT * FROM run_log WHERE series = ? AND started_at >= ? AND started_at < ? ORDER BY started_at DESC LIMIT ?'),
      runById: this.db.prepare('SELECT * FROM run_log WHERE id = ?'),
      recentStatuses: this.db.prepare('SELECT status FROM run_log WHERE series = ? ORDER BY started_at DESC LIMIT ?').pluck(),
      recentRuns: this.db.prepare('SELECT started_at, status FROM run_log WHERE series = ? ORDER BY started_at DESC LIMIT ?'),
    };
  }

  /** Records which probes the current configuration has (so the API lists probes that have not run yet); a probe back in it is no longer removed. */
  syncProbes(probes: Array<{ name: string; kind: string; tenant?: string; tags: string[] }>): void {
    const now = this.clock.now();
    const upsert = this.db.prepare(`INSERT INTO probes (name, kind, tenant, tags, first_seen, last_configured) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, tenant = excluded.tenant, tags = excluded.tags, last_configured = excluded.last_configured, removed_at = NULL`);
    this.db.transaction(() => {
      for (const probe of probes) upsert.run(probe.name, probe.kind, probe.tenant ?? null, JSON.stringify(probe.tags), now, now);
    })();
  }

  /**
   * Marks every probe not in `configured` as removed: it leaves `latest()` (the
   * status page, the API listings, the indicators) while its runs, items and
   * state changes stay queryable. Returns the probes removed by this call.
   */
  retireUnconfigured(configured: string[]): string[] {
    const now = this.clock.now();
    return this.db.transaction(() => {
      const removed = this.db
        .prepare('SELECT name FROM probes WHERE removed_at IS NULL AND name NOT IN (SELECT value FROM json_each(?)) ORDER BY name')
        .all(JSON.stringify(configured)) as Array<{ name: string }>;
      const mark = this.db.prepare('UPDATE probes SET removed_at = ? WHERE name = ?');
      for (const { name } of removed) mark.run(now, name);
      return removed.map((row) => row.name);
    })();
  }

  /** Probes that were configured once and are not any more. */
  removedProbes(): string[] {
    return (this.db.prepare('SELECT name FROM probes WHERE removed_at IS NOT NULL ORDER BY name').all() as Array<{ name: string }>).map((row) => row.name);
  }

  /** Commits one finished run; returns its id and the state changes it caused. */
  recordRun(run: RunRecord): RecordedRun {
    const [recorded] = this.recordRuns([run]);
    if (!recorded) throw new Error('the run was not recorded');
    return recorded;
  }

  /** Commits finished runs, in order, in one transaction (all or none). */
  recordRuns(runs: RunRecord[]): RecordedRun[] {
    const commits: Array<() => void> = [];
    const recorded = this.db.transaction(() => runs.map((run) => this.insertRun(run, commits)))();
    // Inside a caller's transaction nothing is committed yet, and it may still roll back: cache nothing.
    if (!this.db.inTransaction) for (const commit of commits) commit();
    return recorded;
  }

  private insertRun(run: RunRecord, commits: Array<() => void>): RecordedRun {
    const tenant = run.tenant ?? null;
    const { runId, afterCommit } = this.log.append(run);
    commits.push(afterCommit);
    const endedAt = run.startedAt + run.durationMs;
    const changes: Array<Omit<StateChange, 'id'>> = [];
    const previous = this.statements.latest.get(run.probe) as { status: string; status_since: number } | undefined;
    const statusSince = previous && previous.status === run.status ? previous.status_since : endedAt;
    if (previous?.status !== run.status) {
      changes.push({ probe: run.probe, tenant, subject: '', from: previous?.status ?? null, to: run.status, at: endedAt, runId, message: run.message });
    }
    this.statements.upsertLatest.run({ probe: run.probe, runId, status: run.status, statusSince, startedAt: run.startedAt, durationMs: run.durationMs, message: run.message, errorCode: run.error?.code ?? null });
    for (const item of run.items) {
      this.statements.insertItem.run(runId, run.probe, tenant, item.type, item.key, item.state ?? null, endedAt, JSON.stringify(item.data));
      if (item.state === undefined) continue;
      const before = this.statements.itemState.get(run.probe, item.type, item.key) as { state: string; seen_at: number } | undefined;
      if (before?.state === item.state) {
        // Seen again: noted at most hourly, enough for the items retention to tell live keys from gone ones.
        if (endedAt - before.seen_at >= ITEM_SEEN_RESOLUTION_MS) this.statements.itemSeen.run(endedAt, run.probe, item.type, item.key);
        continue;
      }
      this.statements.upsertItemState.run(run.probe, item.type, item.key, item.state, endedAt, endedAt);
      changes.push({ probe: run.probe, tenant, subject: `${item.type}:${item.key}`, from: before?.state ?? null, to: item.state, at: endedAt, runId, message: '' });
    }
    for (const change of changes) {
      this.statements.insertChange.run(change.probe, change.tenant, change.subject, change.from, change.to, change.at, change.runId, change.message);
    }
    if (run.state !== undefined) this.statements.upsertProbeState.run(run.probe, JSON.stringify(run.state), endedAt);
    return { runId, changes };
  }

  /** Records a state change that is not a run's (an alert firing or resolving). */
  recordStateChange(change: Omit<StateChange, 'id'>): void {
    this.statements.insertChange.run(change.probe, change.tenant, change.subject, change.from, change.to, change.at, change.runId, change.message);
  }

  probeState(probe: string): unknown {
    const row = this.statements.probeState.get(probe) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as unknown) : undefined;
  }

  /**
   * Every configured probe with its latest run (one indexed read, whatever the
   * number of runs); `includeRemoved` adds the probes no longer configured,
   * for their history.
   */
  latest(filter: { names?: string[]; status?: RunStatus; tenant?: string; tag?: string; includeRemoved?: boolean } = {}): ProbeLatest[] {
    const rows = this.db
      .prepare(
        `SELECT p.name, p.kind, p.tenant, p.tags, p.removed_at, l.run_id, l.status, l.status_since, l.started_at, l.duration_ms, l.message, l.error_code
         FROM probes p LEFT JOIN probe_latest l ON l.probe = p.name WHERE ? OR p.removed_at IS NULL ORDER BY p.name`,
      )
      .all(filter.includeRemoved ? 1 : 0) as Array<Record<string, unknown>>;
    const names = filter.names ? new Set(filter.names) : undefined;
    return rows
      .map((row) => ({
        probe: row.name as string,
        kind: row.kind as string,
        tenant: (row.tenant as string | null) ?? null,
        tags: JSON.parse(row.tags as string) as string[],
        runId: (row.run_id as number | null) ?? null,
        status: (row.status as RunStatus | null) ?? null,
        statusSince: (row.status_since as number | null) ?? null,
        startedAt: (row.started_at as number | null) ?? null,
        durationMs: (row.duration_ms as number | null) ?? null,
        message: (row.message as string | null) ?? null,
        errorCode: (row.error_code as string | null) ?? null,
        removedAt: (row.removed_at as number | null) ?? null,
      }))
      .filter((p) => (!names || names.has(p.probe)) && (!filter.status || p.status === filter.status) && (!filter.tenant || p.tenant === filter.tenant) && (!filter.tag || p.tags.includes(filter.tag)));
  }

  private seriesIds(probe: string): number[] {
    return (this.statements.seriesOf.all(probe) as Array<{ id: number }>).map((row) => row.id);
  }

  /** The probe's newest runs first (at most `limit`), each rebuilt whole. */
  runs(probe: string, options: { since?: number; until?: number; limit?: number } = {}): StoredRun[] {
    const limit = options.limit ?? 1000;
    // A probe has one series unless its kind or tenant changed: merge them newest first.
    const rows = this.seriesIds(probe)
      .flatMap((series) => this.statements.seriesRuns.all(series, options.since ?? 0, options.until ?? Number.MAX_SAFE_INTEGER, limit) as RunLogRow[])
      .sort((a, b) => b.started_at - a.started_at || b.id - a.id)
      .slice(0, limit);
    return this.log.rebuild(rows);
  }

  run(id: number): StoredRun | undefined {
    const row = this.statements.runById.get(id) as RunLogRow | undefined;
    return row ? this.log.rebuild([row])[0] : undefined;
  }

  /** The last `n` statuses of each named probe, oldest first: a walk back along the (series, started_at, status) index per probe. */
  recentStatuses(probes: string[], n: number): Map<string, RunStatus[]> {
    const statuses = new Map<string, RunStatus[]>();
    for (const probe of probes) statuses.set(probe, n > 0 ? this.lastStatuses(probe, n).map(statusOf) : []);
    return statuses;
  }

  private lastStatuses(probe: string, n: number): number[] {
    const series = this.seriesIds(probe);
    if (series.length === 1) return (this.statements.recentStatuses.all(series[0], n) as number[]).reverse();
    // Several series (the probe's kind or tenant changed): the last n of them together.
    return series
      .flatMap((id) => this.statements.recentRuns.all(id, n) as Array<{ started_at: number; status: number }>)
      .sort((a, b) => b.started_at - a.started_at)
      .slice(0, n)
      .reverse()
      .map((row) => row.status);
  }

  /** Each run's end time and rebuilt observations in [since, until], oldest first (what indicators read). */
  observationsOver(probe: string, since: number, until: number): Array<{ at: number; observations: StoredRun['observations'] }> {
    return this.runs(probe, { since, until: until + 1, limit: Number.MAX_SAFE_INTEGER })
      .reverse()
      .map((run) => ({ at: run.startedAt + run.durationMs, observations: run.observations }));
  }

  /** The newest `limit` state changes matching, oldest first. */
  stateChanges(options: { probe?: string; subjectPrefix?: string; since?: number; until?: number; tenant?: string; limit?: number } = {}): StateChange[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM state_changes WHERE at >= @since AND at < @until AND (@probe IS NULL OR probe = @probe) AND (@tenant IS NULL OR tenant = @tenant)
         AND (@prefix IS NULL OR substr(subject, 1, length(@prefix)) = @prefix) ORDER BY at DESC, id DESC LIMIT @limit`,
      )
      .all({ since: options.since ?? 0, until: options.until ?? Number.MAX_SAFE_INTEGER, probe: options.probe ?? null, tenant: options.tenant ?? null, prefix: options.subjectPrefix ?? null, limit: options.limit ?? 10_000 })
      .reverse() as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      id: row.id as number,
      probe: row.probe as string,
      tenant: (row.tenant as string | null) ?? null,
      subject: row.subject as string,
      from: (row.from_state as string | null) ?? null,
      to: row.to_state as string,
      at: row.at as number,
      runId: (row.run_id as number | null) ?? null,
      message: row.message as string,
    }));
  }

  /** The newest `limit` items of a type matching, oldest first; `newest: true` answers newest first. */
  items(options: { type: string; probe?: string; tenant?: string; since?: number; until?: number; limit?: number; newest?: boolean }): StoredItem[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM run_items WHERE type = @type AND at >= @since AND at < @until AND (@probe IS NULL OR probe = @probe)
         AND (@tenant IS NULL OR tenant = @tenant) ORDER BY at DESC, id DESC LIMIT @limit`,
      )
      .all({ type: options.type, since: options.since ?? 0, until: options.until ?? Number.MAX_SAFE_INTEGER, probe: options.probe ?? null, tenant: options.tenant ?? null, limit: options.limit ?? 100_000 }) as Array<Record<string, unknown>>;
    if (!options.newest) rows.reverse();
    return rows.map((row) => ({
      id: row.id as number,
      runId: row.run_id as number,
      probe: row.probe as string,
      tenant: (row.tenant as string | null) ?? null,
      type: row.type as string,
      key: row.key as string,
      state: (row.state as string | null) ?? null,
      at: row.at as number,
      data: JSON.parse(row.data as string) as Record<string, unknown>,
    }));
  }

  /** Hourly rollups of the probe since `since` (durations in milliseconds). */
  hourly(probe: string, since = 0): HourlyRollup[] {
    const rows = this.db
      .prepare(
        `SELECT r.hour, sum(r.runs) AS runs, sum(r.passes) AS passes, sum(r.warns) AS warns, sum(r.fails) AS fails, max(r.p50) AS p50, max(r.p95) AS p95, max(r.p99) AS p99, max(r.max) AS max
         FROM run_series s JOIN rollups r ON r.series = s.id WHERE s.probe = ? AND r.hour >= ? GROUP BY r.hour ORDER BY r.hour`,
      )
      .all(probe, Math.ceil(since / HOUR)) as HourlyRollup[];
    const ms = (value: number | null) => (value === null ? null : value / 100);
    return rows.map((row) => ({ ...row, hour: row.hour * HOUR, p50: ms(row.p50), p95: ms(row.p95), p99: ms(row.p99), max: ms(row.max) }));
  }

  /** Rolls up finished hours and prunes what retention no longer keeps. Cheap to call often. */
  maintain(retention: RetentionConfig): { hoursRolledUp: number; runsPruned: number; pruned: Pruned } {
    const now = this.clock.now();
    const hoursRolledUp = computeRollups(this.db, now);
    // Retention moves by the hour: pruning more often would walk every series to find nothing.
    const hour = Math.floor(now / HOUR);
    const pruned = hour === this.prunedHour ? NOTHING_PRUNED : pruneOld(this.db, now, retention);
    this.prunedHour = hour;
    if (pruned.series > 0) this.log.forget();
    return { hoursRolledUp, runsPruned: pruned.runs, pruned };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
