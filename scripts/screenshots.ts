// Makes the README's screenshots (docs/images/): starts the daemon on the shipped configuration with its
// lab and a throw-away database, waits until every probe has run, then photographs the status page and
// tenant-a's report with Chromium. Run with `npm run screenshots` (about two minutes).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SharedBrowser } from '../src/util/chromium.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const base = 'http://127.0.0.1:9464';
const out = join(root, 'docs', 'images');

/** The shipped configuration, with the database moved into a temporary folder. */
function stageConfig(work: string): string {
  const config = join(work, 'probes');
  cpSync(join(root, 'probes'), config, { recursive: true });
  const health = join(config, 'health.yaml');
  const text = readFileSync(health, 'utf8').replace(/path: data\/scaiprobe\.db/, `path: ${join(work, 'scaiprobe.db')}`);
  writeFileSync(health, text);
  return config;
}

async function statusCounts(): Promise<{ pending: number; all: number; fail: number } | undefined> {
  try {
    const response = await fetch(`${base}/api/v1/status?limit=1`);
    if (!response.ok) return undefined;
    return ((await response.json()) as { counts: { pending: number; all: number; fail: number } }).counts;
  } catch {
    return undefined;
  }
}

/** Waits until the daemon answers and no probe is still waiting for its first run. */
async function untilEveryProbeRan(deadline: number): Promise<void> {
  for (;;) {
    const counts = await statusCounts();
    if (counts && counts.all > 0 && counts.pending === 0) {
      console.log(`every probe has run: ${counts.all} probes, ${counts.fail} failing`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`probes still pending after the wait: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function photograph(): Promise<void> {
  const browser = new SharedBrowser();
  try {
    const context = await browser.context({ viewport: { width: 1200, height: 820 }, colorScheme: 'light' });
    const page = await context.newPage();
    // The status page keeps an event stream open, so "loaded" is when its table has rows.
    await page.goto(`${base}/`, { waitUntil: 'load' });
    await page.waitForSelector('tr[data-probe]');
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(out, 'status-page.png') });
    await page.goto(`${base}/api/v1/tenants/tenant-a/report?since=1d&format=html`, { waitUntil: 'networkidle' });
    await page.waitForTimeout(1500); // charts animate in
    await page.screenshot({ path: join(out, 'report.png') });
    await context.close();
  } finally {
    await browser.close();
  }
}

const work = mkdtempSync(join(tmpdir(), 'scaiprobe-screenshots-'));
const daemon = spawn(
  process.execPath,
  ['--import', 'tsx', 'src/cli/main.ts', 'run', '--lab', '--dir', join(work, 'lab'), '--config', stageConfig(work)],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
);
try {
  mkdirSync(out, { recursive: true });
  await untilEveryProbeRan(Date.now() + 180_000);
  await new Promise((resolve) => setTimeout(resolve, 20_000)); // a few more runs, so the charts have points
  await photograph();
  console.log(`wrote ${join('docs', 'images', 'status-page.png')} and ${join('docs', 'images', 'report.png')}`);
} finally {
  daemon.kill('SIGTERM');
  await new Promise((resolve) => daemon.once('exit', resolve));
  rmSync(work, { recursive: true, force: true });
}
