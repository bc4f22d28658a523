/**
 * The cost of an HTTP probe: scaiprobe's whole path (engine, http kind,
 * assertions, redaction, the SQLite store) beside Prometheus's
 * blackbox_exporter doing the probe alone through its /probe endpoint. Both
 * make the same check — a GET on a fresh connection, status 200 and
 * `"status":"ready"` in the body — against one target served by its own
 * process (so neither tool pays for the server). Each tool runs flat out with a
 * fixed number of probes in flight; the figure that matters is probes per
 * CPU-second of the tool itself (for blackbox_exporter: the exporter's CPU, not
 * that of the client driving it).
 *
 *   node --import tsx bench/http.bench.ts [--seconds 10] [--concurrency 32] [--probes 1000] [--tools scaiprobe,blackbox]
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Engine } from '../src/runner/engine.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { createHttpClient } from '../src/protocols/http/client.ts';
import { Redactor } from '../src/util/redact.ts';
import { systemClock } from '../src/util/clock.ts';
import type { ProbeSpec } from '../src/config/load.ts';
import { freePort, startProcess, waitForPort } from '../src/lab/processes.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '32' },
    probes: { type: 'string', default: '1000' },
    tools: { type: 'string', default: 'scaiprobe,blackbox' },
  },
});
const TOOLS = new Set((values.tools ?? '').split(','));
const SECONDS = Number(values.seconds);
const IN_FLIGHT = Number(values.concurrency);
const PROBES = Number(values.probes);
const WARM_UP_SECONDS = 2;

const cpuOfPid = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 1/100 s
};

interface PhaseResult {
  probes: number;
  failures: number;
  wall: number;
  /** CPU seconds of the tool itself. */
  cpu: number;
  /** CPU seconds the target server spent. */
  serverCpu: number;
}

/** The target, in its own process: prints its port, then answers every request like a readiness endpoint. */
async function startTarget(): Promise<{ url: string; pid: number; stop(): void }> {
  const code = `const s = require('node:http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'application/json' }); r.end('{"status":"ready"}'); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  if (child.pid === undefined) throw new Error('the target did not start');
  return { url: `http://127.0.0.1:${chunk.toString().trim()}/ready`, pid: child.pid, stop: () => child.kill() };
}

/** Keeps `inFlight` workers busy until `seconds` have passed; returns the wall time. */
async function flatOut(
  seconds: number,
  inFlight: number,
  work: (worker: number, iteration: number) => Promise<void>,
): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      for (let i = 0; performance.now() < end; i++) await work(worker, i);
    }),
  );
  return (performance.now() - start) / 1000;
}

async function scaiprobe(url: string, serverPid: number): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-httpbench-'));
  const store = new SqliteStore(join(dir, 'bench.db'), systemClock);
  const probes: ProbeSpec[] = Array.from({ length: PROBES }, (_, i) => ({
    name: `probe-${i}`,
    kind: 'http',
    url,
    method: 'GET',
    headers: {},
    redirects: 0,
    maxBodyBytes: 65536,
    every: 60_000,
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
    logger: pino({ level: 'info' }),
    http: createHttpClient(),
    redactor: new Redactor([]),
    store,
  });
  let runs = 0;
  let failures = 0;
  // Each worker takes its own probes, so no probe runs twice at once (as under the scheduler).
  const phase = async (seconds: number) =>
    flatOut(seconds, IN_FLIGHT, async (worker, i) => {
      const run = await engine.run(`probe-${(worker + i * IN_FLIGHT) % PROBES}`);
      runs++;
      if (run.status !== 'pass') failures++;
    });
  try {
    await phase(WARM_UP_SECONDS);
    runs = 0;
    failures = 0;
    const cpuBefore = process.cpuUsage();
    const serverBefore = cpuOfPid(serverPid);
    const wall = await phase(SECONDS);
    const cpu = process.cpuUsage(cpuBefore);
    return {
      probes: runs,
      failures,
      wall,
      cpu: (cpu.user + cpu.system) / 1e6,
      serverCpu: cpuOfPid(serverPid) - serverBefore,
    };
  } finally {
    await engine.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function blackbox(url: string, serverPid: number): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-httpbench-bbe-'));
  const config = join(dir, 'blackbox.yml');
  await writeFile(
    config,
    `modules:
  http_ready:
    prober: http
    timeout: 5s
    http:
      method: GET
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      follow_redirects: false
      fail_if_body_not_matches_regexp: ['"status":"ready"']
`,
  );
  const httpPort = await freePort();
  const proc = startProcess({
    name: 'blackbox_exporter',
    command: 'prometheus-blackbox-exporter',
    args: [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${httpPort}`, '--log.level=warn'],
  });
  let probes = 0;
  let failures = 0;
  const target = encodeURIComponent(url);
  const phase = (seconds: number) =>
    flatOut(seconds, IN_FLIGHT, async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/probe?module=http_ready&target=${target}`);
      const text = await response.text();
      probes++;
      if (!/^probe_success 1$/m.test(text)) failures++;
    });
  try {
    await waitForPort(httpPort, '127.0.0.1', 10_000, proc);
    await phase(WARM_UP_SECONDS);
    probes = 0;
    failures = 0;
    const cpuBefore = cpuOfPid(proc.pid);
    const serverBefore = cpuOfPid(serverPid);
    const wall = await phase(SECONDS);
    return {
      probes,
      failures,
      wall,
      cpu: cpuOfPid(proc.pid) - cpuBefore,
      serverCpu: cpuOfPid(serverPid) - serverBefore,
    };
  } finally {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const target = await startTarget();
  try {
    const own = TOOLS.has('scaiprobe') ? await scaiprobe(target.url, target.pid) : undefined;
    const bbe = TOOLS.has('blackbox') ? await blackbox(target.url, target.pid) : undefined;
    console.log(
      `HTTP probe cost: GET on a fresh connection, status 200 and "status":"ready" in the body, ${IN_FLIGHT} in flight, ${SECONDS} s measured per tool after a ${WARM_UP_SECONDS} s warm-up, one tool after the other; ` +
        `target in its own process; ${os.cpus().length} CPUs, load ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    const row = (tool: string, r: PhaseResult) => ({
      tool,
      probes: r.probes,
      'probes/s': Math.round(r.probes / r.wall),
      'tool CPU s': +r.cpu.toFixed(2),
      'probes per tool CPU-s': Math.round(r.probes / r.cpu),
      'target CPU s': +r.serverCpu.toFixed(2),
      'wall s': +r.wall.toFixed(2),
      failed: r.failures,
    });
    console.table([
      ...(own ? [row(`scaiprobe: engine + http kind + assertions + SQLite (${PROBES} probes)`, own)] : []),
      ...(bbe ? [row('blackbox_exporter /probe (exporter CPU only)', bbe)] : []),
    ]);
    if (own && bbe) {
      const ratio = own.probes / own.cpu / (bbe.probes / bbe.cpu);
      console.log(
        `target: scaiprobe's whole path at least as cheap as blackbox_exporter's probe: ${ratio >= 1 ? 'MET' : 'MISSED'} (${ratio.toFixed(2)}x)`,
      );
    }
  } finally {
    target.stop();
  }
}

await main();
