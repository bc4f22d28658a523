// Storage benchmark: bytes per stored run, and a year of one-minute runs under the shipped retention.
//   node --import tsx bench/store.bench.ts [--part bytes|year|maintenance|all] [--probes 100] [--full-days 15] [--maintenance-probes 5000]
// 1. bytes: 20 http probes run through the real engine against a local health endpoint; the database's growth per run.
// 2. year: 100 http probes, one run a minute, a year ending now, written through SqliteStore.recordRuns with maintenance
//    (rollups and retention) every simulated hour, flapping probes with alerts firing and resolving, and
//    notifications in the outbox. The first days run at 2 runs per probe-hour: retention prunes their raw runs
//    anyway, and what they leave (hourly rollups, state changes, notifications) has the shape a minute cadence
//    gives; the last --full-days run at the full cadence. Then the database size, and the API's latency at that size.
// 3. maintenance: --maintenance-probes one-minute probes, two hours of runs; the hourly rollup, and the prune of an
//    hour of runs at steady state, timed done at once (what the daemon did) and in steps (the longest step: how long
//    the event loop is held).
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config/load.ts';
import { Engine } from '../src/runner/engine.ts';
import { createHttpClient } from '../src/protocols/http/client.ts';
import { Redactor } from '../src/util/redact.ts';
import { ManualClock, systemClock } from '../src/util/clock.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import type { RunRecord } from '../src/store/types.ts';
import { DEFAULT_RETENTION } from '../src/store/retention.ts';
import { startDaemonServer } from '../src/server/server.ts';
import { ProbeMetrics } from '../src/server/metrics.ts';
import { RunEvents } from '../src/server/events.ts';
import { registerStatusPage } from '../src/server/routes/status-page.ts';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'all' },
    probes: { type: 'string', default: '100' },
    days: { type: 'string', default: '365' },
    'full-days': { type: 'string', default: '15' },
    'maintenance-probes': { type: 'string', default: '5000' },
  },
});
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-bench-store-'));

function databaseBytes(store: SqliteStore, path: string): number {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  return statSync(path).size;
}

// ---- 1. bytes per passing run, through the engine ---------------------------------------------

async function bytesPerRun(): Promise<void> {
  const body = JSON.stringify({
    status: 'ready',
    checks: { database: 'ok', redis: 'ok', pdns: 'ok' },
    version: '1.4.2',
  });
  const target = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(target.address() as { port: number }).port}`;
  const probes = 20;
  const file = join(dir, 'bytes.yaml');
  writeFileSync(
    file,
    `probes:\n${Array.from({ length: probes }, (_, i) => `  - { name: api-${i}, kind: http, url: "${url}/health/ready", every: 1s, expect: ['status == 200', 'json.status == "ready"'] }`).join('\n')}\n`,
  );
  const config = loadConfig(file, {});
  const path = join(dir, 'bytes.db');
  const store = new SqliteStore(path, systemClock);
  const engine = new Engine(config.probes, {
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    http: createHttpClient(),
    redactor: new Redactor(config.secrets),
    store,
  });
  const round = () => Promise.all(config.probes.map((p) => engine.run(p.name)));
  for (let i = 0; i < 5; i++) await round();
  const before = databaseBytes(store, path);
  const rounds = 150;
  for (let i = 0; i < rounds; i++) await round();
  const perRun = (databaseBytes(store, path) - before) / (rounds * probes);
  const sample = store.runs.list('api-0', { limit: 1 })[0];
  console.table([
    {
      what: `passing http run through the engine (${probes} probes, ${rounds * probes} runs)`,
      'bytes per run': perRun.toFixed(0),
      target: '≤ 200',
    },
    { what: 'the same run as JSON (what the API answers)', 'bytes per run': JSON.stringify(sample).length, target: '' },
  ]);
  await engine.close();
  store.close();
  target.close();
}

// ---- 2. a year ---------------------------------------------------------------------------------

interface Flap {
  probe: number;
  from: number;
  to: number;
}

function httpRun(probe: number, startedAt: number, failing: boolean): RunRecord {
  const latency = Math.round((18 + ((startedAt / MIN + probe * 7) % 53) * 0.731 + (probe % 5) * 10) * 100) / 100;
  const date = new Date(startedAt + Math.round(latency)).toUTCString();
  const base = `https://api-${probe}.example.test/health/ready`;
  if (failing) {
    const body = '{"status":"degraded","checks":{"database":"ok","redis":"timeout","pdns":"ok"}}';
    return {
      uid: (startedAt * 128 + probe).toString(16).slice(-12).padStart(12, '0'),
      probe: `probe-${probe}`,
      kind: 'http',
      tenant: `tenant-${probe % 10}`,
      startedAt,
      durationMs: latency,
      status: 'fail',
      attempts: 1,
      message: `HTTP 503 in ${Math.round(latency)}ms; degraded: redis: timeout — failed: status == 200 (got 503)`,
      error: null,
      observations: {
        status: 503,
        latency,
        url: base,
        redirects: 0,
        'body.size': body.length,
        'headers.content-type': 'application/json',
        'headers.date': date,
        body,
        'json.status': 'degraded',
        'json.checks.redis': 'timeout',
        'json.valid': true,
      },
      assertions: [{ expr: 'status == 200', ok: false, actual: 503, soft: false }],
      phases: { total: latency },
      items: [],
    };
  }
  const body = '{"status":"ready","checks":{"database":"ok","redis":"ok","pdns":"ok"},"version":"1.4.2"}';
  return {
    uid: (startedAt * 128 + probe).toString(16).slice(-12).padStart(12, '0'),
    probe: `probe-${probe}`,
    kind: 'http',
    tenant: `tenant-${probe % 10}`,
    startedAt,
    durationMs: Math.round((latency + 0.4) * 100) / 100,
    status: 'pass',
    attempts: 1,
    message: `HTTP 200 in ${Math.round(latency)}ms`,
    error: null,
    observations: {
      status: 200,
      latency,
      'latency.firstByte': Math.round(latency * 80) / 100,
      url: base,
      redirects: 0,
      'body.size': body.length,
      'latency.dns': Math.round(latency * 4) / 100,
      'latency.connect': Math.round(latency * 20) / 100,
      'latency.tls': Math.round(latency * 30) / 100,
      'headers.content-type': 'application/json',
      'headers.content-length': String(body.length),
      'headers.date': date,
      'headers.connection': 'keep-alive',
      'headers.strict-transport-security': 'max-age=31536000',
      body,
      'json.status': 'ready',
      'json.checks.database': 'ok',
      'json.checks.redis': 'ok',
      'json.checks.pdns': 'ok',
      'json.version': '1.4.2',
      'json.valid': true,
      'cert.daysLeft': 60 - Math.floor((startedAt / DAY) % 60),
      'cert.validTo': '2026-03-01T00:00:00.000Z',
      'cert.subject': `api-${probe}.example.test`,
      'cert.trusted': true,
    },
    assertions: [
      { expr: 'status == 200', ok: true, actual: 200, soft: false },
      { expr: 'json.status == "ready"', ok: true, actual: 'ready', soft: false },
    ],
    phases: {
      dns: Math.round(latency * 4) / 100,
      connect: Math.round(latency * 20) / 100,
      tls: Math.round(latency * 30) / 100,
      firstByte: Math.round(latency * 80) / 100,
      total: latency,
    },
    items: [],
  };
}

/** Every day one probe in ten fails for 3 to 12 minutes (at a time fixed by the day and probe). */
function flapsOf(day: number, probes: number): Flap[] {
  const flaps: Flap[] = [];
  for (let p = day % 10; p < probes; p += 10) {
    const from = day * DAY + (((day * 7919 + p * 104_729) % 1380) + 30) * MIN;
    flaps.push({ probe: p, from, to: from + (3 + ((day + p) % 10)) * MIN });
  }
  return flaps;
}

function recordAlerts(store: SqliteStore, flap: Flap, start: number): void {
  const at = (t: number) => start + t;
  const subject = `alert:probe-down:probe-${flap.probe}`;
  const tenant = `tenant-${flap.probe % 10}`;
  store.stateChanges.record({
    probe: `probe-${flap.probe}`,
    tenant,
    subject,
    from: 'ok',
    to: 'firing',
    at: at(flap.from + 2 * MIN),
    runId: null,
    message: `critical: probe-${flap.probe} failing`,
  });
  store.stateChanges.record({
    probe: `probe-${flap.probe}`,
    tenant,
    subject,
    from: 'firing',
    to: 'resolved',
    at: at(flap.to + MIN),
    runId: null,
    message: `critical: probe-${flap.probe} failing`,
  });
  const insert = store.db
    .prepare(`INSERT INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at, attempts, status, last_status, finished_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'delivered', 200, ?)`);
  for (const [event, t] of [
    ['firing', at(flap.from + 2 * MIN)],
    ['resolved', at(flap.to + MIN)],
  ] as const) {
    for (const channel of ['pagerduty', 'ops-webhook']) {
      const body = JSON.stringify({
        event,
        alert: {
          id: `a${flap.probe}`,
          rule: 'probe-down',
          target: `probe-${flap.probe}`,
          severity: 'critical',
          summary: `probe-${flap.probe} failing: HTTP 503`,
          startedAt: at(flap.from),
          labels: { probe: `probe-${flap.probe}`, kind: 'http', tenant },
        },
      });
      insert.run(`a${flap.probe}-${event}-${t}`, `a${flap.probe}`, channel, event, body, t, t + DAY, t, t + 300);
    }
  }
}

async function year(): Promise<void> {
  const probes = Number(values.probes);
  const fullDays = Number(values['full-days']);
  const days = Number(values.days);
  const end = Math.floor(Date.now() / MIN) * MIN;
  const start = end - days * DAY;
  const clock = new ManualClock(start);
  const path = join(dir, 'year.db');
  const store = new SqliteStore(path, clock);
  store.probes.sync(
    Array.from({ length: probes }, (_, p) => ({
      name: `probe-${p}`,
      kind: 'http',
      tenant: `tenant-${p % 10}`,
      tags: ['prod'],
    })),
  );
  const began = performance.now();
  const cpu = process.cpuUsage();
  let runs = 0;
  let maintenanceMs = 0;
  const maintain = (at: number) => {
    clock.set(at);
    const t = performance.now();
    store.maintain(DEFAULT_RETENTION);
    maintenanceMs += performance.now() - t;
  };
  for (let day = 0; day < days; day++) {
    const full = day >= days - fullDays;
    const every = full ? MIN : 30 * MIN;
    const flaps = flapsOf(day, probes);
    // One transaction per simulated hour: the bulk path (the daemon commits each run as it finishes).
    for (let hour = 0; hour < 24; hour++) {
      const batch: RunRecord[] = [];
      for (let t = day * DAY + hour * HOUR; t < day * DAY + (hour + 1) * HOUR; t += every) {
        for (let p = 0; p < probes; p++) {
          const failing = flaps.some((f) => f.probe === p && t >= f.from && t < f.to);
          batch.push(httpRun(p, start + t + ((p * 587) % 50_000), failing));
        }
        // At 30-minute steps a flap would be missed: its failing runs are written at their own minutes.
        if (!full)
          for (const flap of flaps)
            if (flap.from >= t && flap.from < t + every)
              for (let f = flap.from; f < flap.to; f += MIN) batch.push(httpRun(flap.probe, start + f + 1000, true));
      }
      batch.sort((a, b) => a.startedAt - b.startedAt);
      const hourEnd = start + day * DAY + (hour + 1) * HOUR;
      clock.set(hourEnd);
      store.runs.recordAll(batch);
      runs += batch.length;
      // The daemon maintains every 5 minutes; hourly here (every 6 hours while fast-forwarding) prunes the same rows in larger steps.
      if (full || (hour + 1) % 6 === 0) maintain(hourEnd);
    }
    for (const flap of flaps) recordAlerts(store, flap, start);
    if (day % 30 === 0 || day === days - 1)
      process.stderr.write(
        `  day ${day + 1}/${days}: ${runs.toLocaleString()} runs, ${(databaseBytes(store, path) / 1e6).toFixed(0)} MB\n`,
      );
  }
  maintain(end);
  const writeSeconds = (performance.now() - began) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const size = databaseBytes(store, path);
  const count = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n.toLocaleString();
  const kept = {
    runs: count('SELECT count(*) AS n FROM run_log'),
    rollups: count('SELECT count(*) AS n FROM rollups'),
    changes: count('SELECT count(*) AS n FROM state_changes'),
    outbox: count('SELECT count(*) AS n FROM alert_outbox'),
  };
  const tables = sizesByTable(store);
  const quickStarted = performance.now();
  const quick = store.db.pragma('quick_check', { simple: true });
  const quickMs = performance.now() - quickStarted;
  const api = await apiLatency(store, probes);
  store.close();

  console.log(
    `\nA year of one-minute http runs for ${probes} probes (shipped retention: raw ${DEFAULT_RETENTION.raw / DAY}d, hourly ${DEFAULT_RETENTION.hourly / DAY}d, state changes ${DEFAULT_RETENTION.stateChanges / DAY}d, outbox ${DEFAULT_RETENTION.outbox / DAY}d)`,
  );
  console.table([
    { what: 'database size after a year', value: `${(size / 1e6).toFixed(0)} MB`, target: '< 300 MB' },
    { what: 'runs written (last days at 1/min)', value: runs.toLocaleString(), target: '' },
    { what: 'runs kept (raw retention)', value: kept.runs, target: '' },
    { what: 'hourly rollups kept', value: kept.rollups, target: '' },
    { what: 'state changes kept', value: kept.changes, target: '' },
    { what: 'notifications kept', value: kept.outbox, target: '' },
    {
      what: 'write time (wall / CPU)',
      value: `${writeSeconds.toFixed(0)} s / ${cpuSeconds.toFixed(0)} s (maintenance ${(maintenanceMs / 1000).toFixed(0)} s)`,
      target: '',
    },
    { what: 'PRAGMA quick_check', value: `${String(quick)} in ${quickMs.toFixed(0)} ms`, target: '' },
  ]);
  console.table(tables);
  console.log(
    `\nAPI at that size (sequential requests over loopback; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs):`,
  );
  console.table(api);
}

function sizesByTable(store: SqliteStore): Array<{ table: string; MB: string; rows?: string }> {
  try {
    const rows = store.db
      .prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 8')
      .all() as Array<{ name: string; bytes: number }>;
    const free =
      (store.db.pragma('freelist_count', { simple: true }) as number) *
      (store.db.pragma('page_size', { simple: true }) as number);
    return [
      ...rows.map((row) => ({ table: row.name, MB: (row.bytes / 1e6).toFixed(1) })),
      { table: '(free pages)', MB: (free / 1e6).toFixed(1) },
    ];
  } catch {
    return [{ table: '(dbstat is not compiled in)', MB: '' }];
  }
}

interface ApiRow {
  endpoint: string;
  p50: string;
  p99: string;
  max: string;
  /** Server and client together: they share this process. */
  'CPU/request': string;
  bytes: number;
}

async function apiLatency(store: SqliteStore, probes: number): Promise<ApiRow[]> {
  const server = await startDaemonServer({
    listen: '127.0.0.1:0',
    store,
    metrics: new ProbeMetrics(),
    logger: pino({ level: 'silent' }),
    isReady: () => true,
  });
  const events = new RunEvents({ clock: systemClock, logger: pino({ level: 'silent' }), maxClients: 10 });
  registerStatusPage(server.router, store, events);
  const endpoints = [
    '/api/v1/probes',
    '/api/v1/probes/probe-{p}',
    '/api/v1/probes/probe-{p}/runs',
    '/api/v1/probes/probe-{p}/runs?since=1d&limit=1440&fields=summary',
    '/api/v1/probes/probe-{p}/runs?since=1d&limit=1440',
    '/api/v1/status?n=60',
    '/api/v1/state-changes?since=30d',
  ];
  const rows: ApiRow[] = [];
  const all: number[] = [];
  for (const endpoint of endpoints) {
    const times: number[] = [];
    let bytes = 0;
    const cpu = process.cpuUsage();
    const requests = 300;
    for (let i = 0; i < requests; i++) {
      const path = endpoint.replace('{p}', String((i * 37) % probes));
      const t = performance.now();
      const response = await fetch(`${server.url}${path}`);
      const text = await response.text();
      times.push(performance.now() - t);
      if (!response.ok) throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
      bytes = text.length;
    }
    const used = process.cpuUsage(cpu);
    all.push(...times);
    rows.push({
      endpoint,
      ...percentiles(times),
      'CPU/request': `${((used.user + used.system) / 1000 / requests).toFixed(1)} ms`,
      bytes,
    });
  }
  rows.push({ endpoint: 'all of the above', ...percentiles(all), 'CPU/request': '', bytes: 0 });
  events.close();
  await server.close();
  return rows;
}

// ---- 3. maintenance: an hour's rollup and an hour's prune, at once and in steps ----------------------------

/** A store with `probes` one-minute probes over two hours from `start`. */
function twoHoursOfRuns(name: string, probes: number, start: number, clock: ManualClock): SqliteStore {
  const store = new SqliteStore(join(dir, `${name}.db`), clock);
  for (let minute = 0; minute < 120; minute++) {
    const batch: RunRecord[] = [];
    for (let p = 0; p < probes; p++) {
      const run = httpRun(p, start + minute * MIN + ((p * 587) % 50_000), p % 50 === 0);
      batch.push({ ...run, uid: (minute * 1_000_000 + p).toString(16).padStart(12, '0') });
    }
    clock.set(start + (minute + 1) * MIN);
    store.runs.recordAll(batch);
  }
  return store;
}

/** Runs `steps`, timing each; returns the total and the longest. */
function timeSteps<T>(steps: Generator<void, T>): { total: number; longest: number; count: number } {
  let longest = 0;
  let count = 0;
  const begun = performance.now();
  for (;;) {
    const t = performance.now();
    const step = steps.next();
    longest = Math.max(longest, performance.now() - t);
    if (step.done) break;
    count++;
  }
  return { total: performance.now() - begun, longest, count };
}

async function maintenance(): Promise<void> {
  const probes = Number(values['maintenance-probes']);
  const start = Math.floor(Date.UTC(2026, 0, 1) / HOUR) * HOUR;
  const clocks = { once: new ManualClock(start), steps: new ManualClock(start) };
  const once = twoHoursOfRuns('once', probes, start, clocks.once);
  const steps = twoHoursOfRuns('steps', probes, start, clocks.steps);
  const rows: Array<Record<string, string | number>> = [];
  // The first hour is rolled up 10 minutes after it ends; a year of rollups and runs already sits beside it.
  const phases = [
    { what: `rollup of an hour (${String(probes)} series)`, at: start + HOUR + 11 * MIN, raw: DEFAULT_RETENTION.raw },
    { what: 'prune of an hour of runs + rollup of the next', at: start + 2 * HOUR + 11 * MIN, raw: HOUR + 11 * MIN },
  ];
  for (const phase of phases) {
    const retention = { ...DEFAULT_RETENTION, raw: phase.raw };
    clocks.once.set(phase.at);
    clocks.steps.set(phase.at);
    const t = performance.now();
    const done = once.maintain(retention);
    const atOnce = performance.now() - t;
    const stepped = timeSteps(steps.maintenanceSteps(retention));
    rows.push({
      maintenance: phase.what,
      'runs pruned': done.runsPruned,
      'at once ms': atOnce.toFixed(0),
      'in steps: total ms': stepped.total.toFixed(0),
      steps: stepped.count + 1,
      'longest step ms': stepped.longest.toFixed(1),
    });
  }
  once.close();
  steps.close();
  console.log(
    `\nmaintenance at ${String(probes)} one-minute probes (${String(cpus().length)} CPUs, load ${loadavg()[0]?.toFixed(2) ?? '?'})`,
  );
  console.table(rows);
}

function percentiles(times: number[]): { p50: string; p99: string; max: string } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return {
    p50: `${at(0.5).toFixed(1)} ms`,
    p99: `${at(0.99).toFixed(1)} ms`,
    max: `${(sorted.at(-1) ?? 0).toFixed(1)} ms`,
  };
}

try {
  if (values.part === 'bytes' || values.part === 'all') await bytesPerRun();
  if (values.part === 'year' || values.part === 'all') await year();
  if (values.part === 'maintenance' || values.part === 'all') await maintenance();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
