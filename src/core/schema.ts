// The zod atoms every section shares: the one duration, the timer range, the TLS options.
import { z } from 'zod';
import { MAX_TIMER_MS, parseDuration } from './duration.ts';

/** How a duration is written, for the JSON Schema (editors); `parseDuration` decides. */
const DURATION_PATTERN = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d|w))+\\s*$';

/**
 * The one duration of the configuration, wherever it stands: text such as
 * `500ms`, `30s`, `5m`, `1h30m` (a bare number is refused); becomes milliseconds.
 */
export const duration = () =>
  z
    .string()
    .meta({ description: 'A duration: 500ms, 30s, 5m, 1h30m, 7d', pattern: DURATION_PATTERN })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (write it like 500ms, 30s, 5m, 1h)` });
        return z.NEVER;
      }
      return ms;
    });

/** A duration waited for with one timer (timeouts, retry delays): at most MAX_TIMER_MS, which a timer can still wait. */
export const timerDuration = () => duration().refine(withinTimerRange, TIMER_RANGE_MESSAGE);

export function withinTimerRange(ms: number): boolean {
  return ms <= MAX_TIMER_MS;
}
export const TIMER_RANGE_MESSAGE = `must be at most ${MAX_TIMER_MS}ms (24d 20h 31m 23.647s, the longest a timer can wait); write 24d or less`;

/** Certificate checks shared by every TLS client: trust `ca` (PEM) besides the system's, skip them (`insecure`), `servername` for SNI. */
export const tlsOptionsSchema = z
  .strictObject({
    insecure: z.boolean().default(false),
    ca: z.string().optional(),
    servername: z.string().optional(),
  })
  .optional();
