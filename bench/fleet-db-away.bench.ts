/**
 * PostgreSQL away under load: agents share probes every second, with an alert
 * rule and a webhook receiver. PostgreSQL is stopped for two minutes; while it
 * is away some probes fail for a while and recover, and we record what each
 * agent's /ready says. Then PostgreSQL starts again and we measure the time
 * until every agent has caught up (its runs since the return stored and /ready
 * green) and until the notifications for the failure seen while it was away
 * are delivered. At the end every agent stops cleanly: 0 runs lost (every run
 * uid in an agent's local SQLite under its name is in PostgreSQL), 0
 * notifications lost (a firing and a resolution delivered for each failed
 * probe, and every queued notification delivered).
 *
 *   node --import tsx bench/fleet-db-away.bench.ts [--agents 3] [--probes 30] [--away 2m] [--failing 5] [--keep DIR]
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { startFleetWorld, sleep, type Agent } from '../test/helpers/fleet-world.ts';
import { FLEET_BENCH_ENV, fleetConfig, runsLost, startReceivers, stopAll, until } from './fleet-bench.ts';
import { deliveryVerdict, type ChannelName } from './webhook-receivers.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '3' },
    probes: { type: 'string', default: '30' },
    away: { type: 'string', default: '2m' },
    failing: { type: 'string', default: '5' },
    keep: { type: 'string' },
  },
});
const AGENTS = Number(values.agents);
const PROBES = Number(values.probes);
const AWAY = parseDuration(values.away ?? '2m') ?? 120_000;
const FAILING = Number(values.failing);

const receivers = await startReceivers();
const world = await startFleetWorld({ env: FLEET_BENCH_ENV, ...(values.keep ? { keep: values.keep } : {}) });
fleetConfig(world, { probes: PROBES, hooks: { flaky: receivers.ports.flaky, steady: receivers.ports.steady } });
const agents: Agent[] = [];
for (let i = 1; i <= AGENTS; i++) agents.push(await world.startAgent(`a${i}`, 'eu-west'));
for (const agent of agents) await world.healthy(agent);
await until('every probe leased', async () => {
  const { rows } = await world.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM fleet_leases WHERE until > now() AND agent IS NOT NULL',
  );
  return (rows[0]?.n ?? 0) >= PROBES ? true : undefined;
});
await sleep(5_000);

const ready = (agent: Agent) =>
  fetch(`http://127.0.0.1:${agent.port}/ready`).then(
    async (r) => `${r.status} ${await r.text()}`,
    (error: unknown) => `no answer: ${String(error)}`,
  );

// Away: the failure starts a quarter into the outage and ends at three quarters.
await world.postgres.stop();
const stoppedAt = Date.now();
await sleep(AWAY / 4);
world.setFault((_location, probe) => probe < FAILING);
const failedFrom = Date.now();
await sleep(AWAY / 4);
const readyAway = await Promise.all(agents.map(async (agent) => ({ agent: agent.name, '/ready': await ready(agent) })));
await sleep(AWAY / 4);
world.setFault(undefined);
const failedUntil = Date.now();
await sleep(AWAY - (Date.now() - stoppedAt));
await world.postgres.start();
const backAt = Date.now();

const caughtUp = await until(
  'every agent caught up',
  async () => {
    const states = await Promise.all(agents.map(ready));
    if (!states.every((state) => state.startsWith('200'))) return undefined;
    const { rows } = await world.db.query<{ n: number }>(
      'SELECT count(DISTINCT agent)::int AS n FROM runs WHERE started_at > $1',
      [backAt],
    );
    return (rows[0]?.n ?? 0) >= AGENTS ? Date.now() - backAt : undefined;
  },
  300_000,
);
const failed = Array.from({ length: FAILING }, (_, i) => `p${i}`);
const delivered = await until(
  'the failure notified, fired and resolved',
  async () => {
    const { rows } = await world.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM alert_outbox
        WHERE (body::json -> 'alert' -> 'labels' ->> 'probe') = ANY($1) AND status = 'delivered'
          AND event IN ('firing', 'resolved')`,
      [failed],
    );
    const pending = await world.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM alert_outbox WHERE status = 'pending'`,
    );
    const firing = await world.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts WHERE status <> 'ok'`);
    const settled = pending.rows[0]?.n === 0 && firing.rows[0]?.n === 0;
    return (rows[0]?.n ?? 0) >= failed.length * 4 && settled ? Date.now() - backAt : undefined;
  },
  180_000,
).catch(() => Number.NaN);
const notified = await world.db.query<{ probe: string; event: string; status: string; n: number }>(
  `SELECT body::json -> 'alert' -> 'labels' ->> 'probe' AS probe, event, status, count(*)::int AS n
     FROM alert_outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
);
await stopAll(agents);

const { local, lost } = await runsLost(
  world,
  agents.map((agent) => agent.name),
);
const outbox = (
  await world.db.query<{ key: string; channel: ChannelName; event: string; status: string }>(
    'SELECT idempotency_key AS key, channel, event, status FROM alert_outbox',
  )
).rows;
const awayRuns = await world.db.query<{ n: number }>(
  'SELECT count(*)::int AS n FROM runs WHERE started_at >= $1 AND started_at < $2',
  [stoppedAt, backAt],
);
// Runs of the probes whose target never failed that failed all the same (timeouts on a loaded machine), by error.
const strayFailures = await world.db.query<{ error: string; n: number }>(
  `SELECT coalesce(error_code, '') || ' ' || left(coalesce(error_message, ''), 60) AS error, count(*)::int AS n
     FROM runs WHERE status = 2 AND NOT (probe = ANY($1)) GROUP BY 1 ORDER BY 2 DESC LIMIT 5`,
  [failed],
);
const verdict = deliveryVerdict(receivers.received, outbox);
console.table(readyAway);
console.table(notified.rows);
console.table(strayFailures.rows);
console.table([
  {
    agents: AGENTS,
    probes: PROBES,
    'away s': ((backAt - stoppedAt) / 1000).toFixed(0),
    'failing probes': FAILING,
    'failing s (while away)': ((failedUntil - failedFrom) / 1000).toFixed(0),
    'runs made while away': awayRuns.rows[0]?.n ?? -1,
    'runs in local stores': local,
    'runs lost': lost,
    'caught up s': (caughtUp / 1000).toFixed(1),
    'notified s': (delivered / 1000).toFixed(1),
    'notifications queued': outbox.length,
    'not delivered': verdict.undelivered,
    'duplicates (same key)': verdict.duplicateCopies,
    'resolutions before firing': verdict.resolutionsFirst,
    'invalid signatures': verdict.invalidSignatures,
  },
]);
await world.close();
receivers.close();
process.exitCode =
  lost === 0 && Number.isFinite(delivered) && verdict.undelivered === 0 && verdict.resolutionsFirst === 0 ? 0 : 1;
