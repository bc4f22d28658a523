/**
 * The same DNS checks three ways against one private PowerDNS (caches off), in
 * one run: scaiprobe's `dns` kind, dnsperf (the server's ceiling here) and
 * Prometheus's blackbox_exporter through its /probe endpoint.
 * Targets (issue 4): at least half of dnsperf's rate, and at least twice
 * blackbox_exporter's probes per CPU-second.
 *
 *   node --import tsx bench/dns.bench.ts [--seconds 5] [--concurrency 200] [--bbe-concurrency 32]
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify, parseArgs } from 'node:util';
import pino from 'pino';
import { dnsKind, type DnsSpec } from '../src/probers/dns.ts';
import type { CommonProbeSpec, Prober } from '../src/probers/types.ts';
import { createHttpClient } from '../src/net/http-client.ts';
import { systemClock } from '../src/util/clock.ts';
import { freePort, makeTempDir, startProcess, waitForPort } from '../src/lab/processes.ts';
import { startPdnsPair } from '../src/lab/pdns.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '200' }, 'bbe-concurrency': { type: 'string', default: '32' } } });
const SECONDS = Number(values.seconds);

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

async function scaiprobe(port: number) {
  const logger = pino({ level: 'silent' });
  const deps = { clock: systemClock, logger, http: createHttpClient() };
  const probers: Prober[] = CHECKS.map((check) => {
    const own = dnsKind.fields.strict().parse({ query: { name: check.name, type: check.type }, servers: [`127.0.0.1:${port}`], serials: false }) as DnsSpec;
    const expect = check.expect === 'NXDOMAIN' ? [{ expr: 'rcode == "NXDOMAIN"', soft: false }] : [];
    return dnsKind.create({ ...own, name: check.name, kind: 'dns', timeout: 5000, retries: 0, retryDelay: 0, tags: [], expect } as DnsSpec & CommonProbeSpec, deps);
  });
  let probes = 0;
  let failures = 0;
  const end = performance.now() + SECONDS * 1000;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const worker = async (offset: number) => {
    for (let i = offset; performance.now() < end; i++) {
      const prober = probers[i % probers.length]!;
      const m = await prober.probe({ signal: AbortSignal.timeout(5000), deadline: Date.now() + 5000, clock: systemClock, logger, http: deps.http, previousState: undefined, runId: 'b' });
      const check = CHECKS[i % CHECKS.length]!;
      const ok = check.expect === 'NXDOMAIN' ? m.observations.rcode === 'NXDOMAIN' : (m.observations.answers as string[]).some((a) => a.includes(check.expect));
      probes++;
      if (!ok) failures++;
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, (_, i) => worker(i)));
  const wall = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await Promise.all(probers.map((prober) => prober.close?.()));
  return { rate: probes / wall, cpu: (used.user + used.system) / 1e6, probes, failures };
}

async function dnsperf(port: number, dir: string) {
  const file = join(dir, 'queries.txt');
  await writeFile(file, CHECKS.map((check) => `${check.name} ${check.type}`).join('\n') + '\n');
  const { stdout, stderr } = await run('/usr/bin/time', ['-f', 'CPU %U %S', 'dnsperf', '-s', '127.0.0.1', '-p', String(port), '-d', file, '-l', String(SECONDS), '-c', '1', '-q', '100']);
  const rate = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(stderr);
  return { rate, cpu: Number(cpu?.[1]) + Number(cpu?.[2]), probes: Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1]) };
}

async function blackbox(port: number, dir: string) {
  const modules = CHECKS.map((check, i) => {
    const validate = check.expect === 'NXDOMAIN' ? '      valid_rcodes: [NXDOMAIN]' : `      valid_rcodes: [NOERROR]\n      validate_answer_rrs:\n        fail_if_none_matches_regexp: [".*${check.expect.replace(/\./g, '\\\\.')}.*"]`;
    return `  q${i}:\n    prober: dns\n    timeout: 5s\n    dns:\n      query_name: "${check.name}"\n      query_type: "${check.type}"\n      transport_protocol: udp\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n      recursion_desired: false\n${validate}`;
  });
  const config = join(dir, 'blackbox.yml');
  await writeFile(config, `modules:\n${modules.join('\n')}\n`);
  const httpPort = await freePort();
  const proc = startProcess({ name: 'blackbox_exporter', command: 'prometheus-blackbox-exporter', args: [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${httpPort}`, '--log.level=warn'] });
  try {
    await waitForPort(httpPort, '127.0.0.1', 10_000, proc);
    let probes = 0;
    let failures = 0;
    const end = performance.now() + SECONDS * 1000;
    const cpuBefore = cpuOfPid(proc.pid);
    const started = performance.now();
    const worker = async (offset: number) => {
      for (let i = offset; performance.now() < end; i++) {
        const response = await fetch(`http://127.0.0.1:${httpPort}/probe?module=q${i % CHECKS.length}&target=127.0.0.1:${port}`);
        const text = await response.text();
        probes++;
        if (!/^probe_success 1$/m.test(text)) failures++;
      }
    };
    await Promise.all(Array.from({ length: Number(values['bbe-concurrency']) }, (_, i) => worker(i)));
    const wall = (performance.now() - started) / 1000;
    return { rate: probes / wall, cpu: cpuOfPid(proc.pid) - cpuBefore, probes, failures };
  } finally {
    await proc.stop();
  }
}

async function main() {
  const temp = await makeTempDir('scaiprobe-dnsbench-');
  const ports = { dns1: await freePort(), api1: await freePort(), dns2: await freePort(), api2: await freePort() };
  const lab = await startPdnsPair({ dir: temp.dir, ports });
  try {
    const own = await scaiprobe(ports.dns1);
    const perf = await dnsperf(ports.dns1, temp.dir);
    const bbe = await blackbox(ports.dns1, temp.dir);
    console.log(`DNS benchmark: ${CHECKS.length} checks round-robin against PowerDNS 4.7 (gsqlite3, caches off) on loopback, ${SECONDS} s each`);
    const row = (tool: string, r: { rate: number; cpu: number; probes: number; failures?: number }) => ({
      tool,
      'queries|probes/s': Math.round(r.rate),
      'per CPU-second': Math.round(r.probes / r.cpu),
      'CPU s': +r.cpu.toFixed(2),
      failed: r.failures ?? '-',
      'vs dnsperf rate': `${((r.rate / perf.rate) * 100).toFixed(0)}%`,
    });
    console.table([
      row(`scaiprobe dns kind (${values.concurrency} in flight)`, own),
      row('dnsperf (100 in flight)', perf),
      row(`blackbox_exporter /probe (${values['bbe-concurrency']} in flight; exporter CPU only)`, bbe),
    ]);
    const perCpu = (r: { probes: number; cpu: number }) => r.probes / r.cpu;
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
