/**
 * The same DNS checks three ways against one private PowerDNS (caches off), in
 * one run: scaiprobe's `dns` kind, dnsperf (the server's ceiling here) and
 * Prometheus's blackbox_exporter through its /probe endpoint.
 * Targets (issue 4): at least half of dnsperf's rate, and at least twice
 * blackbox_exporter's probes per CPU-second.
 *
 * Like with like: the same 8 questions round-robin, the same number in flight
 * (dnsperf -c 1 -q N; scaiprobe N probes in flight; one query per probe), the
 * same measured window of --seconds, CPU counted per phase for the tool and
 * for PowerDNS. Each probe gets its own deadline signal as the runner gives it
 * (an AbortController and a timer cleared when the probe ends), so no timer of
 * one phase fires during the next.
 *
 *   node --import tsx bench/dns.bench.ts [--seconds 5] [--concurrency 100] [--bbe-concurrency 32]
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify, parseArgs } from 'node:util';
import pino from 'pino';
import { dnsKind, type DnsSpec } from '../src/probers/dns.ts';
import type { Prober } from '../src/probers/kind.ts';
import { createHttpClient } from '../src/protocols/http/client.ts';
import { systemClock } from '../src/util/clock.ts';
import { freePort, makeTempDir, startProcess, waitForPort } from '../src/lab/processes.ts';
import { startPdnsPair } from '../src/lab/pdns.ts';
import { RecentItems } from '../src/runner/recorded-items.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '100' },
    'bbe-concurrency': { type: 'string', default: '32' },
  },
});
const SECONDS = Number(values.seconds);
const IN_FLIGHT = Number(values.concurrency);
const WARM_UP_SECONDS = 1;

/** The query set: each a check with an expected answer (one NXDOMAIN). */
const CHECKS = [
  { name: 'www.example.test', type: 'A', expect: '192.0.2.10' },
  { name: 'www.example.test', type: 'AAAA', expect: '2001:db8::10' },
  { name: 'mx.example.test', type: 'A', expect: '192.0.2.25' },
  { name: 'example.test', type: 'MX', expect: 'mx.example.test' },
  { name: 'example.test', type: 'TXT', expect: 'v=spf1' },
  { name: '_dmarc.example.test', type: 'TXT', expect: 'DMARC1' },
  { name: 'alias.example.test', type: 'CNAME', expect: 'www.example.test' },
  { name: 'nope.example.test', type: 'A', expect: 'NXDOMAIN' },
] as const;

const cpuOfPid = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 1/100 s
};

interface PhaseResult {
  rate: number;
  /** CPU seconds of the tool itself (for blackbox_exporter: the exporter, not the HTTP client driving it). */
  cpu: number;
  /** CPU seconds PowerDNS spent during the phase. */
  serverCpu: number;
  wall: number;
  probes: number;
  failures?: number;
}

/** Runs `worker(offset, end)` IN_FLIGHT-fold until `seconds` have passed; the in-flight ones finish and count. */
async function timedPhase(seconds: number, inFlight: number, worker: (offset: number, end: number) => Promise<void>) {
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, i) => worker(i, end)));
  return (performance.now() - started) / 1000;
}

async function scaiprobe(port: number, serverPid: number): Promise<PhaseResult> {
  const logger = pino({ level: 'silent' });
  const deps = { clock: systemClock, logger, http: createHttpClient(), recorded: new RecentItems() };
  const probers: Prober[] = CHECKS.map((check) => {
    const own = dnsKind.fields.strict().parse({
      query: { name: check.name, type: check.type },
      servers: [`127.0.0.1:${port}`],
      serials: false,
    }) as DnsSpec;
    const expect = check.expect === 'NXDOMAIN' ? [{ expr: 'rcode == "NXDOMAIN"', soft: false }] : [];
    return dnsKind.create(
      { ...own, name: check.name, kind: 'dns', timeout: 5000, retries: 0, retryDelay: 0, tags: [], expect },
      deps,
    );
  });
  let probes = 0;
  let failures = 0;
  // As src/runner/run-probe.ts does it: a deadline signal per probe, its timer cleared when the probe ends.
  const probeOnce = async (i: number) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('probe deadline')), 5000);
    try {
      const m = await probers[i % probers.length]!.probe({
        signal: controller.signal,
        deadline: Date.now() + 5000,
        clock: systemClock,
        logger,
        http: deps.http,
        previousState: undefined,
        runId: 'b',
      });
      const check = CHECKS[i % CHECKS.length]!;
      return m.error
        ? false
        : check.expect === 'NXDOMAIN'
          ? m.observations.rcode === 'NXDOMAIN'
          : ((m.observations.answers as string[] | undefined) ?? []).some((a) => a.includes(check.expect));
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
  const worker = (count: boolean) => async (offset: number, end: number) => {
    for (let i = offset; performance.now() < end; i += IN_FLIGHT) {
      const ok = await probeOnce(i);
      if (!count) continue;
      probes++;
      if (!ok) failures++;
    }
  };
  // The JIT's first second is a one-off of a long-running daemon, not its steady rate.
  await timedPhase(WARM_UP_SECONDS, IN_FLIGHT, worker(false));
  const serverBefore = cpuOfPid(serverPid);
  const cpu = process.cpuUsage();
  const wall = await timedPhase(SECONDS, IN_FLIGHT, worker(true));
  const used = process.cpuUsage(cpu);
  const serverCpu = cpuOfPid(serverPid) - serverBefore;
  await Promise.all(probers.map(async (prober) => prober.close?.()));
  return { rate: probes / wall, cpu: (used.user + used.system) / 1e6, serverCpu, wall, probes, failures };
}

async function dnsperf(port: number, dir: string, serverPid: number): Promise<PhaseResult> {
  const file = join(dir, 'queries.txt');
  await writeFile(file, CHECKS.map((check) => `${check.name} ${check.type}`).join('\n') + '\n');
  const serverBefore = cpuOfPid(serverPid);
  const started = performance.now();
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
    String(SECONDS),
    '-c',
    '1',
    '-q',
    String(IN_FLIGHT),
  ]);
  const wall = (performance.now() - started) / 1000;
  const serverCpu = cpuOfPid(serverPid) - serverBefore;
  const rate = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(stderr);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return {
    rate,
    cpu: Number(cpu?.[1]) + Number(cpu?.[2]),
    serverCpu,
    wall,
    probes: Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1]),
    failures: lost,
  };
}

async function blackbox(port: number, dir: string, serverPid: number): Promise<PhaseResult> {
  const modules = CHECKS.map((check, i) => {
    const validate =
      check.expect === 'NXDOMAIN'
        ? '      valid_rcodes: [NXDOMAIN]'
        : `      valid_rcodes: [NOERROR]\n      validate_answer_rrs:\n        fail_if_none_matches_regexp: [".*${check.expect.replace(/\./g, '\\\\.')}.*"]`;
    return `  q${i}:\n    prober: dns\n    timeout: 5s\n    dns:\n      query_name: "${check.name}"\n      query_type: "${check.type}"\n      transport_protocol: udp\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n      recursion_desired: false\n${validate}`;
  });
  const config = join(dir, 'blackbox.yml');
  await writeFile(config, `modules:\n${modules.join('\n')}\n`);
  const httpPort = await freePort();
  const proc = startProcess({
    name: 'blackbox_exporter',
    command: 'prometheus-blackbox-exporter',
    args: [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${httpPort}`, '--log.level=warn'],
  });
  try {
    await waitForPort(httpPort, '127.0.0.1', 10_000, proc);
    let probes = 0;
    let failures = 0;
    const concurrency = Number(values['bbe-concurrency']);
    const cpuBefore = cpuOfPid(proc.pid);
    const serverBefore = cpuOfPid(serverPid);
    const wall = await timedPhase(SECONDS, concurrency, async (offset, end) => {
      for (let i = offset; performance.now() < end; i += concurrency) {
        const response = await fetch(
          `http://127.0.0.1:${httpPort}/probe?module=q${i % CHECKS.length}&target=127.0.0.1:${port}`,
        );
        const text = await response.text();
        probes++;
        if (!/^probe_success 1$/m.test(text)) failures++;
      }
    });
    return {
      rate: probes / wall,
      cpu: cpuOfPid(proc.pid) - cpuBefore,
      serverCpu: cpuOfPid(serverPid) - serverBefore,
      wall,
      probes,
      failures,
    };
  } finally {
    await proc.stop();
  }
}

async function main() {
  const temp = await makeTempDir('scaiprobe-dnsbench-');
  const ports = { dns1: await freePort(), api1: await freePort(), dns2: await freePort(), api2: await freePort() };
  const lab = await startPdnsPair({ dir: temp.dir, ports });
  const serverPid = lab.servers[0]!.process.pid;
  try {
    const own = await scaiprobe(ports.dns1, serverPid);
    const perf = await dnsperf(ports.dns1, temp.dir, serverPid);
    const bbe = await blackbox(ports.dns1, temp.dir, serverPid);
    console.log(
      `DNS benchmark: ${CHECKS.length} questions round-robin (${CHECKS.map((c) => `${c.name} ${c.type}`).join(', ')}) against PowerDNS 4.7 (gsqlite3, caches off) on 127.0.0.1, ` +
        `${SECONDS} s measured per tool, one after the other; scaiprobe after a ${WARM_UP_SECONDS} s warm-up; ${os.cpus().length} CPUs, load ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    const row = (tool: string, inFlight: string, r: PhaseResult) => ({
      tool,
      'in flight': inFlight,
      'queries|probes/s': Math.round(r.rate),
      'vs dnsperf': `${((r.rate / perf.rate) * 100).toFixed(0)}%`,
      'tool CPU s': +r.cpu.toFixed(2),
      'per tool CPU-s': Math.round(r.probes / r.cpu),
      'pdns CPU s': +r.serverCpu.toFixed(2),
      'wall s': +r.wall.toFixed(2),
      'failed|lost': r.failures ?? '-',
    });
    console.table([
      row('scaiprobe dns kind (1 query per probe)', String(IN_FLIGHT), own),
      row(`dnsperf -c 1 -q ${IN_FLIGHT}`, String(IN_FLIGHT), perf),
      row('blackbox_exporter /probe (exporter CPU only)', values['bbe-concurrency'], bbe),
    ]);
    const perCpu = (r: PhaseResult) => r.probes / r.cpu;
    console.log(
      `targets: >= 50% of dnsperf rate ${own.rate >= perf.rate / 2 ? 'MET' : 'MISSED'} (${((own.rate / perf.rate) * 100).toFixed(0)}%); ` +
        `>= 2x blackbox_exporter probes per CPU-second ${perCpu(own) >= 2 * perCpu(bbe) ? 'MET' : 'MISSED'} (${(perCpu(own) / perCpu(bbe)).toFixed(1)}x)`,
    );
  } finally {
    await lab.stop();
    await temp.remove();
  }
}

await main();
