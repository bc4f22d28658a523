// What a finished run does to its probe's status, worked out once for every store: the state change it makes and which latest rows it moves.
import type { NewStateChange, RunRecord } from './types.ts';

/** A latest row as far as the decision needs it. */
export interface LatestStatus {
  status: string;
  startedAt: number;
}

export interface StatusEffect {
  changes: NewStateChange[];
  /** The run is its location's newest: the location's latest row becomes this run. */
  moveLocation: boolean;
  /** The run is the probe's newest: the probe's latest row becomes this run. */
  moveLatest: boolean;
}

/**
 * A run without location is judged against the probe's latest run (subject ''); one with a location against
 * that location's latest (subject `@<location>`). A run older than the latest it is judged against (one that
 * arrived late, from a spool) changes nothing of it.
 */
export function statusEffect(
  run: RunRecord,
  runId: number,
  previous: LatestStatus | undefined,
  locationBefore: LatestStatus | undefined,
): StatusEffect {
  const change = (subject: string, from: string | null): NewStateChange => ({
    probe: run.probe,
    tenant: run.tenant ?? null,
    subject,
    from,
    to: run.status,
    at: run.startedAt + run.durationMs,
    runId,
    message: run.message,
  });
  const newest = !previous || run.startedAt >= previous.startedAt;
  if (!run.location) {
    const changes = previous?.status !== run.status ? [change('', previous?.status ?? null)] : [];
    return { changes, moveLocation: false, moveLatest: true };
  }
  if (locationBefore && run.startedAt < locationBefore.startedAt)
    return { changes: [], moveLocation: false, moveLatest: false };
  const changes =
    locationBefore?.status !== run.status ? [change(`@${run.location}`, locationBefore?.status ?? null)] : [];
  return { changes, moveLocation: true, moveLatest: newest };
}
