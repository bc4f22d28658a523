// A point in time as people write it on a command line or in a query: `1h` back from now, an ISO time, epoch milliseconds.
import { parseDuration } from '../core/duration.ts';

/** `since` as a duration back from now (`1h`), an ISO time, or epoch milliseconds; undefined when absent, NaN when unreadable. */
export function parseSince(value: string | null, now: number): number | undefined {
  if (value === null || value === '') return undefined;
  const duration = parseDuration(value);
  if (duration !== undefined) return now - duration;
  if (/^\d+$/.test(value)) return Number(value);
  const time = Date.parse(value);
  return Number.isNaN(time) ? Number.NaN : time;
}
