// Tenant report and status page benchmark (issue 7).
//   node --import tsx bench/report.bench.ts [--screenshots DIR]
// 1. A 30-day report for a tenant with 10 seeds probed every 10 minutes: time to JSON, HTML and PDF (cold and warm browser).
// 2. The status page with 5,000 probes (30 runs each): size of the first API response and time to first render in Chromium.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import type { RunStatus } from '../src/store/types.ts';
import { systemClock } from '../src/util/clock.ts';
import { SharedBrowser } from '../src/util/chromium.ts';
import { buildReport } from '../src/reports/model.ts';
import { loadChartJs, renderReportHtml } from '../src/reports/html.ts';
import { renderReportPdf } from '../src/reports/pdf.ts';
import { startDaemonServer } from '../src/server/server.ts';
import { ProbeMetrics } from '../src/server/metrics.ts';
import { RunEvents } from '../src/server/events.ts';
import { registerStatusPage } from '../src/server/routes/status-page.ts';
import { seedMonth, run } from '../test/helpers/report-seed.ts';

const { values } = parseArgs({ options: { screenshots: { type: 'string' } } });
const rows: Array<[string, string, string]> = [];
const time = async <T>(fn: () => T | Promise<T>): Promise<[T, number]> => {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
};
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-bench-report-'));
const browser = new SharedBrowser();
try {
  // --- report -----------------------------------------------------------
  const now = Date.now();
  const store = new SqliteStore(join(dir, 'report.db'), systemClock);
  const [items, seedMs] = await time(() =>
    seedMonth(store, { tenant: 'acme', seeds: 10, everyMs: 10 * 60_000, days: 30, now }),
  );
  rows.push(['seed database', `${items} mail.message items (4,320 runs)`, fmt(seedMs)]);
  const request = { tenant: 'acme', since: now - 30 * 86_400_000, until: now };
  const chartJs = loadChartJs();
  const modelTimes: number[] = [];
  const htmlTimes: number[] = [];
  let html = '';
  for (let i = 0; i < 3; i++) {
    const [model, modelMs] = await time(() => buildReport(store, request, {}, now));
    const [text, htmlMs] = await time(() => renderReportHtml(model, chartJs));
    modelTimes.push(modelMs);
    htmlTimes.push(modelMs + htmlMs);
    html = text;
  }
  rows.push(['report model (JSON)', 'median of 3', fmt(modelTimes.sort((a, b) => a - b)[1] ?? 0)]);
  rows.push([
    'report to HTML (model + render)',
    `median of 3, ${(html.length / 1024).toFixed(0)} KiB`,
    fmt(htmlTimes.sort((a, b) => a - b)[1] ?? 0),
  ]);
  const [, coldPdf] = await time(async () =>
    renderReportPdf(renderReportHtml(buildReport(store, request, {}, now), chartJs), browser),
  );
  rows.push(['report to PDF, cold browser', 'includes Chromium launch', fmt(coldPdf)]);
  const warm: number[] = [];
  let pdfSize = 0;
  for (let i = 0; i < 3; i++) {
    const [pdf, ms] = await time(async () =>
      renderReportPdf(renderReportHtml(buildReport(store, request, {}, now), chartJs), browser),
    );
    warm.push(ms);
    pdfSize = pdf.length;
  }
  rows.push([
    'report to PDF, warm browser',
    `median of 3, ${(pdfSize / 1024).toFixed(0)} KiB (target < 3000 ms)`,
    fmt(warm.sort((a, b) => a - b)[1] ?? 0),
  ]);
  store.close();

  // --- status page ------------------------------------------------------
  const status = new SqliteStore(join(dir, 'status.db'), systemClock);
  const probes = Array.from({ length: 5000 }, (_, i) => ({
    name: `probe-${String(i).padStart(4, '0')}`,
    kind: i % 3 ? 'http' : 'dns',
    tags: [],
    ...(i % 10 === 0 ? { tenant: `tenant-${i % 7}` } : {}),
  }));
  const [, statusSeedMs] = await time(() => {
    status.probes.sync(probes);
    status.db.transaction(() => {
      for (let r = 0; r < 30; r++) {
        for (const [i, p] of probes.entries()) {
          const s: RunStatus =
            (i % 97 === 0 && r > 25) || (i + r) % 211 === 0 ? 'fail' : i % 53 === 0 ? 'warn' : 'pass';
          status.runs.record(
            run(p.name, p.kind, p.tenant, now - (30 - r) * 60_000, {
              status: s,
              durationMs: 20 + (i % 50),
              message: s === 'pass' ? '' : s === 'fail' ? 'status 503 (expected < 400)' : 'slow answer',
            }),
          );
        }
      }
    })();
  });
  rows.push(['seed status database', '5,000 probes × 30 runs', fmt(statusSeedMs)]);
  const server = await startDaemonServer({
    listen: '127.0.0.1:0',
    store: status,
    metrics: new ProbeMetrics(),
    logger: pino({ level: 'silent' }),
    isReady: () => true,
  });
  const events = new RunEvents({ clock: systemClock, logger: pino({ level: 'silent' }), maxClients: 100 });
  registerStatusPage(server.router, status, events);
  const [first, apiMs] = await time(async () =>
    (await fetch(`${server.url}/api/v1/status?limit=100&n=30&offset=0`)).text(),
  );
  rows.push([
    'first API response (/api/v1/status)',
    `${(Buffer.byteLength(first) / 1024).toFixed(1)} KiB, 100 of 5,000 probes with 30-run strips`,
    fmt(apiMs),
  ]);
  const context = await browser.context({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  let apiBytes = 0;
  page.on('response', async (response) => {
    if (response.url().includes('/api/v1/status')) apiBytes += (await response.body()).length;
  });
  const [, renderMs] = await time(async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-loaded="true"]');
  });
  const shell = (await (await fetch(`${server.url}/`)).text()).length;
  rows.push([
    'status page first render (5,000 probes)',
    `navigation to table drawn; shell ${(shell / 1024).toFixed(0)} KiB, API ${(apiBytes / 1024).toFixed(1)} KiB`,
    fmt(renderMs),
  ]);
  if (values.screenshots) {
    await page.screenshot({ path: join(values.screenshots, 'status-5000.png') });
  }
  await context.close();
  events.close();
  await server.close();
  status.close();
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}

const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]?.length ?? 0), 8));
const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ');
console.log(line(['measure', 'detail', 'time']));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
