// The indicators on /metrics: value, state and threshold gauges filled at scrape time.
import { Gauge, type Registry } from 'prom-client';
import type { Indicator } from '../indicators/compute.ts';

export const STATE_VALUE = { ok: 0, warn: 1, critical: 2 } as const;

/** Gauges filled at scrape time: value, state (0 ok, 1 warn, 2 critical) and thresholds per indicator; `warnAt` is the share of a threshold that warns. */
export function registerIndicatorMetrics(registry: Registry, indicators: () => Indicator[], warnAt: number): void {
  // The first registered gauge fills all three: the registry serializes in registration order.
  const value: Gauge<'id' | 'name' | 'subject'> = new Gauge({
    name: 'scaiprobe_indicator_value',
    help: 'Indicator value (ratios as fractions, durations in ms)',
    labelNames: ['id', 'name', 'subject'],
    registers: [registry],
    collect: () => {
      value.reset();
      state.reset();
      threshold.reset();
      for (const indicator of indicators()) {
        const labels = { id: indicator.id, name: indicator.name, subject: indicator.subject };
        state.set(labels, STATE_VALUE[indicator.state]);
        if (indicator.value !== null) value.set(labels, indicator.value);
        threshold.set({ ...labels, level: 'critical' }, indicator.threshold);
        threshold.set({ ...labels, level: 'warn' }, indicator.threshold * warnAt);
      }
    },
  });
  const state = new Gauge({
    name: 'scaiprobe_indicator_state',
    help: 'Indicator state: 0 ok, 1 warn, 2 critical',
    labelNames: ['id', 'name', 'subject'],
    registers: [registry],
  });
  // Beside the value, in its unit, so a dashboard draws the lines the state is judged against.
  const threshold = new Gauge({
    name: 'scaiprobe_indicator_threshold',
    help: 'Where an indicator turns critical (level="critical") and warns (level="warn", warnAt of it), in the unit of its value',
    labelNames: ['id', 'name', 'subject', 'level'],
    registers: [registry],
  });
}
