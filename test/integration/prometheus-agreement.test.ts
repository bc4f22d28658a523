import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir } from '../../src/lab/processes.ts';
import { prometheusKind } from '../../src/probers/prometheus.ts';
import type { Measurement } from '../../src/core/probe.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { evaluateAssertions } from '../../src/core/assertions.ts';
import { makeProber, probeOnce, specFor } from '../helpers/probe-run.ts';
import { startPrometheus, type PrivatePrometheus } from '../helpers/prometheus-server.ts';
import { ODD_PATHS, startSyntheticExporter, type SyntheticExporter } from '../helpers/synthetic-exporter.ts';

/**
 * The kind beside a real Prometheus, both scraping one synthetic exporter
 * every second: after a window's worth of scrapes, every rate, increase and
 * quantile of the kind is compared with Prometheus's answer to the same
 * PromQL at the same instant (the kind's own scrape time) over the same
 * window. The window holds a counter reset, a series that vanishes and
 * returns while counting, and a shift of the histogram's distribution.
 */

const WINDOW_S = 30;
/** Seconds after both scrapers run at which the exporter's events happen and the comparisons are made. */
// Every event falls inside every compared window ([T - 30 s, T]), none close to a window's edge.
const EVENTS = { resetAt: 19, hideFrom: 17, hideTo: 25, shiftAt: 21 };
const COMPARE_AT = [32, 35, 38, 41, 44];
const TOLERANCE = 0.1;

/** A label value as a PromQL double-quoted string (the escapes the kind must honour). */
function promqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

const share = `rate${WINDOW_S}s(lab_requests_total{status=~"5.."}) / rate${WINDOW_S}s(lab_requests_total)`;
const w = `[${WINDOW_S}s]`;
/** The kind's expression and the PromQL that means the same. */
const PAIRS: Array<[string, string]> = [
  [`rate${WINDOW_S}s(lab_requests_total)`, `sum(rate(lab_requests_total${w}))`],
  [`rate${WINDOW_S}s(lab_requests_total{status=~"5.."})`, `sum(rate(lab_requests_total{status=~"5.."}${w}))`],
  [`increase${WINDOW_S}s(lab_requests_total{status="503"})`, `sum(increase(lab_requests_total{status="503"}${w}))`],
  [share, `sum(rate(lab_requests_total{status=~"5.."}${w})) / sum(rate(lab_requests_total${w}))`],
  [`rate${WINDOW_S}s(lab_jobs_total)`, `sum(rate(lab_jobs_total${w}))`],
  [`increase${WINDOW_S}s(lab_jobs_total)`, `sum(increase(lab_jobs_total${w}))`],
  ...ODD_PATHS.map(({ value }): [string, string] => [
    `rate${WINDOW_S}s(lab_odd_total{path=${promqlString(value)}})`,
    `sum(rate(lab_odd_total{path=${promqlString(value)}}${w}))`,
  ]),
  [
    `rate${WINDOW_S}s(lab_odd_total{path=~"line1\\nline2|c:\\\\\\\\temp"})`,
    `sum(rate(lab_odd_total{path=~"line1\\nline2|c:\\\\\\\\temp"}${w}))`,
  ],
  [`rate${WINDOW_S}s(lab_odd_total{path=~"ün. ☃"})`, `sum(rate(lab_odd_total{path=~"ün. ☃"}${w}))`],
  [
    `rate${WINDOW_S}s(lab_odd_total{path=~"(?i)TAB\\\\sHERE"})`,
    `sum(rate(lab_odd_total{path=~"(?i)TAB\\\\sHERE"}${w}))`,
  ],
  // `.` does not match a newline in Prometheus 2: nothing matches, in both.
  [
    `rate${WINDOW_S}s(lab_odd_total{path=~"line1.line2"})`,
    `sum(rate(lab_odd_total{path=~"line1.line2"}${w})) or vector(0)`,
  ],
  ...[0.5, 0.9, 0.99].map((q): [string, string] => [
    `p${q * 100}_${WINDOW_S}s(lab_latency_seconds)`,
    `histogram_quantile(${q}, sum by (le) (rate(lab_latency_seconds_bucket${w}))) * 1000`,
  ]),
];
const THRESHOLD = `${share} < 0.5%`;

interface Comparison {
  format: string;
  expr: string;
  at: number;
  kind: number | null;
  prometheus: number | null;
}

let temp: { dir: string; remove: () => Promise<void> } | undefined;
let exporter: SyntheticExporter | undefined;
let prometheus: PrivatePrometheus | undefined;

before(async () => {
  temp = await makeTempDir('scaiprobe-prom-agreement-');
  exporter = await startSyntheticExporter();
  prometheus = await startPrometheus(temp.dir, `127.0.0.1:${exporter.port}`);
});

after(async () => {
  await prometheus?.stop();
  await exporter?.close();
  await temp?.remove();
});

const sleepUntil = (t: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

/** The kind's evaluation time: its last scrape, which its state ends with. */
function evaluatedAt(run: Measurement): number {
  const last = (run.state as { scrapes: Array<{ t: number }> }).scrapes.at(-1);
  assert.ok(last, 'the run kept its scrape');
  return last.t;
}

function relativeDifference(kind: number | null, reference: number | null): number {
  if (kind === null || reference === null) return kind === reference ? 0 : Number.POSITIVE_INFINITY;
  if (reference === 0) return kind === 0 ? 0 : Number.POSITIVE_INFINITY;
  return Math.abs(kind - reference) / Math.abs(reference);
}

describe('prometheus kind beside a real Prometheus', () => {
  test('rates, increases and quantiles agree within 10 % over resets, a vanishing series and unusual labels', async (t) => {
    assert.ok(exporter && prometheus);
    const prom = prometheus;
    // Prometheus picks a new target up within about five seconds; start the clock at its first scrape.
    const deadline = Date.now() + 20_000;
    while ((await prom.lastScrape()) === null) {
      assert.ok(Date.now() < deadline, `Prometheus never scraped the exporter:\n${prom.process.output()}`);
      await sleepUntil(Date.now() + 200);
    }
    const origin = Date.now();
    const toExporter = (seconds: number) => (origin - exporter!.startedAt) / 1000 + seconds;
    exporter.timeline = {
      resetAt: toExporter(EVENTS.resetAt),
      hideFrom: toExporter(EVENTS.hideFrom),
      hideTo: toExporter(EVENTS.hideTo),
      shiftAt: toExporter(EVENTS.shiftAt),
    };

    const record = PAIRS.map(([kind]) => kind);
    const openMetrics = specFor(prometheusKind, { url: exporter.url, warmup: '500ms', record }, [THRESHOLD]);
    const text = specFor(
      prometheusKind,
      { url: exporter.url, warmup: '500ms', record, headers: { accept: 'text/plain;version=0.0.4' } },
      [THRESHOLD],
    );
    const probers: Array<{ format: string; prober: Prober; state: unknown }> = [
      { format: 'OpenMetrics', prober: makeProber(prometheusKind, openMetrics), state: undefined },
      { format: 'text 0.0.4', prober: makeProber(prometheusKind, text), state: undefined },
    ];

    const comparisons: Array<Promise<Comparison[]>> = [];
    const thresholdResults: boolean[] = [];
    const last = COMPARE_AT.at(-1) ?? 0;
    for (let second = 0; second <= last; second++) {
      await sleepUntil(origin + second * 1000);
      const runs = await Promise.all(probers.map((p) => probeOnce(p.prober, { previousState: p.state })));
      runs.forEach((run, index) => {
        const entry = probers[index];
        if (!entry) return;
        entry.state = run.state;
        if (second > WINDOW_S)
          thresholdResults.push(...evaluateAssertions(openMetrics.expect, run.observations).map((o) => o.ok));
        if (COMPARE_AT.includes(second)) comparisons.push(compare(prom, entry.format, run));
      });
    }
    const results = (await Promise.all(comparisons)).flat();

    assert.ok(exporter.served.openMetrics > 0 && exporter.served.text > 0, 'both formats were scraped');
    assert.equal(await prom.scalar('up', Date.now()), 1, 'Prometheus read every page');
    const worst = new Map<string, Comparison & { difference: number }>();
    for (const result of results) {
      const difference = relativeDifference(result.kind, result.prometheus);
      const key = `${result.format}  ${result.expr}`;
      if (!worst.has(key) || difference > (worst.get(key)?.difference ?? 0)) worst.set(key, { ...result, difference });
    }
    for (const [key, w] of worst) {
      const when = ((w.at - origin) / 1000).toFixed(1);
      t.diagnostic(
        `${(w.difference * 100).toFixed(2).padStart(6)} %  worst of ${COMPARE_AT.length} (at ${when} s)  ${key}  kind ${w.kind}, Prometheus ${w.prometheus}`,
      );
    }
    const failures = [...worst].filter(([, w]) => !(w.difference <= TOLERANCE));
    assert.deepEqual(
      failures.map(([key, w]) => `${key}: kind ${w.kind} vs Prometheus ${w.prometheus}`),
      [],
      'every value within 10 % of Prometheus',
    );
    assert.equal(results.length, COMPARE_AT.length * PAIRS.length * probers.length);
    assert.ok(
      thresholdResults.length > 0 && thresholdResults.every(Boolean),
      `the manual's 5xx-share threshold never pages (${thresholdResults.filter((ok) => !ok).length} false pages)`,
    );
  });
});

/** Waits until Prometheus has stored a scrape after the kind's, then asks it every pair's PromQL at the kind's instant. */
async function compare(prom: PrivatePrometheus, format: string, run: Measurement): Promise<Comparison[]> {
  const at = evaluatedAt(run);
  const deadline = Date.now() + 10_000;
  while (((await prom.lastScrape()) ?? 0) <= at) {
    if (Date.now() > deadline) throw new Error('Prometheus stopped scraping');
    await sleepUntil(Date.now() + 100);
  }
  return Promise.all(
    PAIRS.map(async ([expr, promql]) => ({
      format,
      expr,
      at,
      kind: run.observations[expr] as number | null,
      prometheus: await prom.scalar(promql, at),
    })),
  );
}
