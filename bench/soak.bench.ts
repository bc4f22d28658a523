/**
 * Soak: the whole daemon (`scaiprobe run` as its own process, as deployed) for
 * a long time at a steady load, watching for memory that grows and an event
 * loop that stalls. Load: `--rate` http probes a minute against a local
 * server — most pass, some fail for good (HTTP 500, connection refused, a
 * timeout), some flap every few minutes — with an alert rule whose webhook
 * receiver answers 503 to every fifth request (so the outbox retries).
 *
 * Every `--sample` it reads the daemon's RSS from /proc and its event-loop
 * lag p99 from /metrics (`nodejs_eventloop_lag_p99_seconds`,
 * which covers the time since the previous scrape). It prints RSS growth
 * after the warm-up (target < 10 %) and the event-loop lag p99 (target < 50 ms),
 * beside the same figure of an idle Node process run alongside at the same
 * priority (bench/lag-control.ts): what the machine alone does to a loop.
 *
 *   node --import tsx bench/soak.bench.ts [--duration 1h] [--rate 5000] [--sample 10s] [--warmup 10m] [--daemon-node-options "--cpu-prof"]
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/lab/processes.ts';
import { parseDuration } from '../src/core/duration.ts';
import { DAEMON_V8_FLAGS } from '../bin/daemon-v8-flags.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '1h' },
    rate: { type: 'string', default: '5000' },
    sample: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '10m' },
    // Extra node flags for the daemon only, e.g. "--cpu-prof --cpu-prof-dir=bench/results".
    'daemon-node-options': { type: 'string', default: '' },
  },
});
const duration = parseDuration(values.duration ?? '1h') ?? 3_600_000;
const rate = Number(values.rate ?? 5000);
const sampleEvery = parseDuration(values.sample ?? '10s') ?? 10_000;
// A short run (a try-out) keeps a third of its time as warm-up.
const warmup = Math.min(parseDuration(values.warmup ?? '10m') ?? 600_000, duration / 3);
const TOKEN = 'soak-bench-token-0123456789';
const FLAP_PERIOD_MS = 3 * 60_000;

const repo = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(repo, 'bench', 'results');

interface Sample {
  at: number;
  rssMb: number;
  heapMb: number | undefined;
  lagP99Ms: number | undefined;
  /** The longest single delay since the previous scrape: one long stall hides below a window's p99. */
  lagMaxMs: number | undefined;
  runs: number | undefined;
}

/** The targets: /ok passes, /fail answers 500, /slow answers after the probe's timeout, /flap/<i> alternates. */
function targetHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  if (url === '/ok') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ready"}');
  } else if (url === '/fail') {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"status":"broken"}');
  } else if (url === '/slow') {
    setTimeout(() => {
      res.writeHead(200);
      res.end('late');
    }, 3_000);
  } else if (url.startsWith('/flap/')) {
    const offset = Number(url.slice(6)) * 7_919;
    const down = Math.floor((Date.now() + offset) / FLAP_PERIOD_MS) % 2 === 1;
    res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' });
    res.end(down ? '{"status":"down"}' : '{"status":"ready"}');
  } else {
    res.writeHead(404);
    res.end();
  }
}

function probeConfig(targets: string, closedPort: number): string {
  const failing = Math.max(1, Math.round(rate * 0.005));
  const flapping = Math.max(1, Math.round(rate * 0.01));
  const lines: string[] = [];
  for (let i = 0; i < rate; i++) {
    if (i < failing) lines.push(`  - { name: fail-500-${i}, kind: http, url: "${targets}/fail" }`);
    else if (i < 2 * failing)
      lines.push(`  - { name: fail-refused-${i}, kind: http, url: "http://127.0.0.1:${closedPort}/" }`);
    else if (i < 3 * failing)
      lines.push(`  - { name: fail-slow-${i}, kind: http, url: "${targets}/slow", timeout: 2s }`);
    else if (i < 3 * failing + flapping)
      lines.push(
        `  - { name: flap-${i}, kind: http, url: "${targets}/flap/${i}", expect: [status == 200, json.status == "ready"] }`,
      );
    else
      lines.push(
        `  - { name: ok-${i}, kind: http, url: "${targets}/ok", expect: [status == 200, json.status == "ready", { that: "latency < 1s", soft: true }] }`,
      );
  }
  return lines.join('\n');
}

function readRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

function metricSum(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    total = (total ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Lateness quantile from the cumulative histogram buckets (the bucket's upper bound). */
function histogramQuantile(text: string, name: string, q: number): number | undefined {
  const buckets: Array<{ le: number; count: number }> = [];
  for (const match of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) {
    buckets.push({ le: match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]), count: Number(match[2]) });
  }
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  return buckets.find((b) => b.count >= q * total)?.le;
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const mean = (list: number[]) => list.reduce((a, b) => a + b, 0) / list.length;

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  const num = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const den = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/**
 * /health four times a second for the whole soak: the daemon's responsiveness
 * seen from outside. The daemon's own lag metric cannot see a stall that
 * follows its scrape (the histogram is reset by the scrape, and the first delay
 * after a reset is not recorded), which is where the heaviest work used to be.
 */
function watchResponsiveness(api: string): { stop(): number[] } {
  const times: number[] = [];
  let running = true;
  void (async () => {
    while (running) {
      const started = performance.now();
      const ok = await fetch(`${api}/health`).then(
        async (r) => r.ok && (await r.text()).length > 0,
        () => false,
      );
      if (ok) times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    stop() {
      running = false;
      return times;
    },
  };
}

/** A person reading a probe's history while the daemon works: each call timed from request to last byte. */
const API_CALLS = [
  // The floor: what any request waits for while the daemon's loop is busy with runs.
  { label: 'health', path: () => '/health' },
  {
    label: 'runs, summary, 1 h',
    path: (i: number) => `/api/v1/probes/ok-${i}/runs?fields=summary&since=1h&limit=1000`,
  },
  { label: 'runs, whole, last 100', path: (i: number) => `/api/v1/probes/ok-${i}/runs?limit=100` },
  { label: 'state changes, 1 h', path: () => `/api/v1/state-changes?since=1h&limit=1000` },
];

async function timeApiCalls(api: string, round: number, times: Map<string, number[]>): Promise<void> {
  // Any passing probe's history: they all have one by now, and the reads move around the table.
  const probe = 3 * Math.max(1, Math.round(rate * 0.005)) + Math.max(1, Math.round(rate * 0.01)) + ((round * 37) % 100);
  for (const call of API_CALLS) {
    const started = performance.now();
    const ok = await fetch(`${api}${call.path(probe)}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
      async (r) => r.ok && (await r.arrayBuffer()).byteLength > 0,
      () => false,
    );
    if (!ok) continue;
    const list = times.get(call.label) ?? [];
    list.push(performance.now() - started);
    times.set(call.label, list);
  }
}

async function main(): Promise<void> {
  const targets = createServer(targetHandler);
  await new Promise<void>((resolve) => targets.listen(0, '127.0.0.1', resolve));
  const targetUrl = `http://127.0.0.1:${(targets.address() as AddressInfo).port}`;
  let hooks = 0;
  let hooksRefused = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hooks++;
      // Every fifth request fails, so notifications go through the outbox's retries.
      const refuse = hooks % 5 === 0;
      if (refuse) hooksRefused++;
      res.writeHead(refuse ? 503 : 200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const closedPort = await freePort();
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;

  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-soak-'));
  const config = join(dir, 'soak.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}", token: "\${SOAK_TOKEN}" }
store: { path: "${join(dir, 'soak.db')}" }
scheduler: { concurrency: 64, jitter: 10% }
log: { level: info }
defaults: { every: 1m, timeout: 5s }
alerts:
  channels:
    - { name: soak-hook, type: webhook, url: "${hookUrl}", secret: "\${SOAK_HOOK_SECRET}" }
  rules:
    - { name: probe-failing, probes: ['fail-*', 'flap-*'], failures: 2, window: 3, successes: 2, repeat: 10m, channels: [soak-hook] }
  delivery: { initialBackoff: 1s, maxBackoff: 30s }
probes:
${probeConfig(targetUrl, closedPort)}
`,
  );

  mkdirSync(resultsDir, { recursive: true });
  const logPath = join(resultsDir, `soak-daemon-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const log = createWriteStream(logPath);
  const daemon = spawn(
    process.execPath,
    [
      ...DAEMON_V8_FLAGS,
      ...(values['daemon-node-options'] ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      'src/cli/main.ts',
      'run',
      '--config',
      config,
    ],
    {
      cwd: repo,
      env: { ...process.env, SOAK_TOKEN: TOKEN, SOAK_HOOK_SECRET: 'soak-webhook-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  daemon.stdout.pipe(log);
  daemon.stderr.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve((exitCode = code))));
  const pid = daemon.pid;
  if (pid === undefined) throw new Error('the daemon did not start');

  const readyBy = Date.now() + 60_000;
  while (
    !(await fetch(`${api}/ready`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (exitCode !== undefined) throw new Error(`the daemon exited with ${exitCode}; see ${logPath}`);
    if (Date.now() > readyBy) throw new Error(`the daemon was not ready within 60 s; see ${logPath}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // The control: an idle process measuring its own loop the same way, for the whole soak.
  const control = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/lag-control.ts', '--duration', `${duration}ms`, '--sample', `${sampleEvery}ms`],
    { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const controlLags: number[] = [];
  control.stdout.setEncoding('utf8');
  control.stdout.on('data', (chunk: string) => {
    for (const match of chunk.matchAll(/lag p99 ([\d.]+) ms/g)) controlLags.push(Number(match[1]));
  });
  process.stderr.write(
    `soak: ${rate} probes a minute for ${duration / 1000}s, warm-up ${warmup / 1000}s, daemon pid ${pid}, log ${logPath}\n`,
  );

  const start = Date.now();
  const responsiveness = watchResponsiveness(api);
  const samples: Sample[] = [];
  const apiTimes = new Map<string, number[]>();
  let lastMetrics = '';
  // Sampling on the wall clock's grid, so a slow scrape does not shift the next one.
  for (let next = start + sampleEvery; next <= start + duration; next += sampleEvery) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - Date.now())));
    const rssMb = readRssMb(pid);
    const text = await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
      (r) => r.text(),
      () => '',
    );
    if (text) lastMetrics = text;
    const lag = metricSum(text, 'nodejs_eventloop_lag_p99_seconds');
    const lagMax = metricSum(text, 'nodejs_eventloop_lag_max_seconds');
    const heap = metricSum(text, 'nodejs_heap_size_used_bytes');
    const sample: Sample = {
      at: Date.now() - start,
      rssMb,
      heapMb: heap === undefined ? undefined : heap / 1024 / 1024,
      lagP99Ms: lag === undefined ? undefined : lag * 1000,
      lagMaxMs: lagMax === undefined ? undefined : lagMax * 1000,
      runs: metricSum(text, 'scaiprobe_probe_runs_total'),
    };
    samples.push(sample);
    await timeApiCalls(api, samples.length, apiTimes);
    process.stderr.write(
      `${(sample.at / 1000).toFixed(0)}s rss ${rssMb.toFixed(1)} MB, heap ${sample.heapMb?.toFixed(1) ?? '?'} MB, lag p99 ${sample.lagP99Ms?.toFixed(1) ?? '?'} ms, max ${sample.lagMaxMs?.toFixed(1) ?? '?'} ms, runs ${sample.runs ?? '?'}\n`,
    );
  }

  const healthTimes = responsiveness.stop().sort((a, b) => a - b);
  daemon.kill('SIGTERM');
  control.kill('SIGTERM');
  const code = await exited;
  log.end();
  targets.closeAllConnections();
  targets.close();
  receiver.close();
  rmSync(dir, { recursive: true, force: true });

  const afterWarmup = samples.filter((s) => s.at >= warmup);
  // RSS is a sawtooth (it swings by a fifth between collections), so growth compares the mean of
  // the first and the last ten minutes after the warm-up, and a least-squares slope says the trend.
  const windowMs = Math.min(600_000, (duration - warmup) / 3);
  const baseline = afterWarmup.filter((s) => s.at < warmup + windowMs).map((s) => s.rssMb);
  const final = afterWarmup.filter((s) => s.at > duration - windowMs).map((s) => s.rssMb);
  const growth = (mean(final) / mean(baseline) - 1) * 100;
  const heapOf = (list: Sample[]) => mean(list.map((s) => s.heapMb).filter((v): v is number => v !== undefined));
  const heapGrowth =
    (heapOf(afterWarmup.filter((s) => s.at > duration - windowMs)) /
      heapOf(afterWarmup.filter((s) => s.at < warmup + windowMs)) -
      1) *
    100;
  const slopeMbPerHour = slope(afterWarmup.map((s) => [s.at, s.rssMb])) * 3_600_000;
  const lags = samples
    .map((s) => s.lagP99Ms)
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  const first = samples.find((s) => s.runs !== undefined && s.at >= warmup);
  const last = samples.at(-1);
  const runsPerMin =
    first?.runs !== undefined && last?.runs !== undefined && last.at > first.at
      ? ((last.runs - first.runs) / (last.at - first.at)) * 60_000
      : Number.NaN;
  const latenessP99 = histogramQuantile(lastMetrics, 'scaiprobe_scheduler_lateness_seconds', 0.99);

  console.log(
    `\nsoak: the daemon at ${rate} probes a minute for ${(duration / 60_000).toFixed(0)} min, sampled every ${sampleEvery / 1000}s (targets: RSS growth after ${(warmup / 60_000).toFixed(0)} min < 10 %, event-loop lag p99 < 50 ms)`,
  );
  console.table([
    {
      'runs/min': Math.round(runsPerMin),
      [`RSS first ${windowMs / 60_000} min MB`]: mean(baseline).toFixed(1),
      [`RSS last ${windowMs / 60_000} min MB`]: mean(final).toFixed(1),
      'RSS max MB': Math.max(...afterWarmup.map((s) => s.rssMb)).toFixed(1),
      'RSS growth %': growth.toFixed(1),
      'RSS trend MB/h': slopeMbPerHour.toFixed(1),
      'heap growth %': heapGrowth.toFixed(1),
      'lag p99 median ms': quantile(lags, 0.5).toFixed(1),
      'lag p99 worst 10 s ms': (lags.at(-1) ?? Number.NaN).toFixed(1),
      'lag p99 p99 of windows ms': quantile(lags, 0.99).toFixed(1),
      'lag max, worst window ms': Math.max(...samples.map((s) => s.lagMaxMs ?? 0)).toFixed(1),
      'idle process lag p99 median / worst ms': `${quantile(
        controlLags.sort((a, b) => a - b),
        0.5,
      ).toFixed(1)} / ${(controlLags.at(-1) ?? Number.NaN).toFixed(1)}`,
      'lateness p99 ≤ s': latenessP99 ?? '?',
      'webhook requests': hooks,
      'webhook 503s': hooksRefused,
      'exit code': code,
    },
  ]);
  console.log(
    `/health every 250 ms from outside: ${healthTimes.length} answered, p50 ${quantile(healthTimes, 0.5).toFixed(1)} ms, p99 ${quantile(healthTimes, 0.99).toFixed(1)} ms, p99.9 ${quantile(healthTimes, 0.999).toFixed(1)} ms, max ${(healthTimes.at(-1) ?? Number.NaN).toFixed(1)} ms, over 100 ms: ${healthTimes.filter((t) => t > 100).length}`,
  );
  console.log('API calls during the soak, one of each per sample (target p99 < 50 ms):');
  console.table(
    API_CALLS.map(({ label }) => {
      const sorted = (apiTimes.get(label) ?? []).sort((a, b) => a - b);
      return {
        call: label,
        answered: sorted.length,
        'p50 ms': quantile(sorted, 0.5).toFixed(1),
        'p99 ms': quantile(sorted, 0.99).toFixed(1),
        'max ms': (sorted.at(-1) ?? Number.NaN).toFixed(1),
      };
    }),
  );
  console.log(
    `RSS growth ${growth < 10 ? 'within' : 'OVER'} target; lag p99 (worst window) ${(lags.at(-1) ?? Infinity) < 50 ? 'within' : 'OVER'} target. Daemon log: ${logPath}`,
  );
}

await main();
