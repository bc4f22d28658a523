// Rows both stores read the same way (their tables have the same columns): a probe's latest run, an alert, a maintenance window.
import type { MaintenanceWindow, ProbeLatest, RunStatus, StoredAlert } from './types.ts';

/** A probe joined with its latest run (probes LEFT JOIN probe_latest). */
export function latestOf(row: Record<string, unknown>): ProbeLatest {
  return {
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
  };
}

export function alertOf(row: Record<string, string>): StoredAlert {
  const state = JSON.parse(row.state ?? '{}') as StoredAlert['state'];
  return {
    rule: row.rule ?? '',
    target: row.target ?? '',
    id: row.alert_id ?? '',
    status: row.status ?? 'ok',
    state,
    severity: row.severity ?? '',
    summary: row.summary ?? '',
    labels: JSON.parse(row.labels ?? '{}') as Record<string, string>,
  };
}

export function windowOf(row: Record<string, unknown>): MaintenanceWindow {
  return {
    id: row.id as number,
    probes: JSON.parse(row.probes as string) as string[],
    reason: row.reason as string,
    startsAt: row.starts_at as number,
    endsAt: row.ends_at as number,
    endedAt: (row.ended_at as number | null) ?? null,
    createdAt: row.created_at as number,
  };
}
