import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Store } from '../store/store.ts';
import type { Clock } from '../util/clock.ts';
import type { Router } from '../server/router.ts';
import { sendJson, tenantScope } from '../server/router.ts';
import { computeIndicators, type Indicator } from './compute.ts';
import { loadIndicatorInputs } from './source.ts';
import { indicatorsSchema, type IndicatorsConfig } from './thresholds.ts';

export const STATE_VALUE = { ok: 0, warn: 1, critical: 2 } as const;

/** Validates the `indicators:` section; issues carry the key path (the caller adds the file). */
export function parseIndicatorsSection(raw: unknown): { config?: IndicatorsConfig; issues: Array<{ path: (string | number)[]; message: string }> } {
  const parsed = indicatorsSchema.safeParse(raw ?? {});
  if (parsed.success) return { config: parsed.data, issues: [] };
  return { issues: parsed.error.issues.map((issue) => ({ path: ['indicators', ...(issue.path as Array<string | number>)], message: issue.message })) };
}

/**
 * Computes indicators from the store on demand, at most once per `cacheMs`
 * (the /metrics scrape, the API and alert evaluation share one computation).
 */
export class IndicatorService {
  private cached: { at: number; indicators: Indicator[] } | undefined;

  constructor(
    private readonly deps: { store: Store; clock: Clock; config: IndicatorsConfig; cacheMs?: number },
  ) {}

  current(): Indicator[] {
    const now = this.deps.clock.now();
    if (this.cached && now - this.cached.at < (this.deps.cacheMs ?? 10_000)) return this.cached.indicators;
    const indicators = computeIndicators(loadIndicatorInputs(this.deps.store, this.deps.config, now), this.deps.config);
    this.cached = { at: now, indicators };
    return indicators;
  }

  /** Gauges filled at scrape time: value and state (0 ok, 1 warn, 2 critical) per indicator. */
  registerMetrics(registry: Registry): void {
    // The first registered gauge fills both: the registry serializes in registration order.
    const value: Gauge<'id' | 'name' | 'subject'> = new Gauge({
      name: 'scaiprobe_indicator_value',
      help: 'Indicator value (ratios as fractions, durations in ms)',
      labelNames: ['id', 'name', 'subject'],
      registers: [registry],
      collect: () => {
        value.reset();
        state.reset();
        for (const indicator of this.current()) {
          const labels = { id: indicator.id, name: indicator.name, subject: indicator.subject };
          state.set(labels, STATE_VALUE[indicator.state]);
          if (indicator.value !== null) value.set(labels, indicator.value);
        }
      },
    });
    const state = new Gauge({ name: 'scaiprobe_indicator_state', help: 'Indicator state: 0 ok, 1 warn, 2 critical', labelNames: ['id', 'name', 'subject'], registers: [registry] });
  }

  registerApi(router: Router): void {
    const query = z.object({ state: z.enum(['ok', 'warn', 'critical']).optional(), tenant: z.string().optional() });
    router.add(
      'GET',
      '/api/v1/indicators',
      ({ res, url, principal }) => {
        const filter = query.safeParse(Object.fromEntries(url.searchParams));
        if (!filter.success) return sendJson(res, 400, { error: 'state must be ok, warn or critical' });
        const tenant = tenantScope(principal, filter.data.tenant);
        if (tenant === 'forbidden') return sendJson(res, 403, { error: 'a tenant token reads only its own tenant' });
        const indicators = this.current().filter((i) => (!filter.data.state || i.state === filter.data.state) && (tenant === undefined || i.tenant === tenant));
        sendJson(res, 200, { at: new Date(this.deps.clock.now()).toISOString(), indicators });
      },
      { access: 'tenant' },
    );
  }
}
