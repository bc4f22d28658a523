/**
 * Scheduler + store at scale: N http probes spread over their interval against
 * a local server, through the real engine (runner, assertions, SQLite store).
 * The interval is time-compressed: `--every 60s --duration 120s` is the real
 * thing; the default runs 1,000 and 5,000 probes each on a 60 s interval for
 * 2 minutes, so 5,000 probes a minute is the actual load.
 *
 *   node --import tsx bench/scheduler.bench.ts [--probes 1000,5000] [--every 60s] [--duration 120s]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { DAEMON_V8_FLAGS } from '../bin/daemon-v8-flags.js';
import pino from 'pino';
import { Engine } from '../src/runner/engine.ts';
import { Scheduler } from '../src/runner/scheduler.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { createHttpClient } from '../src/protocols/http/client.ts';
import { Redactor } from '../src/util/redact.ts';
import { systemClock } from '../src/util/clock.ts';
import { parseDuration } from '../src/core/duration.ts';
import type { ProbeSpec } from '../src/config/load.ts';

const { values } = parseArgs({
  options: {
    probes: { type: 'string', default: '1000,5000' },
    every: { type: 'string', default: '60s' },
    duration: { type: 'string', default: '120s' },
    /** `daemon`: V8 heap settings as the daemon runs (bin/daemon-v8-flags.js); `v8`: V8's defaults; `both`. */
    heap: { type: 'string', default: 'daemon' },
  },
});
const every = parseDuration(values.every ?? '60s') ?? 60_000;
const duration = parseDuration(values.duration ?? '120s') ?? 120_000;

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

async function measure(count: number) {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ready"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`;
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-bench-'));
  const store = new SqliteStore(join(dir, 'bench.db'), systemClock);
  const logger = pino({ level: 'silent' });
  const probes: ProbeSpec[] = Array.from({ length: count }, (_, i) => ({
    name: `probe-${i}`,
    kind: 'http',
    url,
    method: 'GET',
    headers: {},
    redirects: 0,
    maxBodyBytes: 65536,
    every,
    timeout: 5000,
    retries: 0,
    retryDelay: 1000,
    tags: [],
    expect: [
      { expr: 'status == 200', soft: false },
      { expr: 'json.status == "ready"', soft: false },
    ],
    file: 'bench',
  }));
  const engine = new Engine(probes, {
    clock: systemClock,
    logger,
    http: createHttpClient(),
    redactor: new Redactor([]),
    store,
  });
  const lateness: number[] = [];
  let failures = 0;
  const reasons = new Map<string, number>();
  engine.onRun((run) => {
    if (run.status === 'pass') return;
    failures++;
    const reason = run.error?.code ?? run.message.slice(0, 60);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  });
  const scheduler = new Scheduler({
    probes,
    concurrency: 256,
    jitter: 0.1,
    clock: systemClock,
    logger,
    execute: async (name, late) => {
      lateness.push(Math.max(0, late));
      await engine.run(name);
    },
  });
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  let peakRss = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  }, 250);
  scheduler.start();
  await new Promise((resolve) => setTimeout(resolve, duration));
  (globalThis as { gc?: () => void }).gc?.();
  const liveHeap = process.memoryUsage().heapUsed;
  await scheduler.stop();
  clearInterval(sampler);
  const wall = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const rows = (store.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
  await engine.close();
  store.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  if (reasons.size > 0)
    process.stderr.write(`runs that did not pass, by reason: ${JSON.stringify(Object.fromEntries(reasons))}\n`);
  const sorted = lateness.sort((a, b) => a - b);
  return {
    probes: count,
    runs: rows,
    failures,
    'runs/min': Math.round((rows / wall) * 60),
    'late p50 ms': quantile(sorted, 0.5).toFixed(1),
    'late p99 ms': quantile(sorted, 0.99).toFixed(1),
    'late max ms': (sorted.at(-1) ?? Number.NaN).toFixed(1),
    'CPU %': (((cpu.user + cpu.system) / 1e6 / wall) * 100).toFixed(0),
    'CPU s': ((cpu.user + cpu.system) / 1e6).toFixed(1),
    'runs/CPU-s': Math.round(rows / ((cpu.user + cpu.system) / 1e6)),
    'peak RSS MB': (peakRss / 1024 / 1024).toFixed(0),
    'peak heap MB': (peakHeap / 1024 / 1024).toFixed(0),
    'live heap MB': (liveHeap / 1024 / 1024).toFixed(0),
    'rows/s': (rows / wall).toFixed(0),
  };
}

// Each size runs in its own process, so one size's memory does not count against the next.
const counts = (values.probes ?? '1000,5000').split(',').map(Number);
if (counts.length === 1 && process.env.SCAIPROBE_BENCH_CHILD === '1') {
  process.stdout.write(`${JSON.stringify(await measure(counts[0] ?? 1000))}\n`);
} else {
  const results = [];
  const heaps = values.heap === 'both' ? ['daemon', 'v8'] : [values.heap ?? 'daemon'];
  for (const count of counts)
    for (const heap of heaps) {
      process.stderr.write(`running ${count} probes every ${every}ms for ${duration}ms, ${heap} heap settings...\n`);
      const child = spawnSync(
        process.execPath,
        [
          ...(heap === 'daemon' ? DAEMON_V8_FLAGS : []),
          '--expose-gc',
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--probes',
          String(count),
          '--every',
          values.every ?? '60s',
          '--duration',
          values.duration ?? '120s',
        ],
        {
          env: { ...process.env, SCAIPROBE_BENCH_CHILD: '1' },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      results.push({ heap, ...JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') });
    }
  console.log(
    `\nscheduler + store (load average ${loadavg()[0]?.toFixed(1)}), interval ${every / 1000}s, ${duration / 1000}s per row, each row in a fresh process (target: 5,000 probes/min, lateness p99 < 100 ms, RSS < 200 MB)`,
  );
  console.table(results);
}
