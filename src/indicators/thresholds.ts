// The indicators section's schema: thresholds, trend window and horizon, with defaults.
import { z } from 'zod';
import { duration } from '../core/schema.ts';

const rate = z.number().min(0).max(1);

/**
 * Defaults from the operator manuals (reference/scaisend- and
 * scaidns-health-and-monitoring.md); the leading-indicator limits are ours.
 * Overridable in the `indicators:` section.
 */
export const indicatorsSchema = z.strictObject({
  thresholds: z
    .strictObject({
      apiErrorRate: rate.default(0.005),
      queueDepth: z.number().int().min(1).default(100_000),
      queueGrowth: duration().default(15 * 60_000),
      bounceRate: rate.default(0.02),
      spamReportRate: rate.default(0.001),
      deferralRate: rate.default(0.05),
      sendP99: duration().default(200),
      readP99: duration().default(100),
      scaidnsP99: duration().default(1000),
      pdnsP99: duration().default(500),
      readinessFailing: duration().default(60_000),
      seedSpamRate: rate.default(0.2),
      seedMissingRate: rate.default(0.2),
      authFailRate: rate.default(0.05),
      /** Median time-to-inbox over the last day, as a multiple of its own median over the week before. */
      timeToInboxRatio: z.number().min(1).default(3),
    })
    .prefault({}),
  /** A value this share of its threshold warns. */
  warnAt: z.number().gt(0).lt(1).default(0.75),
  /** A rising series warns when, at its slope, it would cross its threshold within this time. */
  horizon: duration().default(24 * 3_600_000),
  /** How far back trends look. */
  trendWindow: duration().default(6 * 3_600_000),
});

export type IndicatorsConfig = z.output<typeof indicatorsSchema>;
export type Thresholds = IndicatorsConfig['thresholds'];

export function defaultIndicatorsConfig(): IndicatorsConfig {
  return indicatorsSchema.parse({});
}
