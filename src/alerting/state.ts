// The alert state machine of one rule and subject: ok, pending, firing, and held resolutions.
import type { RuleConfig } from './config.ts';
import type { LocalFailure, Locations } from './quorum.ts';

export type AlertStatus = 'ok' | 'pending' | 'firing';
export type AlertEvent = 'firing' | 'resolved' | 'reminder';

export interface AlertState {
  status: AlertStatus;
  /** When the condition started to hold (pending and firing). */
  since: number | null;
  firedAt: number | null;
  lastNotifiedAt: number | null;
  /** Whether the current firing was notified (a silence may have held it back). */
  notified: boolean;
  /** Bad flags of the latest results, oldest first, at most `window` long. */
  recent: boolean[];
  okStreak: number;
  /**
   * A resolution of a notified firing that a silence or maintenance window
   * held back: owed to the receivers (PagerDuty keeps the incident open until
   * it comes) and sent as soon as no window covers the alert.
   */
  heldResolution?: HeldResolution;
  /** For runs from several locations: each location's latest result (kept across leaders, in the store). */
  locations?: Locations;
  /** Locations failing while fewer than the quorum fail (the alert is ok, nothing is notified). */
  local?: LocalFailure;
}

export interface HeldResolution {
  /** When the firing it resolves started (its notifications' startedAt). */
  firedAt: number;
  /** When the condition cleared. */
  at: number;
  summary: string;
}

export function initialState(): AlertState {
  return { status: 'ok', since: null, firedAt: null, lastNotifiedAt: null, notified: false, recent: [], okStreak: 0 };
}

type Rule = Pick<RuleConfig, 'for' | 'failures' | 'window' | 'successes' | 'repeat'>;

function holds(recent: boolean[], rule: Rule): boolean {
  return recent.filter(Boolean).length >= rule.failures;
}

/**
 * One result (a run, or an indicator evaluation) for one rule and target.
 * Pure: returns the next state and the event to notify, if any. A condition
 * that stops holding while pending goes back to ok silently (flapping does not page).
 */
export function observe(
  state: AlertState,
  bad: boolean,
  now: number,
  rule: Rule,
): { state: AlertState; event?: AlertEvent } {
  const size = rule.window ?? rule.failures;
  const recent = [...state.recent, bad].slice(-size);
  const next: AlertState = { ...state, recent };
  if (state.status === 'firing') {
    next.okStreak = bad ? 0 : state.okStreak + 1;
    if (!bad && next.okStreak >= rule.successes) {
      return { state: { ...initialState(), recent: [] }, ...(state.notified ? { event: 'resolved' as const } : {}) };
    }
    return { state: next };
  }
  if (!holds(recent, rule)) return { state: { ...next, status: 'ok', since: null } };
  if (state.status === 'ok') next.since = now;
  next.status = 'pending';
  return advance(next, now, rule);
}

/** Time passing with no new result: pending may become firing (`for` elapsed); firing may remind. */
export function advance(state: AlertState, now: number, rule: Rule): { state: AlertState; event?: AlertEvent } {
  if (state.status === 'pending' && state.since !== null && now - state.since >= rule.for) {
    return { state: { ...state, status: 'firing', firedAt: now, okStreak: 0, notified: false }, event: 'firing' };
  }
  if (
    state.status === 'firing' &&
    state.notified &&
    rule.repeat !== undefined &&
    state.lastNotifiedAt !== null &&
    now - state.lastNotifiedAt >= rule.repeat
  ) {
    return { state, event: 'reminder' };
  }
  return { state };
}

/** The target is gone (its probe left the configuration): back to ok, resolving a notified firing once. */
export function withdraw(state: AlertState): { state: AlertState; event?: AlertEvent } {
  return {
    state: initialState(),
    ...(state.status === 'firing' && state.notified ? { event: 'resolved' as const } : {}),
  };
}
