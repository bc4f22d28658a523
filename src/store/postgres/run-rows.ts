// The runs table's rows read back as runs and summaries, and written from run records.
import { storedBody, type RunBody } from '../run-codec.ts';
import type { RunRecord, RunStatus, RunSummary, StoredRun } from '../types.ts';

const STATUSES: readonly RunStatus[] = ['pass', 'warn', 'fail'];
export const STATUS_CODE: Record<RunStatus, number> = { pass: 0, warn: 1, fail: 2 };

export interface RunRow {
  id: number;
  uid: string;
  probe: string;
  kind: string;
  tenant: string | null;
  location: string | null;
  agent: string | null;
  started_at: number;
  duration: number;
  status: number;
  attempts: number;
  error_code: string | null;
  error_message: string | null;
  body?: string;
}

/** The columns a summary reads (no body). */
export const SUMMARY_COLUMNS =
  'id, uid, probe, kind, tenant, location, agent, started_at, duration, status, attempts, error_code, error_message';

export function summaryOf(row: RunRow): RunSummary {
  return {
    id: row.id,
    uid: row.uid,
    probe: row.probe,
    kind: row.kind,
    ...(row.tenant ? { tenant: row.tenant } : {}),
    startedAt: row.started_at,
    durationMs: row.duration / 100,
    status: STATUSES[row.status] ?? 'fail',
    attempts: row.attempts,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    ...(row.location ? { location: row.location } : {}),
    ...(row.agent ? { agent: row.agent } : {}),
  };
}

export function runOf(row: RunRow): StoredRun {
  const { error, ...fixed } = summaryOf(row);
  const body = JSON.parse(row.body ?? '{}') as Partial<RunBody>;
  return {
    ...fixed,
    message: body.message ?? '',
    error,
    observations: (body.observations ?? {}) as StoredRun['observations'],
    assertions: (body.assertions ?? []) as unknown as StoredRun['assertions'],
    phases: (body.phases ?? {}) as Record<string, number>,
  };
}

/** The runs table's columns as written, with their array types for unnest. */
export const RUN_COLUMNS: Array<[string, string]> = [
  ['uid', 'text'],
  ['probe', 'text'],
  ['kind', 'text'],
  ['tenant', 'text'],
  ['location', 'text'],
  ['agent', 'text'],
  ['started_at', 'int8'],
  ['duration', 'int4'],
  ['status', 'int2'],
  ['attempts', 'int4'],
  ['error_code', 'text'],
  ['error_message', 'text'],
  ['body', 'text'],
];

/** One value per RUN_COLUMNS entry. */
export const RUN_VALUES: Array<(run: RunRecord) => unknown> = [
  (run) => run.uid,
  (run) => run.probe,
  (run) => run.kind,
  (run) => run.tenant ?? null,
  (run) => run.location || null,
  (run) => run.agent ?? '',
  (run) => run.startedAt,
  (run) => Math.round(run.durationMs * 100),
  (run) => STATUS_CODE[run.status],
  (run) => run.attempts,
  (run) => run.error?.code ?? null,
  (run) => run.error?.message ?? null,
  (run) => JSON.stringify(storedBody(run)),
];
