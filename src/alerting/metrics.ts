// Outbox gauges on /metrics: pending notifications, the oldest pending one's age, and notifications by status.
import { Gauge, type Registry } from 'prom-client';
import { OUTBOX_STATUSES } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { AlertingStore } from './store.ts';

/**
 * The outbox as gauges read at scrape time: what waits per channel and for how
 * long (a receiver that is down shows as a growing backlog before anything
 * expires), and the rows kept per channel and status (failed and expired are
 * notifications nobody received). Configured channels show zeros, so a
 * dashboard has their series before the first notification.
 */
export function registerOutboxMetrics(
  registry: Registry,
  deps: { outbox: AlertingStore['outbox']; clock: Clock; channels: string[] },
): void {
  // The first registered gauge fills all three from one query: the registry collects in registration order.
  const pending: Gauge<'channel'> = new Gauge({
    name: 'scaiprobe_alert_outbox_pending',
    help: 'Alert notifications waiting to be delivered, per channel',
    labelNames: ['channel'],
    registers: [registry],
    collect: async () => {
      const groups = await deps.outbox.byChannel();
      const now = deps.clock.now();
      for (const gauge of [pending, oldest, rows]) gauge.reset();
      for (const channel of deps.channels) {
        pending.set({ channel }, 0);
        oldest.set({ channel }, 0);
        for (const status of OUTBOX_STATUSES) rows.set({ channel, status }, 0);
      }
      for (const group of groups) {
        rows.set({ channel: group.channel, status: group.status }, group.count);
        if (group.status !== 'pending') continue;
        pending.set({ channel: group.channel }, group.count);
        oldest.set({ channel: group.channel }, Math.max(0, now - group.oldestCreatedAt) / 1000);
      }
    },
  });
  const oldest = new Gauge({
    name: 'scaiprobe_alert_outbox_oldest_pending_seconds',
    help: 'Age of the oldest alert notification still waiting, per channel (0 when none waits)',
    labelNames: ['channel'],
    registers: [registry],
  });
  const rows = new Gauge({
    name: 'scaiprobe_alert_outbox_notifications',
    help: 'Alert notifications kept in the outbox (store.retention.outbox) by channel and status: pending, delivered, failed, expired',
    labelNames: ['channel', 'status'],
    registers: [registry],
  });
}
