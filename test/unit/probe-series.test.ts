// The per-probe /metrics families: the same text prom-client wrote, and a scrape of thousands of probes that lets the event loop turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, ProbeSeries } from '../../src/server/probe-series.ts';
import type { RunRecord } from '../../src/store/types.ts';

function runOf(
  probe: string,
  status: RunRecord['status'],
  durationMs: number,
  startedAt = 1_700_000_000_000,
): RunRecord {
  return {
    uid: `${probe}-${startedAt}-${durationMs}`,
    probe,
    kind: 'http',
    startedAt,
    durationMs,
    status,
    attempts: 1,
    message: '',
    error: null,
    observations: {},
    assertions: [],
    phases: {},
  } as unknown as RunRecord;
}

/** What prom-client wrote for the same runs, as the daemon's metrics were made before. */
async function promClientText(runs: RunRecord[], defaults: Record<string, string>): Promise<string> {
  const registry = new Registry();
  registry.setDefaultLabels(defaults);
  const registers = [registry];
  const success = new Gauge({
    name: 'scaiprobe_probe_success',
    help: '1 when the latest run passed or warned, 0 when it failed',
    labelNames: ['probe', 'kind'],
    registers,
  });
  const duration = new Histogram({
    name: 'scaiprobe_probe_duration_seconds',
    help: 'Duration of probe runs',
    labelNames: ['probe', 'kind'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const runsTotal = new Counter({
    name: 'scaiprobe_probe_runs_total',
    help: 'Probe runs by outcome',
    labelNames: ['probe', 'kind', 'status'],
    registers,
  });
  const lastRun = new Gauge({
    name: 'scaiprobe_probe_last_run_timestamp_seconds',
    help: 'When the latest run of each probe ended',
    labelNames: ['probe', 'kind'],
    registers,
  });
  for (const run of runs) {
    const labels = { probe: run.probe, kind: run.kind };
    success.set(labels, run.status === 'fail' ? 0 : 1);
    duration.observe(labels, run.durationMs / 1000);
    runsTotal.inc({ ...labels, status: run.status });
    lastRun.set(labels, (run.startedAt + run.durationMs) / 1000);
  }
  return registry.metrics();
}

/** A series line with its labels in name order: Prometheus reads labels in any order (prom-client itself puts default labels first in histograms, last elsewhere). */
function normalized(line: string): string {
  const match = /^([^{\s]+)\{(.*)\} (\S+)$/.exec(line);
  if (!match) return line;
  const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => m[0]).sort();
  return `${match[1]}{${labels.join(',')}} ${match[3]}`;
}

const sortedLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map(normalized)
    .sort();

test('the per-probe families carry the same series and values prom-client wrote, a location label and escaped names included', async () => {
  const runs = [
    runOf('api', 'pass', 12),
    runOf('api', 'fail', 4_000, 1_700_000_060_000),
    runOf('api', 'pass', 300, 1_700_000_120_000),
    runOf('say "hi"\\now', 'warn', 200_000),
    runOf('dns', 'pass', 5),
  ];
  for (const defaults of [{}, { location: 'eu-west' }]) {
    const series = new ProbeSeries();
    series.setExtraLabels(defaults);
    for (const run of runs) series.observe(run);
    assert.deepEqual(sortedLines(await series.render()), sortedLines(await promClientText(runs, defaults)));
  }
});

test("each family's lines are together, as the text format requires", async () => {
  const series = new ProbeSeries();
  for (const probe of ['a', 'b', 'c']) series.observe(runOf(probe, 'pass', 10));
  const families = (await series.render())
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.replace(/(_bucket|_sum|_count)?\{.*$/, ''));
  const runsOfNames = families.filter((name, i) => name !== families[i - 1]);
  assert.deepEqual(runsOfNames, [
    'scaiprobe_probe_success',
    'scaiprobe_probe_duration_seconds',
    'scaiprobe_probe_runs_total',
    'scaiprobe_probe_last_run_timestamp_seconds',
  ]);
});

test('a scrape of 5,000 probes lets the event loop turn while it is written', async () => {
  const series = new ProbeSeries();
  for (let i = 0; i < 5_000; i++) series.observe(runOf(`probe-${i}`, i % 50 === 0 ? 'fail' : 'pass', i % 900));
  let turns = 0;
  let turning = true;
  const turn = () => {
    turns++;
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  const text = await series.render();
  turning = false;
  assert.ok(turns >= 10, `the loop turned ${turns} times while 5,000 probes were written`);
  assert.equal(text.split('\n').filter((line) => line.startsWith('scaiprobe_probe_success{')).length, 5_000);
});
