// The indicators on /metrics: value and state gauges filled at scrape time.
import { Gauge, type Registry } from 'prom-client';
import type { Indicator } from '../indicators/compute.ts';

export const STATE_VALUE = { ok: 0, warn: 1, critical: 2 } as const;

/** Gauges filled at scrape time: value and state (0 ok, 1 warn, 2 critical) per indicator. */
export function registerIndicatorMetrics(registry: Registry, indicators: () => Indicator[]): void {
  // The first registered gauge fills both: the registry serializes in registration order.
  const value: Gauge<'id' | 'name' | 'subject'> = new Gauge({
    name: 'scaiprobe_indicator_value',
    help: 'Indicator value (ratios as fractions, durations in ms)',
    labelNames: ['id', 'name', 'subject'],
    registers: [registry],
    collect: () => {
      value.reset();
      state.reset();
      for (const indicator of indicators()) {
        const labels = { id: indicator.id, name: indicator.name, subject: indicator.subject };
        state.set(labels, STATE_VALUE[indicator.state]);
        if (indicator.value !== null) value.set(labels, indicator.value);
      }
    },
  });
  const state = new Gauge({ name: 'scaiprobe_indicator_state', help: 'Indicator state: 0 ok, 1 warn, 2 critical', labelNames: ['id', 'name', 'subject'], registers: [registry] });
}
