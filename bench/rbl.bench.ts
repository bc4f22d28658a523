/**
 * Blocklist lookups at scale: 200 IPs x 20 zones (4,000 lookups + 40 RFC 5782
 * test points + TXT for the listed ones) through the `rbl` kind against a
 * private rbldnsd, beside dnsperf asking the same names of the same server.
 * Targets (issue 5): one run under 1 s, and at least 30 % of dnsperf's rate.
 *
 *   node --import tsx bench/rbl.bench.ts [--runs 5] [--concurrency 100] [--dnsperf-seconds 5]
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { rblKind, type RblSpec } from '../src/probers/rbl.ts';
import { lookupName } from '../src/probers/rbl-lists.ts';
import type { CommonProbeSpec } from '../src/probers/types.ts';
import { createHttpClient } from '../src/net/http-client.ts';
import { systemClock } from '../src/util/clock.ts';
import { freePort, makeTempDir, startProcess } from '../src/lab/processes.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '200' }, 'dnsperf-seconds': { type: 'string', default: '5' } } });
const ZONES = Array.from({ length: 20 }, (_, i) => `z${i + 1}.bench.test`);
const IPS = Array.from({ length: 200 }, (_, i) => `198.51.${100 + Math.floor(i / 100)}.${(i % 100) + 1}`);

async function startBenchRbldnsd(dir: string, port: number) {
  // Every 10th IP listed, with a reason; the RFC 5782 test point listed.
  const data = ['$SOA 300 ns.bench.test. hostmaster.bench.test. 0 600 300 86400 60', ':127.0.0.2:Listed in $', '127.0.0.2', ...IPS.filter((_, i) => i % 10 === 0)].join('\n');
  await chmod(dir, 0o755);
  await writeFile(join(dir, 'bench.zone'), `${data}\n`, { mode: 0o644 });
  const proc = startProcess({ name: 'rbldnsd', command: 'rbldnsd', args: ['-n', '-b', `127.0.0.1/${port}`, '-u', 'rbldns:rbldns', '-w', dir, '-t', '60', '-a', ...ZONES.map((zone) => `${zone}:ip4set:bench.zone`)] });
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (proc.child.exitCode !== null) throw new Error(`rbldnsd exited: ${proc.output()}`);
  return proc;
}

async function dnsperf(port: number, file: string, seconds: number): Promise<number> {
  const { stdout } = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(seconds), '-c', '1', '-q', '100']);
  return Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
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
    const raw = { ips: IPS, resolver: `127.0.0.1:${port}`, concurrency: Number(values.concurrency), zones: ZONES.map((zone) => ({ zone, type: 'ip' as const, severity: 'alert' as const })) };
    const own = rblKind.fields.strict().parse(raw) as RblSpec;
    const spec = { ...own, name: 'bench', kind: 'rbl', timeout: 30_000, retries: 0, retryDelay: 0, tags: [], expect: [] } as RblSpec & CommonProbeSpec;
    const logger = pino({ level: 'silent' });
    const prober = rblKind.create(spec, { clock: systemClock, logger, http: createHttpClient() });
    const walls: number[] = [];
    let lastState: unknown;
    let last: Awaited<ReturnType<typeof prober.probe>> | undefined;
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < Number(values.runs); i++) {
      const started = performance.now();
      last = await prober.probe({ signal: AbortSignal.timeout(30_000), deadline: Date.now() + 30_000, clock: systemClock, logger, http: createHttpClient(), previousState: lastState, runId: `b${i}` });
      walls.push(performance.now() - started);
      lastState = last.state;
    }
    const cpu = process.cpuUsage(cpuBefore);
    await prober.close?.();
    const queriesPerRun = 4000 + ZONES.length * 2 + (last?.observations.listed as number);
    const perfRate = await dnsperf(port, file, Number(values['dnsperf-seconds']));
    const sorted = [...walls].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    const rate = queriesPerRun / (median / 1000);
    console.log(`rbl benchmark: ${IPS.length} IPs x ${ZONES.length} zones = 4000 lookups + ${ZONES.length * 2} test points + ${last?.observations.listed} TXT per run, concurrency ${values.concurrency}, rbldnsd on loopback`);
    console.log(`verdicts of the last run: listed ${last?.observations.listed}, clean ${last?.observations.clean}, unknown ${last?.observations.unknown}`);
    console.table([
      { tool: 'scaiprobe rbl (one run, median)', 'wall ms': Math.round(median), 'queries/s': Math.round(rate), 'CPU s per run': +(cpu.user / 1e6 / walls.length + cpu.system / 1e6 / walls.length).toFixed(3), 'vs dnsperf': `${((rate / perfRate) * 100).toFixed(0)}%` },
      { tool: `dnsperf (${values['dnsperf-seconds']} s, 100 in flight)`, 'wall ms': '-', 'queries/s': Math.round(perfRate), 'CPU s per run': '-', 'vs dnsperf': '100%' },
    ]);
    console.log(`all runs (ms): ${walls.map((w) => Math.round(w)).join(', ')}; targets: < 1000 ms ${median < 1000 ? 'MET' : 'MISSED'}, >= 30% of dnsperf ${rate / perfRate >= 0.3 ? 'MET' : 'MISSED'}`);
  } finally {
    await proc.stop();
    await temp.remove();
  }
}

await main();
