// A fleet of agents on a private PostgreSQL: balanced placement, rebalancing, failover with fencing, `any` probes, leadership.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import pino from 'pino';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { Fleet, fleetPool, type FleetEvent } from '../../src/fleet/fleet.ts';
import { startFleet } from '../../src/fleet/start.ts';
import { loadConfig } from '../../src/config/load.ts';
import { FLEET_MIGRATIONS, migrateFleet } from '../../src/fleet/migrations.ts';
import { ANY_LOCATION, type PlaceableProbe } from '../../src/fleet/placement.ts';
import { systemClock, type Clock } from '../../src/util/clock.ts';
import { Router } from '../../src/server/router.ts';
import { registerAgentRoutes, type AgentsAnswer } from '../../src/server/routes/agents.ts';

// Real time with short leases: a lease of 2 s renewed every 200 ms, so a failover takes about 2.2 s.
const LEASE = 2000;
const BEAT = 200;

let server: TestPostgres;
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server.stop();
});

interface TestAgent {
  fleet: Fleet;
  pool: pg.Pool;
  /** Stops its heartbeats without giving anything up, as `kill -9` would leave it. */
  kill(): void;
  /** A clean stop (or, once killed, only the pool's end). */
  close(): Promise<void>;
}

/** The system clock whose timers stop firing once killed: the agent's beats stop, its process (this one) lives on. */
function killableClock(): { clock: Clock; kill(): void } {
  let dead = false;
  return {
    clock: {
      now: () => systemClock.now(),
      monotonic: () => systemClock.monotonic(),
      setTimer: (callback, ms) =>
        systemClock.setTimer(() => {
          if (!dead) callback();
        }, ms),
    },
    kill: () => void (dead = true),
  };
}

const silent = pino({ level: 'silent' });

async function startAgent(
  url: string,
  name: string,
  location: string,
  probes: PlaceableProbe[],
  { logger = silent, configHash = 'same' }: { logger?: pino.Logger; configHash?: string } = {},
): Promise<TestAgent> {
  const pool = fleetPool(url);
  const killable = killableClock();
  const clock = killable.clock;
  let killed = false;
  const identity = { name, location, host: 'test', pid: process.pid, version: '0.0.0', configHash };
  const fleet = new Fleet({ database: pool, identity, probes, clock, logger, leaseMs: LEASE, heartbeatMs: BEAT });
  await fleet.start().catch(async (error: unknown) => {
    await pool.end();
    throw error;
  });
  return {
    fleet,
    pool,
    kill() {
      killed = true;
      killable.kill();
    },
    async close() {
      if (!killed) await fleet.stop();
      await pool.end();
    },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Samples owns() of every agent for every probe every few milliseconds; a probe owned by two at one instant is a violation. */
function watchOwnership(agents: TestAgent[], probes: string[]) {
  const violations: string[] = [];
  let samples = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    samples++;
    for (const probe of probes) {
      const owners = agents.filter((agent) => agent.fleet.owns(probe, now)).map((agent) => agent.fleet.name);
      if (owners.length > 1) violations.push(`${new Date(now).toISOString()} ${probe}: ${owners.join(', ')}`);
    }
  }, 5);
  // A failed assertion skips stop(): the sampling must not keep the test process alive after it.
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return { violations, samples };
    },
  };
}

const named = (count: number, prefix = 'p'): PlaceableProbe[] =>
  Array.from({ length: count }, (_, i) => ({ name: `${prefix}${i + 1}` }));

const ownedBy = (agents: TestAgent[]) => agents.map((agent) => agent.fleet.owned());

test('migrations run once, recorded in fleet_migrations, also when agents start together', async () => {
  const url = await server.freshDatabase();
  const pools = [fleetPool(url), fleetPool(url), fleetPool(url)];
  try {
    const ran = await Promise.all(pools.map((pool) => migrateFleet(pool)));
    assert.deepEqual(ran.flat(), [1]);
    const pool = pools[0] as pg.Pool;
    const { rows } = await pool.query<{ version: number }>('SELECT version FROM fleet_migrations ORDER BY version');
    assert.deepEqual(
      rows.map((row) => row.version),
      FLEET_MIGRATIONS.map((m) => m.version),
    );
    assert.deepEqual(await migrateFleet(pool), []);
  } finally {
    await Promise.all(pools.map((pool) => pool.end()));
  }
});

test('three agents in two locations: each location runs every probe once, balanced; an `any` probe runs once in the fleet', async () => {
  const url = await server.freshDatabase();
  const probes: PlaceableProbe[] = [
    ...named(6),
    { name: 'west-only', locations: ['eu-west'] },
    { name: 'anywhere', locations: 'any' },
  ];
  const agents = [
    await startAgent(url, 'west-a', 'eu-west', probes),
    await startAgent(url, 'west-b', 'eu-west', probes),
    await startAgent(url, 'east-a', 'us-east', probes),
  ];
  const [westA, westB, east] = agents as [TestAgent, TestAgent, TestAgent];
  try {
    const local = [...named(6).map((p) => p.name), 'west-only'];
    const settled = () => {
      const west = [...westA.fleet.owned(), ...westB.fleet.owned()].filter((p) => p !== 'anywhere');
      const anywhere = agents.filter((agent) => agent.fleet.owns('anywhere')).length;
      return (
        west.length === 7 &&
        new Set(west).size === 7 &&
        east.fleet.owned().filter((p) => p !== 'anywhere').length === 6 &&
        anywhere === 1
      );
    };
    await waitFor('placement settles', settled);
    const watch = watchOwnership([westA, westB], local);
    const watchAny = watchOwnership(agents, ['anywhere']);
    await new Promise((resolve) => setTimeout(resolve, 10 * BEAT));
    assert.ok(settled(), `placement moved: ${JSON.stringify(ownedBy(agents))}`);
    const westCounts = [westA, westB].map((a) => a.fleet.owned().filter((p) => p !== 'anywhere').length).sort();
    assert.deepEqual(westCounts, [3, 4], 'seven probes split 4 and 3 between two agents');
    assert.ok(!east.fleet.owns('west-only'), 'a probe listed for eu-west does not run in us-east');
    assert.deepEqual(watch.stop().violations, []);
    assert.deepEqual(watchAny.stop().violations, []);
    const { rows } = await westA.pool.query<{ location: string; n: number }>(
      'SELECT location, count(*)::int AS n FROM fleet_leases WHERE until > clock_timestamp() GROUP BY location ORDER BY location',
    );
    assert.deepEqual(rows, [
      { location: ANY_LOCATION, n: 1 },
      { location: 'eu-west', n: 7 },
      { location: 'us-east', n: 6 },
    ]);
  } finally {
    for (const agent of agents) await agent.close();
  }
});

test('an agent joining takes its share: the others release their excess, no probe owned twice meanwhile', async () => {
  const url = await server.freshDatabase();
  const probes = named(6);
  const first = await startAgent(url, 'first', 'eu', probes);
  const agents = [first];
  try {
    assert.equal(first.fleet.owned().length, 6, 'alone, an agent takes every probe at its first beat');
    const events: FleetEvent[] = [];
    first.fleet.subscribe((event) => events.push(event));
    const watch = watchOwnership(
      agents,
      probes.map((p) => p.name),
    );
    agents.push(await startAgent(url, 'second', 'eu', probes));
    await waitFor('two agents share 3 and 3', () => ownedBy(agents).every((owned) => owned.length === 3));
    agents.push(await startAgent(url, 'third', 'eu', probes));
    await waitFor('three agents share 2, 2 and 2', () => ownedBy(agents).every((owned) => owned.length === 2));
    const { violations, samples } = watch.stop();
    assert.deepEqual(violations, []);
    assert.ok(samples > 50, `the watch sampled ${samples} times`);
    const changes = events.filter((event) => event.type === 'ownership');
    assert.equal(changes.flatMap((event) => event.lost).length, 4, 'told of each probe it gave up (6, then 3, then 2)');
    assert.deepEqual(changes.at(-1)?.owned, first.fleet.owned());
  } finally {
    for (const agent of agents) await agent.close();
  }
});

test('an agent killed loses its probes to the others after its lease, never owned by two at once', async (t) => {
  const url = await server.freshDatabase();
  const probes = named(9);
  const agents = [
    await startAgent(url, 'a', 'eu', probes),
    await startAgent(url, 'b', 'eu', probes),
    await startAgent(url, 'c', 'eu', probes),
  ];
  try {
    await waitFor('three agents share 3 each', () => ownedBy(agents).every((owned) => owned.length === 3));
    const watch = watchOwnership(
      agents,
      probes.map((p) => p.name),
    );
    const victim = agents[0] as TestAgent;
    const survivors = agents.slice(1);
    const orphans = victim.fleet.owned();
    const killedAt = Date.now();
    victim.kill();
    await waitFor(
      'the survivors own every probe',
      () => orphans.every((probe) => survivors.some((agent) => agent.fleet.owns(probe))),
      LEASE * 4,
    );
    const failover = Date.now() - killedAt;
    t.diagnostic(`failover took ${failover} ms (lease ${LEASE} ms, heartbeat ${BEAT} ms)`);
    // The lease was last renewed up to a beat before the kill: it ends a little less than a lease after it.
    assert.ok(failover >= LEASE / 2, `not before the lease ends: ${failover} ms`);
    assert.ok(failover < LEASE + 4 * BEAT + 500, `within lease + heartbeats: ${failover} ms`);
    // A slot is run by whoever held the lease when it was due: the victim's last slots stay the victim's.
    const lateOwners = orphans.filter((probe) => survivors.some((agent) => agent.fleet.owns(probe, killedAt)));
    assert.deepEqual(lateOwners, [], 'survivors would run slots due before they took the probes');
    await waitFor(
      'the survivors balance 5 and 4',
      () =>
        survivors
          .map((a) => a.fleet.owned().length)
          .sort()
          .join() === '4,5',
    );
    const { violations } = watch.stop();
    assert.deepEqual(violations, []);
    assert.deepEqual(victim.fleet.owned(), [], 'a killed agent owns nothing once its leases end');
  } finally {
    for (const agent of agents) await agent.close();
  }
});

test('a clean stop gives the probes up at once, long before the lease would end', async () => {
  const url = await server.freshDatabase();
  const probes = named(4);
  const agents = [await startAgent(url, 'a', 'eu', probes), await startAgent(url, 'b', 'eu', probes)];
  const [leaving, staying] = agents as [TestAgent, TestAgent];
  try {
    await waitFor('two agents share 2 each', () => ownedBy(agents).every((owned) => owned.length === 2));
    const stoppedAt = Date.now();
    await leaving.close();
    await waitFor('the other owns all four', () => staying.fleet.owned().length === 4, LEASE);
    assert.ok(Date.now() - stoppedAt < LEASE / 2, `taken over in ${Date.now() - stoppedAt} ms`);
    const names = (await staying.fleet.agents()).agents.map((agent) => agent.name);
    assert.deepEqual(names, ['b'], 'the stopped agent removed its row');
  } finally {
    await staying.close();
  }
});

test('one leader at a time: the leader lease is taken over once a killed leader’s lease ends', async () => {
  const url = await server.freshDatabase();
  const agents = [
    await startAgent(url, 'a', 'eu', []),
    await startAgent(url, 'b', 'eu', []),
    await startAgent(url, 'c', 'us', []),
  ];
  try {
    const leaders = () => agents.filter((agent) => agent.fleet.isLeader());
    await waitFor('one leader', () => leaders().length === 1);
    const first = leaders()[0] as TestAgent;
    const told: boolean[] = [];
    for (const agent of agents)
      if (agent !== first)
        agent.fleet.subscribe((event) => {
          if (event.type === 'leadership') told.push(event.leader);
        });
    let twoAtOnce = 0;
    const timer = setInterval(() => {
      if (leaders().length > 1) twoAtOnce++;
    }, 5).unref();
    const killedAt = Date.now();
    first.kill();
    await waitFor('another leads', () => leaders().length === 1 && leaders()[0] !== first, LEASE * 4);
    const takeover = Date.now() - killedAt;
    clearInterval(timer);
    assert.equal(twoAtOnce, 0);
    assert.deepEqual(told, [true], 'the new leader was told, once');
    assert.ok(takeover >= LEASE / 2 && takeover < LEASE + 4 * BEAT + 500, `taken over after ${takeover} ms`);
    const listed = await (leaders()[0] as TestAgent).fleet.agents();
    assert.equal(listed.agents.filter((agent) => agent.leader).length, 1);
  } finally {
    for (const agent of agents) await agent.close();
  }
});

/** A logger whose lines are kept, parsed. */
function capturingLogger(): { logger: pino.Logger; lines: Array<{ level: number; message: string }> } {
  const lines: Array<{ level: number; message: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as { level: number; message: string });
      done();
    },
  });
  return { logger: pino({ level: 'info', messageKey: 'message' }, destination), lines };
}

test('isLeader() turns true only with the leadership event: no listener is told after the fact', async () => {
  const url = await server.freshDatabase();
  const pool = fleetPool(url);
  // The leader's housekeeping after it takes the lease is slowed, widening any gap between the two.
  const slowed = new Proxy(pool, {
    get(target, key, receiver) {
      if (key !== 'query') return Reflect.get(target, key, receiver) as unknown;
      return async (text: string, values?: unknown[]) => {
        if (text.startsWith('DELETE FROM fleet_agents')) await new Promise((resolve) => setTimeout(resolve, 300));
        return target.query(text, values);
      };
    },
  });
  const identity = { name: 'solo', location: 'eu', host: 'test', pid: process.pid, version: '0.0.0', configHash: 'x' };
  const fleet = new Fleet({
    database: slowed,
    identity,
    probes: [],
    clock: systemClock,
    logger: silent,
    leaseMs: LEASE,
    heartbeatMs: BEAT,
  });
  let told = false;
  let leaderUntold = 0;
  fleet.subscribe((event) => {
    if (event.type === 'leadership') told = event.leader;
  });
  const timer = setInterval(() => {
    if (fleet.isLeader() && !told) leaderUntold++;
  }, 5);
  try {
    await fleet.start();
    await waitFor('it leads', () => told);
    await new Promise((resolve) => setTimeout(resolve, 3 * BEAT));
    assert.equal(leaderUntold, 0, 'samples where isLeader() said yes before the listeners were told');
    assert.ok(fleet.isLeader());
  } finally {
    clearInterval(timer);
    await fleet.stop();
    await pool.end();
  }
});

test('with PostgreSQL away an agent keeps running what it owned, says so once, and carries on when it is back', async () => {
  const url = await server.freshDatabase();
  const database = new URL(url).pathname.slice(1);
  const admin = new pg.Client(server.server.url);
  await admin.connect();
  const { logger, lines } = capturingLogger();
  const agent = await startAgent(url, 'alone', 'eu', named(3), { logger });
  try {
    assert.equal(agent.fleet.owned().length, 3);
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    await waitFor('the agent notices', () => agent.fleet.isDegraded());
    await new Promise((resolve) => setTimeout(resolve, LEASE + 5 * BEAT));
    assert.deepEqual(agent.fleet.owned(), ['p1', 'p2', 'p3'], 'still running its probes past the lease');
    assert.equal(agent.fleet.isLeader(), false, 'nobody leads while the database is away');
    const unreachable = lines.filter((line) => /unreachable/.test(line.message));
    assert.equal(unreachable.length, 1, 'logged once, not at every beat');
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await waitFor('the agent is back', () => !agent.fleet.isDegraded() && agent.fleet.isLeader());
    assert.deepEqual(agent.fleet.owned(), ['p1', 'p2', 'p3']);
    assert.equal(lines.filter((line) => /reachable again/.test(line.message)).length, 1);
  } finally {
    await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
    await admin.end();
    await agent.close();
  }
});

/** GET `path` from `router` over HTTP, as the admin. */
async function getJson(router: Router, path: string): Promise<{ status: number; body: unknown }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://daemon');
    const match = router.match(req.method ?? 'GET', url.pathname);
    if (!match || typeof match !== 'object') return void res.writeHead(404).end();
    void match.route.handler({ req, res, url, params: match.params, principal: { role: 'admin' } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.json() };
  } finally {
    server.close();
  }
}

test('/api/v1/agents lists every agent, live or not, and warns when live agents run different configurations', async () => {
  const url = await server.freshDatabase();
  const probes = named(4);
  const agents = [
    await startAgent(url, 'a', 'eu-west', probes),
    await startAgent(url, 'b', 'eu-west', probes, { configHash: 'newer' }),
    await startAgent(url, 'c', 'us-east', probes),
  ];
  const [a, b, c] = agents as [TestAgent, TestAgent, TestAgent];
  try {
    c.kill();
    await waitFor('a and b share eu-west, c has lapsed', () => a.fleet.owned().length === 2 && !c.fleet.owns('p1'));
    await new Promise((resolve) => setTimeout(resolve, LEASE));
    const router = new Router();
    registerAgentRoutes(router, a.fleet);
    const { status, body } = await getJson(router, '/api/v1/agents');
    assert.equal(status, 200);
    const answer = body as AgentsAnswer;
    assert.equal(answer.self, 'a');
    assert.deepEqual(
      answer.agents.map((agent) => [agent.name, agent.location, agent.live, agent.configHash, agent.self]),
      [
        ['a', 'eu-west', true, 'same', true],
        ['b', 'eu-west', true, 'newer', false],
        ['c', 'us-east', false, 'same', false],
      ],
    );
    const first = answer.agents[0];
    assert.equal(first?.pid, process.pid);
    assert.equal(first?.host, 'test');
    assert.equal(first?.version, '0.0.0');
    assert.equal(first?.probes, 2);
    assert.ok(Date.now() - Date.parse(first?.lastHeartbeat ?? '') < LEASE);
    assert.equal(answer.agents.filter((agent) => agent.leader).length, 1);
    assert.equal(answer.warnings.length, 1);
    assert.match(answer.warnings[0] ?? '', /2 different configurations: .*newer \(b\)/);
    await b.close();
    const after = (await getJson(router, '/api/v1/agents')).body as AgentsAnswer;
    assert.deepEqual(after.warnings, [], 'the dead agent c does not count: one configuration among the live');
    await a.pool.end();
    const unreachable = await getJson(router, '/api/v1/agents');
    assert.equal(unreachable.status, 503);
  } finally {
    await a.fleet.stop();
    await c.close();
  }
});

test('startFleet joins the fleet store.url names, as agent.name at agent.location, with the probes that run there', async (t) => {
  const url = await server.freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-fleet-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const probes = `probes:
  - { name: everywhere, kind: http, url: "http://127.0.0.1:9/" }
  - { name: west, kind: http, url: "http://127.0.0.1:9/", locations: [eu-west] }
  - { name: east, kind: http, url: "http://127.0.0.1:9/", locations: [us-east] }
  - { name: once, kind: http, url: "http://127.0.0.1:9/", locations: any }
  - { name: disabled, kind: http, url: "http://127.0.0.1:9/", enabled: false }
`;
  writeFileSync(
    join(dir, 'fleet.yaml'),
    `store: { path: ${join(dir, 'a.db')}, url: "${url}" }\nagent: { name: west-1, location: eu-west }\n${probes}`,
  );
  writeFileSync(join(dir, 'single.yaml'), `store: { path: ${join(dir, 'b.db')} }\n${probes}`);
  const deps = { clock: systemClock, logger: silent, leaseMs: LEASE, heartbeatMs: BEAT };
  assert.equal(await startFleet(loadConfig(join(dir, 'single.yaml')), deps), undefined, 'no store.url, no fleet');
  const fleet = await startFleet(loadConfig(join(dir, 'fleet.yaml')), deps);
  assert.ok(fleet);
  try {
    assert.equal(fleet.name, 'west-1');
    assert.equal(fleet.location, 'eu-west');
    assert.deepEqual(fleet.owned(), ['everywhere', 'once', 'west']);
    assert.ok(fleet.owns('west') && !fleet.owns('east'));
    assert.equal(fleet.isLeader(), true);
  } finally {
    await fleet.stop();
  }
});

test('probes that read one another’s output run on one agent, wherever the balance puts them', async () => {
  const url = await server.freshDatabase();
  const probes: PlaceableProbe[] = [
    { name: 'mail-roundtrip' },
    { name: 'web-inbox', after: ['mail-roundtrip'] },
    { name: 'tracking', after: ['mail-roundtrip'] },
    ...named(5),
  ];
  const agents = [await startAgent(url, 'a', 'eu', probes), await startAgent(url, 'b', 'eu', probes)];
  try {
    // Six leases (the mail unit and five probes) split 3 and 3.
    await waitFor('two agents share six leases', () => {
      const owned = ownedBy(agents);
      return owned.flat().length === 8 && owned.every((list) => list.length >= 3);
    });
    const holder = agents.find((agent) => agent.fleet.owns('mail-roundtrip'));
    assert.ok(holder);
    assert.ok(holder.fleet.owns('web-inbox') && holder.fleet.owns('tracking'), JSON.stringify(ownedBy(agents)));
  } finally {
    for (const agent of agents) await agent.close();
  }
});

test('a second live agent with the same name is refused; a restart after a crash takes its leases back at once', async () => {
  const url = await server.freshDatabase();
  const probes = named(3);
  const first = await startAgent(url, 'twin', 'eu', probes);
  try {
    await assert.rejects(startAgent(url, 'twin', 'eu', probes), /another agent named "twin" is alive/);
    assert.equal(first.fleet.owned().length, 3, 'the first keeps its probes');
    first.kill();
    const restarted = await startAgent(url, 'twin', 'eu', probes);
    try {
      assert.equal(restarted.fleet.owned().length, 3, 'its own leases, renewed at its first beat');
    } finally {
      await restarted.close();
    }
  } finally {
    await first.close();
  }
});

test('a fleet pool survives the server closing its idle connection (a restart, a failover)', async () => {
  const url = await server.freshDatabase();
  const pool = fleetPool(url);
  try {
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const admin = fleetPool(url);
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
    await admin.end();
    // The idle client's error reaches the pool: without a listener it would be thrown out of the process.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await pool.query<{ one: number }>('SELECT 1 AS one');
    assert.equal(again.rows[0]?.one, 1);
  } finally {
    await pool.end();
  }
});
