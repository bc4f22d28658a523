// What a batch of runs changes, worked out in memory from the rows it starts from: latest runs, item states, state changes.
import type { NewStateChange, RunRecord } from '../types.ts';
import { statusEffect } from '../status-effect.ts';

const HOUR = 3_600_000;
/** An item seen again in the same state is noted at most this often (enough for the items retention). */
const ITEM_SEEN_RESOLUTION_MS = HOUR;

export interface LatestRow {
  runId: number;
  status: string;
  statusSince: number;
  startedAt: number;
  durationMs: number;
  message: string;
  errorCode: string | null;
}

export interface ItemStateRow {
  state: string;
  since: number;
  seenAt: number;
}

/** The rows a batch reads before it writes, changed in place as each run is applied; `dirty` names what to write back. */
export interface BatchState {
  latest: Map<string, LatestRow>;
  /** By `probe \0 location`. */
  locations: Map<string, LatestRow>;
  /** By `probe \0 type \0 key`. */
  items: Map<string, ItemStateRow>;
  dirty: { latest: Set<string>; locations: Set<string>; items: Set<string> };
}

export const locationKey = (probe: string, location: string) => `${probe}\0${location}`;
export const itemKey = (probe: string, type: string, key: string) => `${probe}\0${type}\0${key}`;

export function emptyBatchState(): BatchState {
  return {
    latest: new Map(),
    locations: new Map(),
    items: new Map(),
    dirty: { latest: new Set(), locations: new Set(), items: new Set() },
  };
}

function latestOf(run: RunRecord, runId: number, before: LatestRow | undefined, endedAt: number): LatestRow {
  return {
    runId,
    status: run.status,
    statusSince: before && before.status === run.status ? before.statusSince : endedAt,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    message: run.message,
    errorCode: run.error?.code ?? null,
  };
}

/**
 * The run's own status change and the latest rows it leaves, as the SQLite store works them out: a run
 * without location against the probe's latest (subject ''), one with a location against that location's (`@<location>`).
 */
export function applyStatus(state: BatchState, run: RunRecord, runId: number): NewStateChange[] {
  const endedAt = run.startedAt + run.durationMs;
  const previous = state.latest.get(run.probe);
  const key = run.location ? locationKey(run.probe, run.location) : undefined;
  const before = key ? state.locations.get(key) : undefined;
  const effect = statusEffect(run, runId, previous, before);
  if (key && effect.moveLocation) {
    state.locations.set(key, latestOf(run, runId, before, endedAt));
    state.dirty.locations.add(key);
  }
  if (effect.moveLatest) {
    state.latest.set(run.probe, latestOf(run, runId, previous, endedAt));
    state.dirty.latest.add(run.probe);
  }
  return effect.changes;
}

/** The state changes of the run's items whose state moved; item states updated in `state`. */
export function applyItems(state: BatchState, run: RunRecord, runId: number): NewStateChange[] {
  const endedAt = run.startedAt + run.durationMs;
  const changes: NewStateChange[] = [];
  for (const item of run.items) {
    if (item.state === undefined) continue;
    const key = itemKey(run.probe, item.type, item.key);
    const before = state.items.get(key);
    if (before?.state === item.state) {
      if (endedAt - before.seenAt >= ITEM_SEEN_RESOLUTION_MS) {
        state.items.set(key, { ...before, seenAt: endedAt });
        state.dirty.items.add(key);
      }
      continue;
    }
    state.items.set(key, { state: item.state, since: endedAt, seenAt: endedAt });
    state.dirty.items.add(key);
    changes.push({
      probe: run.probe,
      tenant: run.tenant ?? null,
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
