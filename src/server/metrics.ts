// The daemon's /metrics: probe success, durations, runs, last run time, scheduler lateness and store health.
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunRecord } from '../store/types.ts';
import type { StoreHealth } from '../store/run-writer.ts';
import { MailMetrics } from './mail-metrics.ts';
import { ProbeSeries } from './probe-series.ts';

/**
 * prom-client's gauges that end in `_total` (sums of the per-type gauges
 * beside them): Prometheus reserves the suffix for counters and
 * `promtool check metrics` flags them; `sum(nodejs_active_handles)` is the same number.
 */
const NON_COUNTER_TOTALS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * scaiprobe's own Prometheus metrics. Labels are bounded: probe names come
 * from the configuration, kinds and statuses from fixed sets.
 */
export class ProbeMetrics {
  readonly registry = new Registry();
  /** The per-probe families, outside prom-client: see ProbeSeries. */
  private readonly series = new ProbeSeries();
  private readonly lateness: Histogram;
  private readonly mail: MailMetrics;

  constructor() {
    // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes): what dashboards and alerts for any Node service query.
    collectDefaultMetrics({ register: this.registry });
    for (const name of NON_COUNTER_TOTALS) this.registry.removeSingleMetric(name);
    this.lateness = new Histogram({
      name: 'scaiprobe_scheduler_lateness_seconds',
      help: 'How late runs started against their schedule',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.mail = new MailMetrics(this.registry);
  }

  observeRun(run: RunRecord): void {
    this.series.observe(run);
    this.mail.observeRun(run);
  }

  /** Gauges read at scrape time: whether runs are being stored, how many wait in memory, how many were dropped. */
  watchStore(health: () => StoreHealth): void {
    const gauges: Array<[string, string, (h: StoreHealth) => number]> = [
      [
        'scaiprobe_store_writable',
        '1 while runs are being stored, 0 while the database refuses writes',
        (h) => (h.problem === undefined ? 1 : 0),
      ],
      ['scaiprobe_store_queued_runs', 'Runs waiting in memory for the database to take writes again', (h) => h.queued],
      [
        'scaiprobe_store_dropped_runs',
        'Runs given up since start (queue full, or refused for their content)',
        (h) => h.dropped,
      ],
    ];
    for (const [name, help, value] of gauges) {
      this.registry.removeSingleMetric(name);
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(value(health()));
        },
      });
    }
  }

  /** Labels on every series (a fleet agent's `location`). */
  setDefaultLabels(labels: Record<string, string>): void {
    this.registry.setDefaultLabels(labels);
    this.series.setExtraLabels(labels);
  }

  /** The whole /metrics text: prom-client's registry, then the per-probe families. */
  async render(): Promise<string> {
    const parts: string[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return parts.join('');
  }

  /** The /metrics text in pieces, to be written as they come: prom-client's registry, then the per-probe families a slice at a time. */
  async *chunks(): AsyncGenerator<string> {
    const registry = await this.registry.metrics();
    yield registry.endsWith('\n') ? registry : `${registry}\n`;
    yield* this.series.chunks();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeLateness(ms: number): void {
    this.lateness.observe(Math.max(0, ms) / 1000);
  }
}
