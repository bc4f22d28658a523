// A fleet as operators run it: PostgreSQL and three agents in two locations, placement balanced, quorum paging once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFleetWorld, sleep, type Agent, type FleetWorld } from '../helpers/fleet-world.ts';
import { runCli, waitFor } from '../helpers/cli.ts';

interface Hook {
  type: string;
  probe: string;
}

let world: FleetWorld;
let configFile: string;
let receiver: Server;
const hooks: Hook[] = [];
const agents: Agent[] = [];

/** Waits as the other tests do, with the time a fleet needs to settle on a loaded machine. */
const until = <T>(what: string, check: () => Promise<T | undefined>) => waitFor(what, check, 30_000);

function hookWhere(match: (hook: Hook) => boolean): Promise<Hook | undefined> {
  const found: Hook | undefined = hooks.find(match);
  return Promise.resolve(found);
}

async function api<T>(agent: Agent, path: string): Promise<T> {
  const response = await fetch(`http://127.0.0.1:${agent.port}${path}`);
  return (await response.json()) as T;
}

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        type: string;
        alert: { labels: { probe: string } };
      };
      hooks.push({ type: body.type, probe: body.alert.labels.probe });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookPort = (receiver.address() as AddressInfo).port;
  world = await startFleetWorld();
  configFile = world.writeConfig(`store: { url: "\${SCAIPROBE_DATABASE_URL}" }
log: { level: warn }
probes:
${Array.from({ length: 6 }, (_, i) => `  - { name: q${i}, kind: http, url: "http://127.0.0.1:${world.targetPort}/t/${i}", every: 1s, timeout: 1s }`).join('\n')}
alerts:
  channels:
    - { name: hook, type: webhook, url: "http://127.0.0.1:${hookPort}/hook" }
  rules:
    - { name: down, probes: ["q*"], channels: [hook], failures: 2, successes: 2, quorum: 2 }
`);
  for (const [name, location] of [
    ['a1', 'eu-west'],
    ['a2', 'eu-west'],
    ['b1', 'us-east'],
  ] as const)
    agents.push(await world.startAgent(name, location));
  for (const agent of agents) await world.healthy(agent);
});

after(async () => {
  await world.close();
  receiver.closeAllConnections();
  receiver.close();
});

test('each location runs every probe; within eu-west the two agents share them evenly', async () => {
  const [a1] = agents;
  assert.ok(a1);
  const shares = await until('a balanced placement', async () => {
    const { agents: listed } = await api<{ agents: Array<{ name: string; probes: number; live: boolean }> }>(
      a1,
      '/api/v1/agents',
    );
    const shares = Object.fromEntries(listed.map((agent) => [agent.name, agent.probes]));
    return shares.a1 === 3 && shares.a2 === 3 && shares.b1 === 6 ? shares : undefined;
  });
  assert.deepEqual(shares, { a1: 3, a2: 3, b1: 6 });
  // Over the last seconds, each probe ran in eu-west at one agent only.
  await sleep(3_000);
  const { rows } = await world.db.query<{ probe: string; agents: number }>(
    `SELECT probe, count(DISTINCT agent)::int AS agents FROM runs
      WHERE location = 'eu-west' AND started_at > (extract(epoch from now()) * 1000 - 2500) GROUP BY probe ORDER BY probe`,
  );
  assert.deepEqual(
    rows.map((row) => [row.probe, row.agents]),
    ['q0', 'q1', 'q2', 'q3', 'q4', 'q5'].map((probe) => [probe, 1]),
  );
});

test('a failure seen from one location is local and pages nobody under quorum 2; from both, it pages once', async () => {
  const [a1, , b1] = agents;
  assert.ok(a1 && b1);
  world.setFault((location, probe) => probe === 0 && location === 'eu-west');
  const local = await until('q0 failing only from eu-west', async () => {
    const { alerts } = await api<{
      alerts: Array<{ target: string; status: string; local: { message: string } | null }>;
    }>(b1, '/api/v1/alerts');
    return alerts.find((alert) => alert.target === 'q0' && alert.local);
  });
  assert.equal(local.status, 'ok');
  assert.match(local.local?.message ?? '', /failing only from eu-west since/);
  await sleep(4_000);
  assert.deepEqual(hooks, [], 'nothing is paged for a failure one location sees');

  world.setFault((location, probe) => probe === 1 || (probe === 0 && location === 'eu-west'));
  await until('q1 firing', () => hookWhere((hook) => hook.probe === 'q1'));
  await sleep(4_000);
  assert.deepEqual(hooks, [{ type: 'alert.firing', probe: 'q1' }]);

  world.setFault(undefined);
  await until('q1 resolved', () => hookWhere((hook) => hook.type === 'alert.resolved'));
  await sleep(3_000);
  assert.deepEqual(hooks, [
    { type: 'alert.firing', probe: 'q1' },
    { type: 'alert.resolved', probe: 'q1' },
  ]);
});

test("scaiprobe alert test in a fleet queues in PostgreSQL's outbox and is delivered from there", async () => {
  const before = hooks.length;
  const result = await runCli(['alert', 'test', 'hook', '--config', configFile], {
    SCAIPROBE_DATABASE_URL: world.postgres.url,
  });
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /^delivered to hook \(HTTP 200, 1 attempt\)/);
  assert.deepEqual(
    hooks.slice(before).map((hook) => hook.type),
    ['alert.test'],
  );
  const { rows } = await world.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM alert_outbox WHERE channel = 'hook' AND status = 'delivered' AND event = 'test'",
  );
  assert.equal(rows[0]?.n, 1);
});

/** The `runs` events an agent's /api/v1/events sends within `ms`. */
async function liveEvents(agent: Agent, ms: number): Promise<Array<{ probe: string; location?: string }>> {
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${agent.port}/api/v1/events`, { signal: controller.signal });
  const reader = response.body?.getReader();
  assert.ok(reader);
  const events: Array<{ probe: string; location?: string }> = [];
  let text = '';
  const stop = setTimeout(() => controller.abort(), ms);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
  } catch {
    // Aborted at the end of the window.
  } finally {
    clearTimeout(stop);
  }
  for (const block of text.split('\n\n'))
    if (block.startsWith('event: runs')) events.push(...(JSON.parse(block.slice(block.indexOf('data: ') + 6)) as []));
  return events;
}

test("every agent shows each location: the status page's dots, runs by location with their agent, live events of copied runs", async () => {
  const [a1, , b1] = agents;
  assert.ok(a1 && b1);
  world.setFault((location, probe) => probe === 2 && location === 'us-east');
  try {
    type Row = { probe: string; locations?: Array<{ location: string; status: string }> };
    const row = await until('q2 failing from us-east as eu-west sees it', async () => {
      const { probes } = await api<{ probes: Row[] }>(a1, '/api/v1/status?q=q2');
      const found = probes.find((p) => p.probe === 'q2');
      return found?.locations?.find((l) => l.location === 'us-east')?.status === 'fail' ? found : undefined;
    });
    assert.deepEqual(
      row.locations?.map((l) => [l.location, l.status]),
      [
        ['eu-west', 'pass'],
        ['us-east', 'fail'],
      ],
    );
    const { runs } = await api<{ runs: Array<{ location?: string; agent?: string; status: string }> }>(
      a1,
      '/api/v1/probes/q2/runs?location=us-east&limit=5',
    );
    assert.ok(runs.length > 0);
    assert.ok(
      runs.every((run) => run.location === 'us-east' && run.agent === 'b1'),
      'only us-east runs, made by b1',
    );
    const events = await liveEvents(a1, 3_000);
    const locations = new Set(events.map((event) => event.location));
    assert.ok(locations.has('us-east'), "b1's runs copied by a1's replica are live events at a1");
    assert.ok(locations.has('eu-west'), "eu-west runs (its own and a2's copies) carry their location");
  } finally {
    world.setFault(undefined);
  }
});
