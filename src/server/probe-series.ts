// The per-probe series of /metrics, kept compactly and written out in slices, so a scrape of thousands of probes never holds the event loop.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RunRecord } from '../store/types.ts';

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180];
const STATUSES = ['pass', 'warn', 'fail'] as const;
/** Probes written between two turns of the event loop: about a millisecond of work. */
const PROBES_PER_SLICE = 250;

/** One probe's series: its labels written once, its counts as numbers. */
interface ProbeState {
  /** `probe="…",kind="…"`, escaped. */
  labels: string;
  success: number;
  lastRun: number;
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
  runs: Record<(typeof STATUSES)[number], number>;
}

/** A label value as the Prometheus text format wants it. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/**
 * scaiprobe_probe_success, _duration_seconds, _runs_total and
 * _last_run_timestamp_seconds. prom-client builds every series of a histogram
 * as objects at each scrape: at 5,000 probes that was 75,000 series and up to
 * half a second of one uninterrupted task, during which no probe was started
 * nor any request answered. Here each probe holds a few numbers, and writing
 * yields to the event loop every few hundred probes.
 */
export class ProbeSeries {
  private readonly probes = new Map<string, ProbeState>();
  /** Labels every series carries after its own (a fleet agent's location), escaped, with a leading comma. */
  private extraLabels = '';

  setExtraLabels(labels: Record<string, string>): void {
    this.extraLabels = Object.entries(labels)
      .map(([name, value]) => `,${name}="${escapeLabel(value)}"`)
      .join('');
  }

  observe(run: RunRecord): void {
    const key = `${run.probe}\u0000${run.kind}`;
    let state = this.probes.get(key);
    if (!state) {
      state = {
        labels: `probe="${escapeLabel(run.probe)}",kind="${escapeLabel(run.kind)}"`,
        success: 0,
        lastRun: 0,
        buckets: new Float64Array(DURATION_BUCKETS.length + 1),
        sum: 0,
        count: 0,
        runs: { pass: 0, warn: 0, fail: 0 },
      };
      this.probes.set(key, state);
    }
    const seconds = run.durationMs / 1000;
    const bucket = DURATION_BUCKETS.findIndex((bound) => seconds <= bound);
    state.buckets[bucket === -1 ? DURATION_BUCKETS.length : bucket]! += 1;
    state.sum += seconds;
    state.count += 1;
    state.success = run.status === 'fail' ? 0 : 1;
    state.runs[run.status] += 1;
    state.lastRun = (run.startedAt + run.durationMs) / 1000;
  }

  /** The four families in the text format, whole. */
  async render(): Promise<string> {
    const parts: string[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return parts.join('');
  }

  /**
   * The four families in the text format, each family's lines together, a
   * slice of probes at a time with a turn of the event loop between slices
   * (a response can be written as it goes, never one string of megabytes).
   */
  async *chunks(): AsyncGenerator<string> {
    const probes = [...this.probes.values()];
    const families: Array<[string, string, string, (state: ProbeState) => string]> = [
      [
        'scaiprobe_probe_success',
        'gauge',
        '1 when the latest run passed or warned, 0 when it failed',
        (s) => `scaiprobe_probe_success{${s.labels}${this.extraLabels}} ${s.success}\n`,
      ],
      ['scaiprobe_probe_duration_seconds', 'histogram', 'Duration of probe runs', (s) => this.histogramLines(s)],
      ['scaiprobe_probe_runs_total', 'counter', 'Probe runs by outcome', (s) => this.runLines(s)],
      [
        'scaiprobe_probe_last_run_timestamp_seconds',
        'gauge',
        'When the latest run of each probe ended',
        (s) =>
          `scaiprobe_probe_last_run_timestamp_seconds{${s.labels}${this.extraLabels}} ${formatNumber(s.lastRun)}\n`,
      ],
    ];
    for (const [name, type, help, lines] of families) {
      let slice = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
      for (let i = 0; i < probes.length; i++) {
        if (i > 0 && i % PROBES_PER_SLICE === 0) {
          yield slice;
          slice = '';
          await nextTurn();
        }
        slice += lines(probes[i]!);
      }
      yield slice;
    }
  }

  private histogramLines(state: ProbeState): string {
    const labels = `${state.labels}${this.extraLabels}`;
    let cumulative = 0;
    let text = '';
    for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
      cumulative += state.buckets[i]!;
      const bound = i < DURATION_BUCKETS.length ? formatNumber(DURATION_BUCKETS[i]!) : '+Inf';
      text += `scaiprobe_probe_duration_seconds_bucket{le="${bound}",${labels}} ${cumulative}\n`;
    }
    return (
      text +
      `scaiprobe_probe_duration_seconds_sum{${labels}} ${formatNumber(state.sum)}\n` +
      `scaiprobe_probe_duration_seconds_count{${labels}} ${state.count}\n`
    );
  }

  /** Only the statuses the probe has had, as prom-client wrote them. */
  private runLines(state: ProbeState): string {
    let text = '';
    for (const status of STATUSES) {
      if (state.runs[status] > 0)
        text += `scaiprobe_probe_runs_total{${state.labels},status="${status}"${this.extraLabels}} ${state.runs[status]}\n`;
    }
    return text;
  }
}
