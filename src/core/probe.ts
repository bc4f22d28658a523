// What a probe measures: error codes, observations, items, measurements and the common spec.
/** Why a probe could not measure. Kept small on purpose: alerting and reports group by it. */
export const ERROR_CODES = ['TIMEOUT', 'DNS', 'CONNECT', 'TLS', 'PROTOCOL', 'AUTH', 'CONFIG', 'INTERNAL'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The header a fleet agent's HTTP requests and browser pages carry, so a target (the lab) can tell the locations apart. */
export const LOCATION_HEADER = 'X-Scaiprobe-Location';

export interface ProbeError {
  code: ErrorCode;
  message: string;
}

/** A value a probe observed; assertions compare against these. */
export type ObservationValue = number | string | boolean | null | string[];
export type Observations = Record<string, ObservationValue>;

/**
 * Something a run saw that outlives the run (a probe message and its fate, a
 * blocklist listing). The runner stores it; `state`, when given, is tracked per
 * (probe, key) and a change of it is kept as a state change.
 */
export interface RunItem {
  type: string;
  key: string;
  state?: string;
  data: Record<string, unknown>;
}

/**
 * What probes' runs recorded as items, read-only: how one probe learns what
 * another did (a browser probe opens only a message whose token its mail probe
 * sent). Backed by the store in the daemon, by the engine's memory without one.
 */
export interface RecordedItems {
  /** The newest `limit` items of `type` that `probe`'s runs recorded, newest first. */
  newest(probe: string, type: string, limit: number): RunItem[];
}

/** What a probe returns. A probe never throws for a target's fault: it returns `error`. */
export interface Measurement {
  observations: Observations;
  /** Phase timings in milliseconds (dns, connect, tls, firstByte, send, ...). */
  phases?: Record<string, number>;
  /** A sentence for people; the runner adds failed assertions to it. */
  message?: string;
  error?: ProbeError | null;
  /** Conditions that make the run `warn` without failing it (e.g. a blocklist answer `unknown`). */
  warnings?: string[];
  items?: RunItem[];
  /** Opaque per-probe state handed back on the next run (e.g. previous counter values). JSON only. */
  state?: unknown;
}

export interface Assertion {
  expr: string;
  soft: boolean;
}

/** The keys every probe has, after defaults are applied. */
export interface CommonProbeSpec {
  name: string;
  kind: string;
  every?: number;
  cron?: string;
  timeout: number;
  retries: number;
  retryDelay: number;
  tags: string[];
  tenant?: string;
  expect: Assertion[];
}
