// Indicators computed from the store on demand, and the `indicators:` section's validation.
import type { Store } from '../store/repositories.ts';
import type { Clock } from '../util/clock.ts';
import { computeIndicators, type Indicator } from './compute.ts';
import { loadIndicatorInputs } from './source.ts';
import { indicatorsSchema, type IndicatorsConfig } from './thresholds.ts';

/** Validates the `indicators:` section; issues carry the key path (the caller adds the file). */
export function parseIndicatorsSection(raw: unknown): {
  config?: IndicatorsConfig;
  issues: Array<{ path: (string | number)[]; message: string }>;
} {
  const parsed = indicatorsSchema.safeParse(raw ?? {});
  if (parsed.success) return { config: parsed.data, issues: [] };
  return {
    issues: parsed.error.issues.map((issue) => ({
      path: ['indicators', ...(issue.path as Array<string | number>)],
      message: issue.message,
    })),
  };
}

/**
 * Computes indicators from the store on demand, at most once per `cacheMs`
 * (the /metrics scrape, the API and alert evaluation share one computation).
 */
export class IndicatorService {
  private cached: { at: number; indicators: Indicator[] } | undefined;

  constructor(private readonly deps: { store: Store; clock: Clock; config: IndicatorsConfig; cacheMs?: number }) {}

  current(): Indicator[] {
    const now = this.deps.clock.now();
    if (this.cached && now - this.cached.at < (this.deps.cacheMs ?? 10_000)) return this.cached.indicators;
    const indicators = computeIndicators(loadIndicatorInputs(this.deps.store, this.deps.config, now), this.deps.config);
    this.cached = { at: now, indicators };
    return indicators;
  }
}
