// `scaiprobe lab --fleet`'s fleet: a copy of the configuration naming PostgreSQL, and three agents in two locations that come up and share the work.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { copyConfigForFleet, startLabFleet } from '../../src/cli/commands/lab-fleet.ts';

const temp = await makeTempDir('scaiprobe-lab-fleet-');
const target = createServer((_req, res) => res.end('ok'));
await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
after(async () => {
  target.close();
  await temp.remove();
});

function writeConfig(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const port = (target.address() as AddressInfo).port;
  writeFileSync(
    join(dir, 'main.yaml'),
    `# kept as written
server:
  listen: 127.0.0.1:9464
store:
  path: data/scaiprobe.db # the local store
log: { level: warn }
probes:
${[0, 1, 2, 3].map((i) => `  - { name: p${i}, kind: http, url: "http://127.0.0.1:${port}/${i}", every: 1s }`).join('\n')}
`,
  );
  writeFileSync(join(dir, 'ca.pem'), 'not yaml: copied as it is\n');
}

test("the fleet's copy of a configuration names the fleet's database and keeps the rest as written", () => {
  const from = join(temp.dir, 'copy-from');
  writeConfig(from);
  copyConfigForFleet(from, join(temp.dir, 'copy-to'));
  const copied = readFileSync(join(temp.dir, 'copy-to', 'main.yaml'), 'utf8');
  assert.match(copied, /# kept as written/);
  assert.match(copied, /# the local store/);
  assert.deepEqual((parse(copied) as { store: unknown }).store, {
    path: 'data/scaiprobe.db',
    url: '${SCAIPROBE_DATABASE_URL}',
  });
  assert.equal(readFileSync(join(temp.dir, 'copy-to', 'ca.pem'), 'utf8'), 'not yaml: copied as it is\n');
});

test('three agents in two locations come up on one PostgreSQL and share the probes', async () => {
  const configDir = join(temp.dir, 'config');
  writeConfig(configDir);
  const fleet = await startLabFleet({ configDir, dir: join(temp.dir, 'fleet'), basePort: await freePort() });
  try {
    assert.deepEqual(
      fleet.agents.map((agent) => [agent.name, agent.location]),
      [
        ['eu-west-1', 'eu-west'],
        ['eu-west-2', 'eu-west'],
        ['us-east-1', 'us-east'],
      ],
    );
    const [first] = fleet.agents;
    assert.ok(first);
    let shares: Record<string, number> = {};
    for (let attempt = 0; attempt < 60; attempt++) {
      const body = (await (await fetch(`${first.url}/api/v1/agents`)).json()) as {
        agents: Array<{ name: string; probes: number }>;
      };
      shares = Object.fromEntries(body.agents.map((agent) => [agent.name, agent.probes]));
      if (shares['eu-west-1'] === 2 && shares['eu-west-2'] === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual(shares, { 'eu-west-1': 2, 'eu-west-2': 2, 'us-east-1': 4 });
    assert.ok(fleet.describe().some((line) => line.includes('failLocations')));
  } finally {
    await fleet.stop();
  }
  assert.ok(fleet.agents.every((agent) => agent.child.exitCode !== null || agent.child.signalCode !== null));
});
