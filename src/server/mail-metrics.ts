// Mail placement metrics on /metrics, from the mail kind's items.
import { Counter, Gauge, type Registry } from 'prom-client';
import { MAIL_MESSAGE_ITEM } from '../core/items.ts';
import type { RunRecord } from '../store/types.ts';
import { textOf } from '../util/text.ts';

/** Placements as metric labels: a folder name of its own (`other:Updates`) would make the set unbounded. */
export const PLACEMENTS = ['inbox', 'spam', 'other', 'missing'] as const;

function placementOf(value: unknown): (typeof PLACEMENTS)[number] {
  const text = typeof value === 'string' ? value : 'missing';
  if (text.startsWith('other:')) return 'other';
  return (PLACEMENTS as readonly string[]).includes(text) ? (text as (typeof PLACEMENTS)[number]) : 'other';
}

/**
 * Where each seed's probe message landed and how long it took, from the items
 * mail probes record (one per seed per run). Labels are bounded: probe and
 * seed names come from the configuration, placements from a fixed set.
 */
export class MailMetrics {
  private readonly placement: Gauge<'probe' | 'seed' | 'provider' | 'placement'>;
  private readonly placements: Counter<'probe' | 'seed' | 'provider' | 'placement'>;
  private readonly timeToInbox: Gauge<'probe' | 'seed' | 'provider'>;

  constructor(registry: Registry) {
    const labelNames = ['probe', 'seed', 'provider', 'placement'] as const;
    this.placement = new Gauge({
      name: 'scaiprobe_mail_placement',
      help: "1 for where the seed's latest probe message landed (inbox, spam, other, missing), 0 for the other placements",
      labelNames,
      registers: [registry],
    });
    this.placements = new Counter({
      name: 'scaiprobe_mail_placements_total',
      help: 'Probe messages by seed and where they landed',
      labelNames,
      registers: [registry],
    });
    this.timeToInbox = new Gauge({
      name: 'scaiprobe_mail_time_to_inbox_seconds',
      help: "Time from the send's acceptance to the message in the seed's inbox, latest run (absent while it did not reach the inbox)",
      labelNames: ['probe', 'seed', 'provider'],
      registers: [registry],
    });
  }

  observeRun(run: RunRecord): void {
    for (const item of run.items) {
      if (item.type !== MAIL_MESSAGE_ITEM) continue;
      const seed = textOf(item.data.seed);
      const labels = { probe: run.probe, seed, provider: textOf(item.data.provider) };
      const landed = placementOf(item.data.placement);
      for (const placement of PLACEMENTS) this.placement.set({ ...labels, placement }, placement === landed ? 1 : 0);
      this.placements.inc({ ...labels, placement: landed });
      const ms = item.data.timeToInboxMs;
      if (typeof ms === 'number') this.timeToInbox.set(labels, ms / 1000);
      else this.timeToInbox.remove(labels);
    }
  }
}
