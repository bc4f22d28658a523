/**
 * Notifications across agent deaths: three agents share probes whose targets
 * flap, a rule fires and resolves on each, and the shared outbox in PostgreSQL
 * delivers to two webhook receivers, one failing every third request (429 with
 * Retry-After, or 503). A random agent is killed with SIGKILL again and again
 * and started again each time (same name and local store). At the end the
 * targets settle, the fleet drains its outbox and stops cleanly, and the
 * verdict of bench/webhook-receivers.ts is applied to PostgreSQL's
 * alert_outbox: every notification delivered, duplicates only under the same
 * Idempotency-Key (counted), no resolution before its firing, signatures valid.
 *
 *   node --import tsx bench/fleet-notifications.bench.ts [--kills 20] [--probes 30] [--up 3s-7s] [--keep DIR]
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { startFleetWorld, sleep, type Agent } from '../test/helpers/fleet-world.ts';
import { FLEET_BENCH_ENV, fleetConfig, flapping, startReceivers, stopAll, until } from './fleet-bench.ts';
import { deliveryVerdict, type ChannelName } from './webhook-receivers.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    probes: { type: 'string', default: '30' },
    up: { type: 'string', default: '3s-7s' },
    keep: { type: 'string' },
  },
});
const KILLS = Number(values.kills);
const PROBES = Number(values.probes);
const [UP_MIN, UP_MAX] = (values.up ?? '3s-7s').split('-').map((d) => parseDuration(d) ?? 5000) as [number, number];
const NAMES = ['a1', 'a2', 'a3'];

const receivers = await startReceivers();
const world = await startFleetWorld({ env: FLEET_BENCH_ENV, ...(values.keep ? { keep: values.keep } : {}) });
fleetConfig(world, { probes: PROBES, hooks: receivers.ports });
world.setFault(flapping);
const agents = new Map<string, Agent>();
async function start(name: string): Promise<number> {
  const agent = await world.startAgent(name, 'eu-west');
  agents.set(name, agent);
  return world.healthy(agent);
}
for (const name of NAMES) await start(name);

async function count(sql: string): Promise<number> {
  const { rows } = await world.db.query<{ n: number }>(sql);
  return rows[0]?.n ?? -1;
}
const leader = async () =>
  (await world.db.query<{ agent: string }>('SELECT agent FROM fleet_leader WHERE until > now()')).rows[0]?.agent ?? '';

interface KillRow {
  kill: number;
  agent: string;
  'was leader': boolean;
  'up s': string;
  'outbox rows': number;
  'pending at kill': number;
  'in flight at kill': number;
  'restart ms': number;
}
const table: KillRow[] = [];
for (let kill = 1; kill <= KILLS; kill++) {
  const up = randomInt(UP_MIN, UP_MAX + 1);
  await sleep(up);
  const name = NAMES[randomInt(0, NAMES.length)] ?? 'a1';
  const wasLeader = (await leader()) === name;
  const rows = await count('SELECT count(*)::int AS n FROM alert_outbox');
  const pending = await count(`SELECT count(*)::int AS n FROM alert_outbox WHERE status = 'pending'`);
  const inFlight = await count(
    `SELECT count(*)::int AS n FROM alert_outbox WHERE status = 'pending' AND lease_until IS NOT NULL`,
  );
  const victim = agents.get(name);
  victim?.child.kill('SIGKILL');
  await victim?.exited;
  const restartMs = await start(name);
  const row = {
    kill,
    agent: name,
    'was leader': wasLeader,
    'up s': (up / 1000).toFixed(1),
    'outbox rows': rows,
    'pending at kill': pending,
    'in flight at kill': inFlight,
    'restart ms': restartMs,
  };
  table.push(row);
  process.stderr.write(`kill ${kill}/${KILLS}: ${JSON.stringify(row)}\n`);
}

// Settle: targets up, every alert resolved and every notification finished.
world.setFault(undefined);
const settleStarted = Date.now();
await until(
  'the outbox drained and every alert resolved',
  async () => {
    const pending = await count(`SELECT count(*)::int AS n FROM alert_outbox WHERE status = 'pending'`);
    const firing = await count(`SELECT count(*)::int AS n FROM alerts WHERE status <> 'ok'`);
    return pending === 0 && firing === 0 ? true : undefined;
  },
  300_000,
);
const settleMs = Date.now() - settleStarted;
await stopAll(agents.values());

const outbox = (
  await world.db.query<{ key: string; channel: ChannelName; event: string; status: string }>(
    'SELECT idempotency_key AS key, channel, event, status FROM alert_outbox',
  )
).rows;
const received = receivers.received;
const verdict = deliveryVerdict(received, outbox);
console.table(table);
console.table([
  {
    kills: KILLS,
    probes: PROBES,
    'leader kills': table.filter((row) => row['was leader']).length,
    'notifications queued': outbox.length,
    'not delivered': verdict.undelivered,
    requests: received.length,
    'failed answers (429/503)': received.filter((r) => r.status >= 400).length,
    'duplicate deliveries (same key)': verdict.duplicateCopies,
    'duplicates with other bytes': verdict.differentBytes,
    'one notification, two keys': verdict.underTwoKeys,
    'invalid signatures': verdict.invalidSignatures,
    'resolutions before firing': verdict.resolutionsFirst,
    'final drain s': (settleMs / 1000).toFixed(1),
  },
]);
const byEvent: Record<string, number> = {};
for (const row of outbox) byEvent[`${row.channel} ${row.event}`] = (byEvent[`${row.channel} ${row.event}`] ?? 0) + 1;
console.table([byEvent]);

await world.close();
receivers.close();
process.exitCode =
  verdict.undelivered === 0 &&
  verdict.differentBytes === 0 &&
  verdict.underTwoKeys === 0 &&
  verdict.invalidSignatures === 0 &&
  verdict.resolutionsFirst === 0
    ? 0
    : 1;
