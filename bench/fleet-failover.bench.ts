/**
 * Fleet failover under load: three agents in one location (and optionally one
 * more in a second) share N probes run every second. A random agent of the
 * first location is killed with SIGKILL, again and again; after each kill we
 * wait until every probe it held has run at another agent (the failover time,
 * from the kill to the latest of those first runs), then start it again under
 * its name and local store, so its spool flushes. At the end every agent stops
 * cleanly, and we count the slots run twice at one location (two runs of one
 * probe at one location in one slot of the fleet's shared grid) and the runs lost
 * (a run uid in an agent's local SQLite under its name, missing from
 * PostgreSQL). Targets: failover under 30 s, 0 twice, 0 lost.
 *
 *   node --import tsx bench/fleet-failover.bench.ts [--kills 10] [--probes 60] [--second-location] [--keep DIR]
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startFleetWorld, sleep, type Agent } from '../test/helpers/fleet-world.ts';
import { fleetConfig, percentile, runsLost, stopAll, until } from './fleet-bench.ts';
import { sharedSlotGrid } from '../src/runner/slot-grid.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    probes: { type: 'string', default: '60' },
    'second-location': { type: 'boolean', default: false },
    keep: { type: 'string' },
  },
});
const KILLS = Number(values.kills);
const PROBES = Number(values.probes);
const LOCATION = 'eu-west';
/** The probes' interval and the scheduler's jitter in fleetConfig (the default 10 %). */
const EVERY_MS = 1_000;
const JITTER = 0.1;
const TIMER_SLACK_MS = 10;

const world = await startFleetWorld(values.keep ? { keep: values.keep } : {});
fleetConfig(world, { probes: PROBES });
const agents = new Map<string, Agent>();
async function start(name: string, location: string): Promise<number> {
  const agent = await world.startAgent(name, location);
  agents.set(name, agent);
  return world.healthy(agent);
}
for (const name of ['a1', 'a2', 'a3']) await start(name, LOCATION);
if (values['second-location']) await start('b1', 'us-east');

async function leased(name: string): Promise<string[]> {
  const { rows } = await world.db.query<{ probe: string }>(
    'SELECT probe FROM fleet_leases WHERE agent = $1 AND location = $2 AND until > now()',
    [name, LOCATION],
  );
  return rows.map((row) => row.probe);
}

/** Waits until each agent of the location holds its share. */
async function balanced(): Promise<void> {
  const share = Math.ceil(PROBES / 3);
  await until(
    'a balanced placement',
    async () => {
      const counts = await Promise.all(['a1', 'a2', 'a3'].map(leased));
      const total = counts.reduce((n, list) => n + list.length, 0);
      return total === PROBES && counts.every((list) => list.length >= share - 1) ? true : undefined;
    },
    90_000,
  );
}

/** Milliseconds from the kill to each probe's first run at another agent of the location. */
async function takeover(killed: string, probes: string[], killedAt: number): Promise<number[]> {
  return until(
    `${killed}'s probes running elsewhere`,
    async () => {
      const { rows } = await world.db.query<{ probe: string; first: string }>(
        `SELECT probe, min(started_at) AS first FROM runs
          WHERE location = $1 AND agent <> $2 AND started_at > $3 AND probe = ANY($4) GROUP BY probe`,
        [LOCATION, killed, killedAt, probes],
      );
      return rows.length === probes.length ? rows.map((row) => Number(row.first) - killedAt) : undefined;
    },
    120_000,
  );
}

interface KillRow {
  kill: number;
  agent: string;
  probes: number;
  'first takeover s': string;
  'failover s (last probe)': string;
  'restart ms': number;
}
const table: KillRow[] = [];
for (let kill = 1; kill <= KILLS; kill++) {
  await balanced();
  await sleep(randomInt(2_000, 5_000));
  const name = `a${randomInt(1, 4)}`;
  const victim = agents.get(name);
  if (!victim) throw new Error(`no agent ${name}`);
  const probes = await leased(name);
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await victim.exited;
  const times = await takeover(name, probes, killedAt);
  const restartMs = await start(name, LOCATION);
  const row = {
    kill,
    agent: name,
    probes: probes.length,
    'first takeover s': (Math.min(...times) / 1000).toFixed(1),
    'failover s (last probe)': (Math.max(...times) / 1000).toFixed(1),
    'restart ms': restartMs,
  };
  table.push(row);
  process.stderr.write(`kill ${kill}/${KILLS}: ${JSON.stringify(row)}\n`);
}

await sleep(5_000);
await stopAll(agents.values());
// Every agent computes the same slots (the fleet's shared grid): a run belongs to the latest slot due by its start.
const grid = sharedSlotGrid(JITTER);
const all = await world.db.query<{ probe: string; location: string; agent: string; started_at: string }>(
  'SELECT probe, location, agent, started_at FROM runs',
);
const bySlot = new Map<string, string[]>();
const sinceSlot: number[] = [];
for (const run of all.rows) {
  const startedAt = Number(run.started_at);
  // A timer may fire a millisecond before the wall clock reaches its slot: a few ms of slack, far below an interval.
  const slot = grid.indexAt(run.probe, EVERY_MS, startedAt + TIMER_SLACK_MS);
  sinceSlot.push(startedAt - grid.timeOf(run.probe, EVERY_MS, slot));
  const key = `${run.probe}\u0000${run.location}\u0000${String(slot)}`;
  bySlot.set(key, [...(bySlot.get(key) ?? []), run.agent]);
}
const twice = [...bySlot.values()].filter((runners) => runners.length > 1);
const { local, lost } = await runsLost(world, [...agents.keys()]);
const stored = await world.db.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
const failovers = table.map((row) => Number(row['failover s (last probe)']));

console.table(table);
const summary = {
  kills: KILLS,
  probes: PROBES,
  agents: agents.size,
  'failover p50 s': percentile(failovers, 0.5).toFixed(1),
  'failover max s': Math.max(...failovers).toFixed(1),
  'slots run twice': twice.length,
  'of which by two agents': twice.filter((runners) => new Set(runners).size > 1).length,
  'start after slot p99 ms': Math.round(percentile(sinceSlot, 0.99)),
  'runs in local stores': local,
  'runs in PostgreSQL': stored.rows[0]?.n ?? -1,
  'runs lost': lost,
};
console.table([summary]);
await world.close();
process.exitCode = Math.max(...failovers) < 30 && summary['slots run twice'] === 0 && lost === 0 ? 0 : 1;
