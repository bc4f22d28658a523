// What the fleet benchmarks share: their configuration, flapping targets, runs lost between the agents' spools and PostgreSQL, lateness from /metrics, CPU from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Agent, FleetWorld } from '../test/helpers/fleet-world.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { receiver, SECRETS, type Received } from './webhook-receivers.ts';
import { waitFor } from '../test/helpers/cli.ts';

/** The environment the agents need for the webhook receivers' secrets. */
export const FLEET_BENCH_ENV = { FLEET_FLAKY_SECRET: SECRETS.flaky, FLEET_STEADY_SECRET: SECRETS.steady };

export interface FleetBenchConfig {
  probes: number;
  every?: string;
  /** Webhook ports: flaky and steady receivers, with a rule firing and resolving on every probe. */
  hooks?: { flaky: number; steady?: number };
  replica?: boolean;
  extra?: string;
}

/** One configuration for every agent: N HTTP probes against the world's target, optional alerting. */
export function fleetConfig(world: FleetWorld, config: FleetBenchConfig): string {
  const every = config.every ?? '1s';
  const probes = Array.from(
    { length: config.probes },
    (_, i) =>
      `  - { name: p${i}, kind: http, url: "http://127.0.0.1:${world.targetPort}/p/${i}", every: ${every}, timeout: 1s }`,
  ).join('\n');
  const hooks = config.hooks;
  const channels = hooks
    ? [
        `    - { name: flaky, type: webhook, url: "http://127.0.0.1:${hooks.flaky}/hook", secret: "\${FLEET_FLAKY_SECRET}" }`,
        ...(hooks.steady === undefined
          ? []
          : [
              `    - { name: steady, type: webhook, url: "http://127.0.0.1:${hooks.steady}/hook", secret: "\${FLEET_STEADY_SECRET}" }`,
            ]),
      ]
    : [];
  const alerts = hooks
    ? `alerts:
  channels:
${channels.join('\n')}
  rules:
    - { name: down, probes: ["*"], failures: 1, successes: 1, repeat: 5s }
  delivery: { initialBackoff: 200ms, maxBackoff: 2s }
`
    : '';
  return world.writeConfig(`store: { url: "\${SCAIPROBE_DATABASE_URL}" }
log: { level: warn }
${config.replica === false ? 'agent: { replica: false }\n' : ''}${config.extra ?? ''}probes:
${probes}
${alerts}`);
}

/** The kill -9 benchmark's flapping: each probe's target flips between 200 and 503 on its own period. */
export function flapping(_location: string, probe: number): boolean {
  const period = 2000 + ((probe * 137) % 1500);
  return Math.floor((Date.now() + probe * 311) / period) % 2 === 1;
}

export function percentile(values: number[], q: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** test/helpers/cli.ts's waitFor, with the longer wait a loaded fleet needs. */
export const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  waitFor(what, check, timeoutMs);

/** Every run uid in an agent's local SQLite that carries its name (read after it stopped). */
export function localRunUids(world: FleetWorld, agent: string): string[] {
  const db = new Database(join(world.dir, `${agent}.db`), { readonly: true });
  try {
    // The log packs hex uids into bytes (as src/store/sqlite/run-log.ts does).
    const rows = db.prepare('SELECT uid FROM run_log WHERE agent = ?').all(agent) as Array<{
      uid: Uint8Array | string;
    }>;
    return rows.map((row) => (typeof row.uid === 'string' ? row.uid : Buffer.from(row.uid).toString('hex')));
  } finally {
    db.close();
  }
}

/** Runs of the named agents kept locally but missing from PostgreSQL's runs table. */
export async function runsLost(world: FleetWorld, agents: string[]): Promise<{ local: number; lost: number }> {
  let local = 0;
  let lost = 0;
  for (const name of agents) {
    const uids = localRunUids(world, name);
    local += uids.length;
    const { rows } = await world.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM unnest($1::text[]) AS u(uid) WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.uid = u.uid)',
      [uids],
    );
    lost += rows[0]?.n ?? 0;
  }
  return { local, lost };
}

/** Stops every running agent cleanly (SIGTERM), so each spool is flushed as far as it can be. */
export async function stopAll(agents: Iterable<Agent>): Promise<void> {
  const running = [...agents].filter((agent) => agent.child.exitCode === null && agent.child.signalCode === null);
  for (const agent of running) agent.child.kill('SIGTERM');
  await Promise.all(running.map((agent) => agent.exited));
}

export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  count: number;
}

/** The scheduler's lateness histogram (scaiprobe_scheduler_lateness_seconds) from an agent's /metrics. */
export async function lateness(agent: Agent): Promise<Histogram> {
  const text = await fetch(`http://127.0.0.1:${agent.port}/metrics`).then((r) => r.text());
  const buckets: Histogram['buckets'] = [];
  let count = 0;
  for (const line of text.split('\n')) {
    const bucket = /^scaiprobe_scheduler_lateness_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/.exec(line);
    if (bucket) buckets.push({ le: bucket[1] === '+Inf' ? Infinity : Number(bucket[1]), count: Number(bucket[2]) });
    const total = /^scaiprobe_scheduler_lateness_seconds_count(?:\{[^}]*\})? (\d+)/.exec(line);
    if (total) count = Number(total[1]);
  }
  return { buckets, count };
}

/** The difference of two scrapes of one histogram, summed with others (the fleet's lateness over a window). */
export function histogramDelta(pairs: Array<[Histogram, Histogram]>): Histogram {
  const sum = new Map<number, number>();
  let count = 0;
  for (const [before, after] of pairs) {
    count += after.count - before.count;
    for (const b of after.buckets) {
      const was = before.buckets.find((x) => x.le === b.le)?.count ?? 0;
      sum.set(b.le, (sum.get(b.le) ?? 0) + b.count - was);
    }
  }
  const buckets = [...sum].sort((a, b) => a[0] - b[0]).map(([le, n]) => ({ le, count: n }));
  return { buckets, count };
}

/** The upper bound of the bucket holding quantile q, in milliseconds. */
export function histogramQuantileMs(h: Histogram, q: number): number {
  const rank = q * h.count;
  const bucket = h.buckets.find((b) => b.count >= rank);
  return bucket ? bucket.le * 1000 : Number.NaN;
}

const TICKS = 100;

/** User plus system CPU seconds of one process. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU seconds of the postmaster, of its live backends (its children, found through /proc) and of those that ended. */
export function postgresCpuSeconds(postmaster: number | undefined): number {
  if (postmaster === undefined) return 0;
  let total = cpuSeconds(postmaster);
  try {
    const stat = readFileSync(`/proc/${postmaster}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(fields[13]) + Number(fields[14])) / TICKS;
  } catch {
    // stopped
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === postmaster) total += cpuSeconds(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return total;
}

export interface Receivers {
  received: Received[];
  ports: { flaky: number; steady: number };
  close(): void;
}

/** The crash benchmarks' two webhook receivers (one failing every third request), listening on loopback. */
export async function startReceivers(): Promise<Receivers> {
  const received: Received[] = [];
  const servers: Server[] = [receiver('flaky', received), receiver('steady', received)];
  const ports = await Promise.all(
    servers.map(async (server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    }),
  );
  return {
    received,
    ports: { flaky: ports[0] ?? 0, steady: ports[1] ?? 0 },
    close() {
      for (const server of servers) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}
