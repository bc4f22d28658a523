/**
 * Fleet throughput: 1, 2 and 3 agents (pure workers, agent.replica false)
 * with PostgreSQL on this machine run probes against a local HTTP target,
 * sized for 30,000 probes a minute in total (500 probes every second by
 * default), with an alert rule over all of them evaluated by the leader. Over
 * a steady window after a warm-up we measure the runs stored in PostgreSQL per
 * minute, the fleet's scheduler lateness p99 (the agents' histogram
 * scaiprobe_scheduler_lateness_seconds, summed), and the CPU seconds of each
 * agent and of PostgreSQL (postmaster and backends, from /proc). Target:
 * 30,000 stored a minute with lateness p99 under 100 ms (the histogram's bucket
 * of 100 ms or below).
 *
 *   node --import tsx bench/fleet-throughput.bench.ts [--agents 1,2,3] [--probes 500] [--every 1s]
 *     [--warmup 20s] [--window 60s] [--without-rule]
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { startFleetWorld, sleep, type Agent, type FleetWorld } from '../test/helpers/fleet-world.ts';
import {
  FLEET_BENCH_ENV,
  cpuSeconds,
  fleetConfig,
  histogramDelta,
  histogramQuantileMs,
  lateness,
  postgresCpuSeconds,
  startReceivers,
  stopAll,
  until,
} from './fleet-bench.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '1,2,3' },
    probes: { type: 'string', default: '500' },
    every: { type: 'string', default: '1s' },
    warmup: { type: 'string', default: '20s' },
    window: { type: 'string', default: '60s' },
    'without-rule': { type: 'boolean', default: false },
  },
});
const PROBES = Number(values.probes);
const EVERY_MS = parseDuration(values.every ?? '1s') ?? 1000;
const WARMUP = parseDuration(values.warmup ?? '20s') ?? 20_000;
const WINDOW = parseDuration(values.window ?? '60s') ?? 60_000;
const TARGET_PER_MINUTE = 30_000;

const receivers = await startReceivers();

async function storedRuns(world: FleetWorld): Promise<number> {
  const { rows } = await world.db.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
  return rows[0]?.n ?? 0;
}

async function snapshot(world: FleetWorld, agents: Agent[]) {
  return {
    at: Date.now(),
    stored: await storedRuns(world),
    lateness: await Promise.all(agents.map(lateness)),
    cpu: agents.map((agent) => cpuSeconds(agent.child.pid)),
    postgres: postgresCpuSeconds(world.postgres.pid()),
  };
}

async function measure(count: number) {
  const world = await startFleetWorld({ env: FLEET_BENCH_ENV });
  fleetConfig(world, {
    probes: PROBES,
    every: values.every ?? '1s',
    replica: false,
    ...(values['without-rule'] ? {} : { hooks: { flaky: receivers.ports.flaky } }),
  });
  const agents: Agent[] = [];
  for (let i = 1; i <= count; i++) agents.push(await world.startAgent(`w${i}`, 'default'));
  for (const agent of agents) await world.healthy(agent);
  await until(
    'every probe leased',
    async () => {
      const { rows } = await world.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM fleet_leases WHERE until > now() AND agent IS NOT NULL',
      );
      return (rows[0]?.n ?? 0) >= PROBES ? true : undefined;
    },
    120_000,
  );
  await sleep(WARMUP);
  const before = await snapshot(world, agents);
  await sleep(WINDOW);
  const after = await snapshot(world, agents);
  const minutes = (after.at - before.at) / 60_000;
  const late = histogramDelta(before.lateness.map((h, i) => [h, after.lateness[i] ?? h]));
  const row = {
    agents: count,
    'probes/min scheduled': Math.round((PROBES * 60_000) / EVERY_MS),
    'stored/min': Math.round((after.stored - before.stored) / minutes),
    'slots/min run': Math.round(late.count / minutes),
    'lateness p50 ms': histogramQuantileMs(late, 0.5),
    'lateness p99 ms': histogramQuantileMs(late, 0.99),
    'agent CPU s/min': agents
      .map((_, i) => ((after.cpu[i] ?? 0) - (before.cpu[i] ?? 0)) / minutes)
      .map((s) => s.toFixed(1))
      .join(' '),
    'PostgreSQL CPU s/min': ((after.postgres - before.postgres) / minutes).toFixed(1),
  };
  process.stderr.write(`${JSON.stringify(row)}\n`);
  await stopAll(agents);
  await world.close();
  return row;
}

const rows = [];
for (const count of (values.agents ?? '1,2,3').split(',').map(Number)) rows.push(await measure(count));
receivers.close();
console.table(rows);
process.exitCode = rows.some((row) => row['stored/min'] >= TARGET_PER_MINUTE * 0.98 && row['lateness p99 ms'] <= 100)
  ? 0
  : 1;
