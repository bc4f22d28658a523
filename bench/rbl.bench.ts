/**
 * Blocklist lookups at scale: 200 IPs x 20 zones (4,000 lookups + 40 RFC 5782
 * test points + TXT for the listed ones) through the `rbl` kind against a
 * private rbldnsd, beside dnsperf asking the same names of the same server.
 * Targets (issue 5): one run under 1 s, and at least 30 % of dnsperf's rate.
 * Like with like: dnsperf gets one socket (-c 1) and --concurrency queries
 * outstanding (-q), the rbl kind the same concurrency; CPU is counted per
 * phase for the tool and for rbldnsd; each run's deadline timer is cleared
 * when the run ends, so none fires during the dnsperf phase.
 *
 * The first run of a fresh process is slower (the JIT warms up); it is shown
 * apart, and the targets are judged on the median of all runs.
 *
 *   node --import tsx bench/rbl.bench.ts [--runs 10] [--concurrency 100] [--dnsperf-seconds 5]
 */
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { rblKind, type RblSpec } from '../src/probers/rbl.ts';
import { lookupName } from '../src/protocols/dnsbl/lists.ts';
import type { CommonProbeSpec } from '../src/core/probe.ts';
import { createHttpClient } from '../src/protocols/http/client.ts';
import { systemClock } from '../src/util/clock.ts';
import { freePort, makeTempDir, startProcess } from '../src/lab/processes.ts';
import { RecentItems } from '../src/runner/recorded-items.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '100' },
    'dnsperf-seconds': { type: 'string', default: '5' },
  },
});
const ZONES = Array.from({ length: 20 }, (_, i) => `z${i + 1}.bench.test`);
const IPS = Array.from({ length: 200 }, (_, i) => `198.51.${100 + Math.floor(i / 100)}.${(i % 100) + 1}`);

async function startBenchRbldnsd(dir: string, port: number) {
  // Every 10th IP listed, with a reason; the RFC 5782 test point listed.
  const data = [
    '$SOA 300 ns.bench.test. hostmaster.bench.test. 0 600 300 86400 60',
    ':127.0.0.2:Listed in $',
    '127.0.0.2',
    ...IPS.filter((_, i) => i % 10 === 0),
  ].join('\n');
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'bench.zone'), `${data}\n`, { mode: 0o644 });
  const proc = startProcess({
    name: 'rbldnsd',
    command: 'rbldnsd',
    args: [
      '-n',
      '-b',
      `127.0.0.1/${port}`,
      '-u',
      'rbldns:rbldns',
      '-w',
      dir,
      '-t',
      '60',
      '-a',
      ...ZONES.map((zone) => `${zone}:ip4set:bench.zone`),
    ],
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (proc.child.exitCode !== null) throw new Error(`rbldnsd exited: ${proc.output()}`);
  return proc;
}

const cpuOfPid = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 1/100 s
};

async function dnsperf(
  port: number,
  file: string,
  seconds: number,
  outstanding: number,
): Promise<{ rate: number; cpu: number; lost: number }> {
  const { stdout, stderr } = await run('/usr/bin/time', [
    '-f',
    'CPU %U %S',
    'dnsperf',
    '-s',
    '127.0.0.1',
    '-p',
    String(port),
    '-d',
    file,
    '-l',
    String(seconds),
    '-c',
    '1',
    '-q',
    String(outstanding),
  ]);
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(stderr);
  return {
    rate: Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    cpu: Number(cpu?.[1]) + Number(cpu?.[2]),
    lost: Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0),
  };
}

async function main() {
  const temp = await makeTempDir('scaiprobe-rblbench-');
  await chmod(temp.dir, 0o711);
  const port = await freePort();
  const proc = await startBenchRbldnsd(temp.dir, port);
  try {
    const names = ZONES.flatMap((zone) => IPS.map((ip) => `${lookupName(ip, zone)} A`));
    const file = join(temp.dir, 'queries.txt');
    await writeFile(file, `${names.join('\n')}\n`);
    const raw = {
      ips: IPS,
      resolver: `127.0.0.1:${port}`,
      concurrency: Number(values.concurrency),
      zones: ZONES.map((zone) => ({ zone, type: 'ip' as const, severity: 'alert' as const })),
    };
    const own = rblKind.fields.strict().parse(raw) as RblSpec;
    const spec = {
      ...own,
      name: 'bench',
      kind: 'rbl',
      timeout: 30_000,
      retries: 0,
      retryDelay: 0,
      tags: [],
      expect: [],
    } as RblSpec & CommonProbeSpec;
    const logger = pino({ level: 'silent' });
    const prober = rblKind.create(spec, {
      clock: systemClock,
      logger,
      http: createHttpClient(),
      recorded: new RecentItems(),
    });
    const concurrency = Number(values.concurrency);
    const walls: number[] = [];
    let lastState: unknown;
    let last: Awaited<ReturnType<typeof prober.probe>> | undefined;
    const serverBefore = cpuOfPid(proc.pid);
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < Number(values.runs); i++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error('run deadline')), 30_000);
      const started = performance.now();
      last = await prober.probe({
        signal: controller.signal,
        deadline: Date.now() + 30_000,
        clock: systemClock,
        logger,
        http: createHttpClient(),
        previousState: lastState,
        runId: `b${i}`,
      });
      walls.push(performance.now() - started);
      clearTimeout(timer);
      lastState = last.state;
    }
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpu = cpuOfPid(proc.pid) - serverBefore;
    await prober.close?.();
    const queriesPerRun = 4000 + ZONES.length * 2 + (last?.observations.listed as number);
    const perfSeconds = Number(values['dnsperf-seconds']);
    const serverBeforePerf = cpuOfPid(proc.pid);
    const perf = await dnsperf(port, file, perfSeconds, concurrency);
    const perfServerCpu = cpuOfPid(proc.pid) - serverBeforePerf;
    const sorted = [...walls].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    const rate = queriesPerRun / (median / 1000);
    const runs = walls.length;
    const perfQueries = perf.rate * perfSeconds;
    console.log(
      `rbl benchmark: ${IPS.length} IPs x ${ZONES.length} zones = 4000 A lookups + ${ZONES.length * 2} test points + ${String(last?.observations.listed)} TXT = ${queriesPerRun} queries per run, ` +
        `${concurrency} in flight for both tools (dnsperf -c 1 -q ${concurrency}, same A names), rbldnsd on 127.0.0.1; ${os.cpus().length} CPUs, load ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    console.log(
      `verdicts of the last run: listed ${String(last?.observations.listed)}, clean ${String(last?.observations.clean)}, unknown ${String(last?.observations.unknown)}`,
    );
    console.table([
      {
        tool: `scaiprobe rbl (median of ${runs} runs)`,
        'first run ms': Math.round(walls[0] ?? Number.NaN),
        'median ms': Math.round(median),
        'queries/s': Math.round(rate),
        'vs dnsperf': `${((rate / perf.rate) * 100).toFixed(0)}%`,
        'tool CPU µs/query': Math.round((cpu.user + cpu.system) / runs / queriesPerRun),
        'rbldnsd CPU µs/query': Math.round((serverCpu * 1e6) / runs / queriesPerRun),
        lost: '-',
      },
      {
        tool: `dnsperf -c 1 -q ${concurrency} (${perfSeconds} s)`,
        'first run ms': '-',
        'median ms': '-',
        'queries/s': Math.round(perf.rate),
        'vs dnsperf': '100%',
        'tool CPU µs/query': Math.round((perf.cpu * 1e6) / perfQueries),
        'rbldnsd CPU µs/query': Math.round((perfServerCpu * 1e6) / perfQueries),
        lost: perf.lost,
      },
    ]);
    console.log(
      `all runs (ms): ${walls.map((w) => Math.round(w)).join(', ')}; targets: < 1000 ms ${median < 1000 ? 'MET' : 'MISSED'}, >= 30% of dnsperf ${rate / perf.rate >= 0.3 ? 'MET' : 'MISSED'}`,
    );
  } finally {
    await proc.stop();
    await temp.remove();
  }
}

await main();
