// Maintenance windows: glob and cron matching, and which window suppresses an alert.
import type { MaintenanceWindow } from '../store/types.ts';
import type { WindowConfig } from './config.ts';
import { globMatch } from '../util/glob.ts';

function fieldMatches(field: string, value: number, min: number, max: number): boolean {
  return field.split(',').some((part) => {
    const [range = '*', stepText] = part.split('/');
    const step = stepText ? Number(stepText) : 1;
    const [lo, upper] = range === '*' ? [min, max] : range.split('-').map(Number);
    if (lo === undefined || Number.isNaN(lo)) return false;
    const hi = upper ?? (stepText ? max : lo);
    return value >= lo && value <= hi && (value - lo) % step === 0;
  });
}

/** Whether a 5-field cron expression (minute hour day month weekday; UTC) fires at this minute. */
export function cronMatches(expression: string, at: Date): boolean {
  const fields = expression.trim().split(/\s+/);
  const [minute, hour, dom, month, dow] = fields.length === 6 ? fields.slice(1) : fields;
  const weekday = at.getUTCDay();
  return (
    fieldMatches(minute ?? '*', at.getUTCMinutes(), 0, 59) &&
    fieldMatches(hour ?? '*', at.getUTCHours(), 0, 23) &&
    fieldMatches(dom ?? '*', at.getUTCDate(), 1, 31) &&
    fieldMatches(month ?? '*', at.getUTCMonth() + 1, 1, 12) &&
    (fieldMatches(dow ?? '*', weekday, 0, 7) || (weekday === 0 && fieldMatches(dow ?? '*', 7, 0, 7)))
  );
}

/** Whether a silence or maintenance window is in force at `now` (cron windows: a start within the last `duration`). */
export function windowActive(window: WindowConfig, now: number): boolean {
  if (window.cron && window.duration !== undefined) {
    const minute = 60_000;
    const latest = Math.floor(now / minute) * minute;
    for (let start = latest; start > now - window.duration; start -= minute)
      if (cronMatches(window.cron, new Date(start))) return true;
    return false;
  }
  const from = window.from ? Date.parse(window.from) : Number.NEGATIVE_INFINITY;
  const until = window.until ? Date.parse(window.until) : Number.POSITIVE_INFINITY;
  return now >= from && now < until;
}

/** The first silence or maintenance window that covers this rule and target now, if any. */
export function suppressedBy(
  windows: WindowConfig[],
  rule: string,
  target: string,
  now: number,
): WindowConfig | undefined {
  return windows.find((w) => globMatch(w.rule, rule) && globMatch(w.target, target) && windowActive(w, now));
}

/**
 * A maintenance window started at run time, as the configured ones are
 * written: every rule, for alerts about its probes, that is alerts whose
 * target is one of them and those of their per-probe indicators (`readiness:<probe>`).
 */
export function asConfiguredWindows(window: MaintenanceWindow): WindowConfig[] {
  const until = new Date(Math.min(window.endsAt, window.endedAt ?? window.endsAt)).toISOString();
  const base = {
    name: `maintenance ${window.id}`,
    rule: '*',
    from: new Date(window.startsAt).toISOString(),
    until,
    reason: window.reason,
  };
  return window.probes.flatMap((probe) => [
    { ...base, target: probe },
    { ...base, target: `*:${probe}` },
  ]);
}
