// Quorum over a probe's locations: each location's latest result, which locations count, and whether enough agree.

/** A rule's `quorum`: failing locations needed for its condition to hold (a number, or more than half of the live ones). */
export type Quorum = number | 'majority';

/** The latest result of one location for one rule and probe. */
export interface LocationResult {
  bad: boolean;
  /** When the run started. */
  at: number;
  /** Time since the location's previous run (its interval, as seen). */
  gap?: number;
  /** While bad: since when this location fails. */
  since?: number;
  /** While bad: the run's message. */
  message?: string;
}

export type Locations = Record<string, LocationResult>;

/** A failure seen from fewer locations than the quorum: noted, never notified. */
export interface LocalFailure {
  locations: string[];
  since: number;
}

/** A location whose latest run is older than this many intervals no longer counts (its agent is gone, or stuck). */
export const STALE_INTERVALS = 3;
const MESSAGE_CHARS = 300;

/**
 * The locations with one more result; undefined when the result is not newer
 * than the location's latest (a run read twice, e.g. by a new leader reading
 * back over what its predecessor evaluated, changes nothing).
 */
export function withResult(
  locations: Locations,
  location: string,
  result: { bad: boolean; at: number; message: string },
): Locations | undefined {
  const latest = locations[location];
  if (latest && result.at <= latest.at) return undefined;
  const next: LocationResult = { bad: result.bad, at: result.at };
  if (latest) next.gap = result.at - latest.at;
  if (result.bad) {
    next.since = latest?.bad ? (latest.since ?? latest.at) : result.at;
    next.message = result.message.slice(0, MESSAGE_CHARS);
  }
  return { ...locations, [location]: next };
}

export interface QuorumVerdict {
  /** Whether enough counted locations fail. */
  holds: boolean;
  /** The counted locations that fail, by name. */
  failing: string[];
  /** Failing locations needed. */
  needed: number;
}

/**
 * Judges the rule's condition over the locations: a location counts when it
 * is live (when the fleet says which are) and its latest run is no older than
 * a few intervals (`interval` when known, else the gap it was seen running at).
 * `majority` needs more than half of the live locations (of the counted ones
 * when liveness is not known).
 */
export function judgeQuorum(
  locations: Locations,
  quorum: Quorum,
  context: { now: number; live?: string[]; interval?: number },
): QuorumVerdict {
  const live = context.live ? new Set(context.live) : undefined;
  const counted = Object.keys(locations)
    .filter((name) => !live || live.has(name))
    .filter((name) => {
      const result = locations[name]!;
      const interval = context.interval ?? result.gap;
      return interval === undefined || context.now - result.at <= STALE_INTERVALS * interval;
    })
    .sort();
  const failing = counted.filter((name) => locations[name]!.bad);
  const voters = live ? live.size : counted.length;
  const needed = quorum === 'majority' ? Math.floor(voters / 2) + 1 : quorum;
  return { holds: failing.length >= needed, failing, needed };
}

/** The local failure the verdict shows, when some locations fail but fewer than the quorum. */
export function localFailure(locations: Locations, verdict: QuorumVerdict): LocalFailure | undefined {
  if (verdict.holds || verdict.failing.length === 0) return undefined;
  const since = Math.min(...verdict.failing.map((name) => locations[name]!.since ?? locations[name]!.at));
  return { locations: verdict.failing, since };
}

/** "failing only from eu-west since 10:02 UTC" (the date too when it is not the day of `now`). */
export function localMessage(local: LocalFailure, now: number): string {
  const since = new Date(local.since).toISOString();
  const sameDay = since.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  const when = sameDay ? since.slice(11, 16) : `${since.slice(0, 10)} ${since.slice(11, 16)}`;
  return `failing only from ${local.locations.join(', ')} since ${when} UTC`;
}

/** What a quorum alert says: the message of a failing location's run, and which locations fail. */
export function quorumSummary(locations: Locations, failing: string[]): string | undefined {
  const first = failing[0];
  if (first === undefined) return undefined;
  return `${locations[first]!.message ?? 'failing'} (failing from ${failing.join(', ')})`;
}
