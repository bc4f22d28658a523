// The SQLite runs table (run_log and run_series): runs appended compactly against a keyframe, and rebuilt on read.
import type { Database, Statement } from 'better-sqlite3';
import type { RunRecord, RunStatus, RunSummary, StoredRun } from '../types.ts';
import { applyDifference, encodeDifference, Keyframe, storedBody, type RunBody } from '../run-codec.ts';

export interface RunSeries {
  id: number;
  probe: string;
  kind: string;
  tenant: string | null;
}

export interface RunLogRow {
  id: number;
  series: number;
  uid: Uint8Array | string;
  started_at: number;
  duration: number;
  status: number;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  base: number | null;
  body: Uint8Array | string;
  location: string | null;
  agent: string | null;
}

/** The fixed columns of a run_log row. */
export type RunSummaryRow = Omit<RunLogRow, 'base' | 'body'>;

const HOUR = 3_600_000;
const STATUSES: readonly RunStatus[] = ['pass', 'warn', 'fail'];
export const STATUS_CODE: Record<RunStatus, number> = { pass: 0, warn: 1, fail: 2 };
export const statusOf = (code: number): RunStatus => STATUSES[code] ?? 'fail';

/**
 * A passing run is stored whole at least this often. Retention keeps whole
 * rows this much longer than differences, so a kept difference never loses its
 * keyframe (see prune.ts).
 */
export const KEYFRAME_MAX_AGE_MS = 6 * HOUR;

/**
 * A probe's keyframe as cached between runs: its stored text, not the parsed
 * Keyframe. The text is a few hundred bytes where the parsed form (a slot and
 * map entry per field) is several kilobytes, which at 20,000 probes is most of
 * the daemon's heap; parsing it again costs a few microseconds a run.
 */
interface CachedKeyframe {
  id: number;
  startedAt: number;
  text: string;
}

/** Whether a run starting at `startedAt` may be stored against the keyframe (see KEYFRAME_MAX_AGE_MS). */
function usableFor(keyframe: CachedKeyframe, startedAt: number): boolean {
  const age = startedAt - keyframe.startedAt;
  return age >= 0 && age < KEYFRAME_MAX_AGE_MS;
}

/** Run ids are 12 hex digits: kept as their 6 bytes. */
function packUid(uid: string): Uint8Array | string {
  return /^(?:[0-9a-f]{2})+$/.test(uid) ? Buffer.from(uid, 'hex') : uid;
}
function unpackUid(uid: Uint8Array | string): string {
  return typeof uid === 'string' ? uid : Buffer.from(uid).toString('hex');
}

function parseWhole(body: Uint8Array | string): RunBody {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const parsed = JSON.parse(text) as Partial<RunBody>;
  return {
    message: parsed.message ?? '',
    observations: parsed.observations ?? {},
    assertions: parsed.assertions ?? [],
    phases: parsed.phases ?? {},
  };
}

/**
 * The runs table (`run_log`): fixed columns for what every run has, and the
 * variable part either whole (JSON text) or, for a passing run, as its
 * difference from the probe's keyframe (the latest passing run stored whole).
 * A run that is not a pass is always stored whole. Reads rebuild each run.
 */
export class RunLog {
  private readonly seriesIds = new Map<string, number>();
  private readonly seriesById = new Map<number, RunSeries>();
  private readonly keyframes = new Map<number, CachedKeyframe>();
  private readonly statements: Record<
    'findSeries' | 'insertSeries' | 'seriesById' | 'setKeyframe' | 'insert' | 'byId' | 'byUid',
    Statement
  >;

  constructor(db: Database) {
    this.statements = {
      findSeries: db.prepare('SELECT id FROM run_series WHERE probe = ? AND kind = ? AND tenant = ?'),
      insertSeries: db.prepare('INSERT INTO run_series (probe, kind, tenant) VALUES (?, ?, ?)'),
      seriesById: db.prepare('SELECT id, probe, kind, tenant, keyframe FROM run_series WHERE id = ?'),
      setKeyframe: db.prepare('UPDATE run_series SET keyframe = ? WHERE id = ?'),
      insert:
        db.prepare(`INSERT INTO run_log (series, uid, started_at, duration, status, attempts, error_code, error_message, base, body, location, agent)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      byId: db.prepare('SELECT * FROM run_log WHERE id = ?'),
      // Along the (series, started_at, status) index: no index of its own for the uid.
      byUid: db.prepare('SELECT id FROM run_log WHERE series = ? AND started_at = ? AND uid = ?').pluck(),
    };
  }

  /**
   * Inserts one run; call inside the caller's transaction, and `afterCommit`
   * once it committed (the caches must not learn what a rollback undid).
   */
  append(run: RunRecord): { runId: number; afterCommit: () => void } {
    const key = `${run.probe}\0${run.kind}\0${run.tenant ?? ''}`;
    const series = this.seriesIds.get(key) ?? this.findOrCreateSeries(run);
    // Loaded here but cached only after the commit: inside a caller's transaction it may not be committed yet.
    const known =
      run.status === 'pass' ? (this.keyframes.get(series) ?? this.loadKeyframe(series)) : this.keyframes.get(series);
    const keyframe = run.status === 'pass' && known && usableFor(known, run.startedAt) ? known : undefined;
    let base: number | null = null;
    let stored: Uint8Array | string | undefined;
    if (keyframe) {
      const difference = encodeDifference(new Keyframe(parseWhole(keyframe.text)), run, run.startedAt);
      // A difference half as large as a whole copy saves little and makes every read pay: start a new keyframe.
      if (difference.length * 2 <= keyframe.text.length) {
        base = keyframe.id;
        stored = difference;
      }
    }
    stored ??= JSON.stringify(storedBody(run));
    const info = this.statements.insert.run(
      series,
      packUid(run.uid),
      run.startedAt,
      Math.round(run.durationMs * 100),
      STATUS_CODE[run.status],
      run.attempts,
      run.error?.code ?? null,
      run.error?.message ?? null,
      base,
      stored,
      run.location ?? null,
      run.agent ?? null,
    );
    const runId = Number(info.lastInsertRowid);
    let next: CachedKeyframe | undefined;
    if (base === null && run.status === 'pass' && typeof stored === 'string') {
      this.statements.setKeyframe.run(runId, series);
      // From the stored text, so the keyframe is exactly what a reader will rebuild.
      next = { id: runId, startedAt: run.startedAt, text: stored };
    }
    return {
      runId,
      afterCommit: () => {
        this.seriesIds.set(key, series);
        const latest = next ?? known;
        if (latest) this.keyframes.set(series, latest);
      },
    };
  }

  /** The id of the run already stored with this uid (same probe, kind, tenant and start), if any. */
  find(run: RunRecord): number | undefined {
    const key = `${run.probe}\0${run.kind}\0${run.tenant ?? ''}`;
    const series =
      this.seriesIds.get(key) ??
      (this.statements.findSeries.get(run.probe, run.kind, run.tenant ?? '') as { id: number } | undefined)?.id;
    if (series === undefined) return undefined;
    return this.statements.byUid.get(series, run.startedAt, packUid(run.uid)) as number | undefined;
  }

  private findOrCreateSeries(run: RunRecord): number {
    const tenant = run.tenant ?? '';
    const found = this.statements.findSeries.get(run.probe, run.kind, tenant) as { id: number } | undefined;
    return found?.id ?? Number(this.statements.insertSeries.run(run.probe, run.kind, tenant).lastInsertRowid);
  }

  private loadKeyframe(series: number): CachedKeyframe | undefined {
    const info = this.statements.seriesById.get(series) as { keyframe: number | null } | undefined;
    if (info?.keyframe === null || info?.keyframe === undefined) return undefined;
    const row = this.statements.byId.get(info.keyframe) as RunLogRow | undefined;
    if (!row || row.base !== null || row.series !== series || row.status !== STATUS_CODE.pass) return undefined;
    const text = typeof row.body === 'string' ? row.body : Buffer.from(row.body).toString('utf8');
    return { id: row.id, startedAt: row.started_at, text };
  }

  /** Forgets cached series and keyframes (after retention removed some). */
  forget(): void {
    this.seriesIds.clear();
    this.seriesById.clear();
    this.keyframes.clear();
  }

  series(id: number): RunSeries | undefined {
    let found = this.seriesById.get(id);
    if (!found) {
      const row = this.statements.seriesById.get(id) as
        { id: number; probe: string; kind: string; tenant: string } | undefined;
      if (!row) return undefined;
      found = { id: row.id, probe: row.probe, kind: row.kind, tenant: row.tenant === '' ? null : row.tenant };
      this.seriesById.set(id, found);
    }
    return found;
  }

  /** Rebuilds stored rows into runs; the keyframes they need are read once per call. */
  rebuild(rows: RunLogRow[]): StoredRun[] {
    const keyframes = new Map<number, Keyframe | undefined>();
    return rows.map((row) => this.toRun(row, this.bodyOf(row, keyframes)));
  }

  private bodyOf(row: RunLogRow, keyframes: Map<number, Keyframe | undefined>): RunBody {
    if (row.base === null) return parseWhole(row.body);
    if (!keyframes.has(row.base)) {
      const base = this.statements.byId.get(row.base) as RunLogRow | undefined;
      // A keyframe retention removed (only after a clock jump): the difference alone is what is left.
      keyframes.set(row.base, base && base.base === null ? new Keyframe(parseWhole(base.body)) : undefined);
    }
    const difference = typeof row.body === 'string' ? Buffer.from(row.body, 'utf8') : row.body;
    return applyDifference(keyframes.get(row.base), difference, row.started_at);
  }

  /** A run's fixed columns, its body left unread. */
  summary(row: RunSummaryRow): RunSummary {
    const series = this.series(row.series);
    return {
      id: row.id,
      uid: unpackUid(row.uid),
      probe: series?.probe ?? '',
      kind: series?.kind ?? '',
      ...(series?.tenant ? { tenant: series.tenant } : {}),
      startedAt: row.started_at,
      durationMs: row.duration / 100,
      status: statusOf(row.status),
      attempts: row.attempts,
      error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
      ...(row.location ? { location: row.location } : {}),
      ...(row.agent ? { agent: row.agent } : {}),
    };
  }

  private toRun(row: RunLogRow, body: RunBody): StoredRun {
    // The fixed columns as summary() reads them; the message keeps its place before the error.
    const { error, ...fixed } = this.summary(row);
    return {
      ...fixed,
      message: body.message,
      error,
      observations: body.observations as StoredRun['observations'],
      assertions: body.assertions as unknown as StoredRun['assertions'],
      phases: body.phases as Record<string, number>,
    };
  }
}
