// How long the store keeps each kind of row: the settings and what a pruning pass removed.

/** How long each kind of row is kept (ms). Every table that grows with time has one. */
export interface RetentionConfig {
  /** Raw runs. */
  raw: number;
  /** Hourly rollups. */
  hourly: number;
  /** Run items (probe messages, listings: what reports read), and item states not seen for this long. */
  items: number;
  /** State changes (probe up/down, listed/delisted, alert fired/resolved: incident history for reports). */
  stateChanges: number;
  /** Alerts back to ok and not evaluated for this long (their rule or target is gone). */
  alerts: number;
  /** Notifications delivered, expired or failed this long ago. */
  outbox: number;
  /** Maintenance windows started at run time that ended this long ago (they explain gaps in reports). */
  maintenance: number;
}

const DAY = 86_400_000;

export const DEFAULT_RETENTION: RetentionConfig = {
  raw: 14 * DAY,
  hourly: 400 * DAY,
  items: 90 * DAY,
  stateChanges: 400 * DAY,
  alerts: 30 * DAY,
  outbox: 30 * DAY,
  maintenance: 400 * DAY,
};

export interface Pruned {
  runs: number;
  rollups: number;
  items: number;
  itemStates: number;
  stateChanges: number;
  alerts: number;
  outbox: number;
  maintenance: number;
  series: number;
}

export const NOTHING_PRUNED: Pruned = Object.freeze({
  runs: 0,
  rollups: 0,
  items: 0,
  itemStates: 0,
  stateChanges: 0,
  alerts: 0,
  outbox: 0,
  maintenance: 0,
  series: 0,
});
