// Indicators over 30 days of one-minute series for 200 probes.
// Run: node --import tsx bench/indicators.bench.ts
import { computeIndicators, type IndicatorInputs } from '../src/indicators/compute.ts';
import { loadIndicatorInputs } from '../src/indicators/source.ts';
import { defaultIndicatorsConfig } from '../src/indicators/thresholds.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import type { RunRecord } from '../src/store/types.ts';
import { ManualClock } from '../src/util/clock.ts';
import { makeTempDir } from '../src/lab/processes.ts';
import type { Point } from '../src/indicators/trend.ts';

const MIN = 60_000;
const DAYS = 30;
const PROBES = 200;
const now = Date.UTC(2025, 1, 1);
const config = defaultIndicatorsConfig();

function series(seed: number, base: number, drift: number): Point[] {
  const n = DAYS * 1440;
  const out = new Array<Point>(n);
  for (let i = 0; i < n; i++)
    out[i] = { t: now - (n - i) * MIN, v: base + drift * i + ((i * 7919 + seed) % 100) * base * 0.002 };
  return out;
}

const inputs: IndicatorInputs = { now, stats: [], prometheus: [], queues: [], http: [], seeds: [], listings: [] };
for (let p = 0; p < PROBES; p++) {
  const kind = p % 4;
  if (kind === 0)
    inputs.stats.push({
      probe: `stats-${p}`,
      tenant: `t${p}`,
      bounceRate: series(p, 0.005, 1e-7),
      spamReportRate: series(p + 1, 0.0002, 0),
      deferralRate: series(p + 2, 0.01, 0),
    });
  else if (kind === 1)
    inputs.prometheus.push({
      probe: `prom-${p}`,
      errorShare: series(p, 0.001, 0),
      apiP99: series(p, 300, 0),
      pdnsP99: series(p, 50, 0),
    });
  else if (kind === 2) inputs.queues.push({ probe: `queue-${p}`, depth: series(p, 100, 0.001) });
  else
    inputs.http.push({
      probe: `http-${p}`,
      url: 'http://127.0.0.1:8000/v3/stats',
      role: 'read',
      failingSince: null,
      latency: series(p, 40, 0),
    });
}
const points =
  inputs.stats.length * 3 * DAYS * 1440 +
  inputs.prometheus.length * 3 * DAYS * 1440 +
  inputs.queues.length * DAYS * 1440 +
  inputs.http.length * DAYS * 1440;

function time<T>(fn: () => T, repeat: number): { ms: number; result: T } {
  let result = fn();
  const started = performance.now();
  for (let i = 0; i < repeat; i++) result = fn();
  return { ms: (performance.now() - started) / repeat, result };
}

const pure = time(() => computeIndicators(inputs, config), 5);

// The same through SQLite: one day of one-minute runs for 200 probes (288,000 runs), indicators read their windows from it.
const temp = await makeTempDir('scaiprobe-bench-ind-');
const clock = new ManualClock(now);
const store = new SqliteStore(`${temp.dir}/bench.db`, clock);
store.probes.sync(
  Array.from({ length: PROBES }, (_, p) => ({
    name: `probe-${p}`,
    kind: ['stats', 'queue', 'prometheus', 'http'][p % 4] ?? 'http',
    tenant: `t${p}`,
    tags: [],
  })),
);
const insertStarted = performance.now();
const runs: RunRecord[] = [];
for (let p = 0; p < PROBES; p++) {
  const kind = ['stats', 'queue', 'prometheus', 'http'][p % 4] ?? 'http';
  for (let i = 0; i < 1440; i++) {
    const observations: RunRecord['observations'] =
      kind === 'stats'
        ? { bounceRate: 0.005, spamReportRate: 0.0002, deferralRate: 0.01 }
        : kind === 'queue'
          ? { 'depth.total': 100 + i }
          : kind === 'prometheus'
            ? { 'p99(scaidns_http_request_duration_seconds)': 300 }
            : { latency: 40, url: 'http://x/v3/stats' };
    runs.push({
      uid: `u${p}-${i}`,
      probe: `probe-${p}`,
      kind,
      tenant: `t${p}`,
      startedAt: now - (1440 - i) * MIN,
      durationMs: 5,
      status: 'pass',
      attempts: 1,
      message: '',
      error: null,
      observations,
      assertions: [],
      phases: {},
      items: [],
    });
  }
}
store.runs.recordAll(runs);
const insertMs = performance.now() - insertStarted;
const viaStore = time(() => computeIndicators(loadIndicatorInputs(store, config, now), config), 3);
store.close();
await temp.remove();

console.table([
  {
    what: `compute, in memory: ${PROBES} probes x ${DAYS} days x 1/min (${(points / 1e6).toFixed(1)} M points)`,
    ms: pure.ms.toFixed(1),
    indicators: pure.result.length,
  },
  {
    what: `load windows from SQLite + compute: ${PROBES} probes, 288k runs stored`,
    ms: viaStore.ms.toFixed(1),
    indicators: viaStore.result.length,
  },
  { what: 'setup: storing the 288k runs (one transaction)', ms: insertMs.toFixed(0), indicators: '' },
]);
