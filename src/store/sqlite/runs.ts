// SQLite runs: a run committed with its items, item states, state changes and carried-over state; runs read back rebuilt.
import type { Database, Statement } from 'better-sqlite3';
import type { RunRange, RunRepository } from '../repositories.ts';
import type { NewStateChange, RecordedRun, RunRecord, RunStatus, RunSummary, StoredRun } from '../types.ts';
import { statusEffect } from '../status-effect.ts';
import { RunLog, statusOf, type RunLogRow, type RunSummaryRow } from './run-log.ts';

const HOUR = 3_600_000;

interface LatestRow {
  status: string;
  status_since: number;
  started_at: number;
}
const ITEM_SEEN_RESOLUTION_MS = HOUR;

function statements(db: Database) {
  return {
    latest: db.prepare('SELECT status, status_since, started_at FROM probe_latest WHERE probe = ?'),
    locationLatest: db.prepare(
      'SELECT status, status_since, started_at FROM probe_location_latest WHERE probe = ? AND location = ?',
    ),
    upsertLocationLatest:
      db.prepare(`INSERT INTO probe_location_latest (probe, location, run_id, status, status_since, started_at, message)
        VALUES (@probe, @location, @runId, @status, @statusSince, @startedAt, @message)
        ON CONFLICT (probe, location) DO UPDATE SET run_id = excluded.run_id, status = excluded.status, status_since = excluded.status_since,
          started_at = excluded.started_at, message = excluded.message`),
    upsertLatest:
      db.prepare(`INSERT INTO probe_latest (probe, run_id, status, status_since, started_at, duration_ms, message, error_code)
        VALUES (@probe, @runId, @status, @statusSince, @startedAt, @durationMs, @message, @errorCode)
        ON CONFLICT (probe) DO UPDATE SET run_id = excluded.run_id, status = excluded.status, status_since = excluded.status_since,
          started_at = excluded.started_at, duration_ms = excluded.duration_ms, message = excluded.message, error_code = excluded.error_code`),
    insertChange:
      db.prepare(`INSERT INTO state_changes (probe, tenant, subject, from_state, to_state, at, run_id, message)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    insertItem: db.prepare(
      'INSERT INTO run_items (run_id, probe, tenant, type, key, state, at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    itemState: db.prepare('SELECT state, seen_at FROM item_states WHERE probe = ? AND type = ? AND key = ?'),
    upsertItemState:
      db.prepare(`INSERT INTO item_states (probe, type, key, state, since, seen_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (probe, type, key) DO UPDATE SET state = excluded.state, since = excluded.since, seen_at = excluded.seen_at`),
    itemSeen: db.prepare('UPDATE item_states SET seen_at = ? WHERE probe = ? AND type = ? AND key = ?'),
    upsertProbeState: db.prepare(`INSERT INTO probe_state (probe, data, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (probe) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`),
    seriesOf: db.prepare('SELECT id FROM run_series WHERE probe = ?'),
    // Ordered by start only, as the (series, started_at, status) index gives them: a tie-break on id would sort every answer
    // (two runs of one series never start in the same millisecond).
    seriesRuns: db.prepare(
      `SELECT * FROM run_log WHERE series = ? AND started_at >= ? AND started_at < ? AND (? IS NULL OR location = ?)
       ORDER BY started_at DESC LIMIT ?`,
    ),
    seriesSummaries:
      db.prepare(`SELECT id, series, uid, started_at, duration, status, attempts, error_code, error_message, location, agent FROM run_log
        WHERE series = ? AND started_at >= ? AND started_at < ? AND (? IS NULL OR location = ?) ORDER BY started_at DESC LIMIT ?`),
    runById: db.prepare('SELECT * FROM run_log WHERE id = ?'),
    recentStatuses: db.prepare('SELECT status FROM run_log WHERE series = ? ORDER BY started_at DESC LIMIT ?').pluck(),
    recentRuns: db.prepare('SELECT started_at, status FROM run_log WHERE series = ? ORDER BY started_at DESC LIMIT ?'),
  };
}

/** Inserts a state change (a run's, or one recorded on its own). */
export function insertStateChange(statement: Statement, change: NewStateChange): void {
  statement.run(
    change.probe,
    change.tenant,
    change.subject,
    change.from,
    change.to,
    change.at,
    change.runId,
    change.message,
  );
}

export class SqliteRuns implements RunRepository {
  private readonly sql: ReturnType<typeof statements>;

  constructor(
    private readonly db: Database,
    private readonly log: RunLog,
  ) {
    this.sql = statements(db);
  }

  record(run: RunRecord): RecordedRun {
    const [recorded] = this.recordAll([run]);
    if (!recorded) throw new Error('the run was not recorded');
    return recorded;
  }

  recordAll(runs: RunRecord[]): RecordedRun[] {
    const commits: Array<() => void> = [];
    const recorded = this.db.transaction(() => runs.map((run) => this.insertRun(run, commits)))();
    // Inside a caller's transaction nothing is committed yet, and it may still roll back: cache nothing.
    if (!this.db.inTransaction) for (const commit of commits) commit();
    return recorded;
  }

  private insertRun(run: RunRecord, commits: Array<() => void>): RecordedRun {
    // A run stored already (a batch sent again after a lost answer) is not stored twice.
    const stored = this.log.find(run);
    if (stored !== undefined) return { runId: stored, changes: [] };
    const { runId, afterCommit } = this.log.append(run);
    commits.push(afterCommit);
    const endedAt = run.startedAt + run.durationMs;
    const changes = this.probeStatus(run, runId, endedAt);
    changes.push(...this.insertItems(run, runId, endedAt));
    for (const change of changes) insertStateChange(this.sql.insertChange, change);
    if (run.state !== undefined) this.sql.upsertProbeState.run(run.probe, JSON.stringify(run.state), endedAt);
    return { runId, changes };
  }

  /**
   * The probe's latest run and its status change: against the previous run of any location for a run
   * without one (subject ''), against the previous run of the same location otherwise (subject `@<location>`).
   */
  private probeStatus(run: RunRecord, runId: number, endedAt: number): NewStateChange[] {
    const previous = this.sql.latest.get(run.probe) as LatestRow | undefined;
    const before = run.location
      ? (this.sql.locationLatest.get(run.probe, run.location) as LatestRow | undefined)
      : undefined;
    const latestStatus = (row: LatestRow | undefined) => row && { status: row.status, startedAt: row.started_at };
    const effect = statusEffect(run, runId, latestStatus(previous), latestStatus(before));
    const since = (row: LatestRow | undefined) => (row && row.status === run.status ? row.status_since : endedAt);
    if (run.location && effect.moveLocation)
      this.sql.upsertLocationLatest.run({
        probe: run.probe,
        location: run.location,
        runId,
        status: run.status,
        statusSince: since(before),
        startedAt: run.startedAt,
        message: run.message,
      });
    if (effect.moveLatest)
      this.sql.upsertLatest.run({
        probe: run.probe,
        runId,
        status: run.status,
        statusSince: since(previous),
        startedAt: run.startedAt,
        durationMs: run.durationMs,
        message: run.message,
        errorCode: run.error?.code ?? null,
      });
    return effect.changes;
  }

  /** Stores the run's items and their states; returns the state changes of items whose state moved. */
  private insertItems(run: RunRecord, runId: number, endedAt: number): NewStateChange[] {
    const tenant = run.tenant ?? null;
    const changes: NewStateChange[] = [];
    for (const item of run.items) {
      this.sql.insertItem.run(
        runId,
        run.probe,
        tenant,
        item.type,
        item.key,
        item.state ?? null,
        endedAt,
        JSON.stringify(item.data),
      );
      if (item.state === undefined) continue;
      const before = this.sql.itemState.get(run.probe, item.type, item.key) as
        { state: string; seen_at: number } | undefined;
      if (before?.state === item.state) {
        // Seen again: noted at most hourly, enough for the items retention to tell live keys from gone ones.
        if (endedAt - before.seen_at >= ITEM_SEEN_RESOLUTION_MS)
          this.sql.itemSeen.run(endedAt, run.probe, item.type, item.key);
        continue;
      }
      this.sql.upsertItemState.run(run.probe, item.type, item.key, item.state, endedAt, endedAt);
      changes.push({
        probe: run.probe,
        tenant,
        subject: `${item.type}:${item.key}`,
        from: before?.state ?? null,
        to: item.state,
        at: endedAt,
        runId,
        message: '',
      });
    }
    return changes;
  }

  private seriesIds(probe: string): number[] {
    return (this.sql.seriesOf.all(probe) as Array<{ id: number }>).map((row) => row.id);
  }

  list(probe: string, options: RunRange = {}): StoredRun[] {
    const limit = options.limit ?? 1000;
    // A probe has one series unless its kind or tenant changed: merge them newest first.
    const rows = this.seriesIds(probe)
      .flatMap(
        (series) =>
          this.sql.seriesRuns.all(
            series,
            options.since ?? 0,
            options.until ?? Number.MAX_SAFE_INTEGER,
            options.location ?? null,
            options.location ?? null,
            limit,
          ) as RunLogRow[],
      )
      .sort((a, b) => b.started_at - a.started_at || b.id - a.id)
      .slice(0, limit);
    return this.log.rebuild(rows);
  }

  summaries(probe: string, options: RunRange = {}): RunSummary[] {
    const limit = options.limit ?? 1000;
    const rows = this.seriesIds(probe)
      .flatMap(
        (series) =>
          this.sql.seriesSummaries.all(
            series,
            options.since ?? 0,
            options.until ?? Number.MAX_SAFE_INTEGER,
            options.location ?? null,
            options.location ?? null,
            limit,
          ) as RunSummaryRow[],
      )
      .sort((a, b) => b.started_at - a.started_at || b.id - a.id)
      .slice(0, limit);
    return rows.map((row) => this.log.summary(row));
  }

  get(id: number): StoredRun | undefined {
    const row = this.sql.runById.get(id) as RunLogRow | undefined;
    return row ? this.log.rebuild([row])[0] : undefined;
  }

  /** A walk back along the (series, started_at, status) index per probe. */
  recentStatuses(probes: string[], n: number): Map<string, RunStatus[]> {
    const statuses = new Map<string, RunStatus[]>();
    for (const probe of probes) statuses.set(probe, n > 0 ? this.lastStatuses(probe, n).map(statusOf) : []);
    return statuses;
  }

  private lastStatuses(probe: string, n: number): number[] {
    const series = this.seriesIds(probe);
    if (series.length === 1) return (this.sql.recentStatuses.all(series[0], n) as number[]).reverse();
    // Several series (the probe's kind or tenant changed): the last n of them together.
    return series
      .flatMap((id) => this.sql.recentRuns.all(id, n) as Array<{ started_at: number; status: number }>)
      .sort((a, b) => b.started_at - a.started_at)
      .slice(0, n)
      .reverse()
      .map((row) => row.status);
  }

  observationsOver(
    probe: string,
    since: number,
    until: number,
  ): Array<{ at: number; observations: StoredRun['observations'] }> {
    // Runs are stored as differences from a keyframe: read them rebuilt, never with SQL over the stored form.
    return this.list(probe, { since, until: until + 1, limit: Number.MAX_SAFE_INTEGER })
      .reverse()
      .map((run) => ({ at: run.startedAt + run.durationMs, observations: run.observations }));
  }
}
