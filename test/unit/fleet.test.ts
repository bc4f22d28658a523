// The fleet's pure parts: which probes a location leases, each agent's share, an agent's name and its configuration's hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../src/config/load.ts';
import { LAB_ENV } from '../../src/lab/lab.ts';
import { ANY_LOCATION, leaseGroups, shareOf } from '../../src/fleet/placement.ts';
import { agentIdentity, configHash, defaultAgentName, packageVersion } from '../../src/fleet/identity.ts';
import { withLocation } from '../../src/cli/commands/run.ts';
import { postgresConnection } from '../../src/store/postgres/tls.ts';
import { UsageError } from '../../src/cli/usage-error.ts';

test('a location leases the probes listed for it or for every location; `any` probes are leased once for the fleet', () => {
  const probes = [
    { name: 'everywhere' },
    { name: 'west', locations: ['eu-west'] },
    { name: 'east', locations: ['us-east'] },
    { name: 'both', locations: ['us-east', 'eu-west'] },
    { name: 'once', locations: 'any' as const },
  ];
  const leases = (location: string) =>
    leaseGroups(probes, location).map((group) => [group.location, group.probes, group.scope]);
  assert.deepEqual(leases('eu-west'), [
    ['eu-west', ['both', 'everywhere', 'west'], 'location'],
    [ANY_LOCATION, ['once'], 'fleet'],
  ]);
  assert.deepEqual(leases('ap-south'), [
    ['ap-south', ['everywhere'], 'location'],
    [ANY_LOCATION, ['once'], 'fleet'],
  ]);
  assert.deepEqual(leaseGroups([{ name: 'west', locations: ['eu-west'] }], 'us-east'), []);
});

test('probes that read one another’s output are leased as one, named by the first; each other probe alone', () => {
  const [group] = leaseGroups(
    [
      { name: 'web-inbox', after: ['mail-roundtrip'] },
      { name: 'mail-roundtrip' },
      { name: 'tracking', after: ['mail-roundtrip'] },
      { name: 'api' },
      { name: 'reads-elsewhere', after: ['only-in-us'] },
      { name: 'only-in-us', locations: ['us-east'] },
    ],
    'eu-west',
  );
  assert.deepEqual(group?.probes, ['api', 'mail-roundtrip', 'reads-elsewhere']);
  assert.deepEqual(group?.members, {
    api: ['api'],
    'mail-roundtrip': ['mail-roundtrip', 'tracking', 'web-inbox'],
    'reads-elsewhere': ['reads-elsewhere'],
  });
});

test('a share is an even split rounded up, so the shares always cover every probe', () => {
  assert.equal(shareOf(7, 2), 4);
  assert.equal(shareOf(6, 3), 2);
  assert.equal(shareOf(1, 3), 1);
  assert.equal(shareOf(5, 0), 5, 'no live agent counted yet: this one takes all');
  for (let probes = 0; probes < 30; probes++)
    for (let agents = 1; agents < 7; agents++) assert.ok(shareOf(probes, agents) * agents >= probes);
});

test("an agent's default name is its host and store path, short enough for agent.name", () => {
  assert.equal(
    defaultAgentName('/var/lib/scaiprobe/scaiprobe.db', 'probe-1'),
    'probe-1:/var/lib/scaiprobe/scaiprobe.db',
  );
  const long = defaultAgentName(`/${'deep/'.repeat(30)}scaiprobe.db`, 'probe-1');
  assert.match(long, /^probe-1:[0-9a-f]{12}$/);
  assert.notEqual(long, defaultAgentName(`/${'deep/'.repeat(31)}scaiprobe.db`, 'probe-1'));
});

test('the configuration hash is the same for the same files in another folder and another process, and differs when a probe does', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-hash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync('probes', join(dir, 'a'), { recursive: true });
  cpSync('probes', join(dir, 'b'), { recursive: true });
  const env = { ...LAB_ENV };
  const here = configHash(loadConfig(join(dir, 'a'), env));
  assert.match(here, /^[0-9a-f]{16}$/);
  assert.equal(configHash(loadConfig(join(dir, 'b'), env)), here, 'the folder the files are read from does not count');
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { loadConfig } from './src/config/load.ts'; import { configHash } from './src/fleet/identity.ts';
       process.stdout.write(configHash(loadConfig(${JSON.stringify(join(dir, 'b'))}, JSON.parse(process.env.LAB_JSON))));`,
    ],
    { encoding: 'utf8', env: { ...process.env, LAB_JSON: JSON.stringify(env) } },
  );
  assert.equal(child.stdout, here, child.stderr);
  const base = loadConfig(join(dir, 'a'), env);
  assert.equal(configHash({ ...base, agent: { location: 'elsewhere', replica: false } } as typeof base), here);
  const file = join(dir, 'b', 'health.yaml');
  const changed = readFileSync(file, 'utf8').replace('every: 30s', 'every: 31s');
  assert.notEqual(changed, readFileSync(file, 'utf8'));
  writeFileSync(file, changed);
  assert.notEqual(configHash(loadConfig(join(dir, 'b'), env)), here, 'a changed interval changes the hash');
});

test("an agent's identity: its configured name and location, its process, scaiprobe's version", () => {
  const config = loadConfig('probes', { ...LAB_ENV });
  const identity = agentIdentity(withLocation({ ...config, agent: { ...config.agent, name: 'west-1' } }, 'eu-west'));
  assert.equal(identity.name, 'west-1');
  assert.equal(identity.location, 'eu-west');
  assert.equal(identity.pid, process.pid);
  assert.equal(identity.version, (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  assert.equal(packageVersion(), identity.version);
  assert.equal(agentIdentity(config).name, defaultAgentName(config.store.path));
  assert.equal(agentIdentity(config).location, 'default');
});

test('--location is checked like agent.location', () => {
  const config = loadConfig('probes', { ...LAB_ENV });
  assert.equal(withLocation(config, undefined), config);
  assert.throws(
    () => withLocation(config, 'EU West'),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /^--location EU West: must be 1-40 lower-case letters/);
      return true;
    },
  );
});

test('store.tls for PostgreSQL: none given leaves it to the URL, false is plain, an object verifies the server', (t) => {
  const url = 'postgres://probe@db.example.com/scaiprobe?sslmode=require';
  const postgresSsl = (tls: Parameters<typeof postgresConnection>[1]) => postgresConnection(url, tls).ssl;
  assert.deepEqual(postgresConnection(url, undefined), { connectionString: url });
  assert.equal(postgresSsl(false), false);
  assert.equal(postgresConnection(url, false).connectionString, 'postgres://probe@db.example.com/scaiprobe');
  assert.deepEqual(postgresSsl({ ca: '-----BEGIN CERTIFICATE-----\nA\n', serverName: 'db.example.com' }), {
    rejectUnauthorized: true,
    ca: '-----BEGIN CERTIFICATE-----\nA\n',
    servername: 'db.example.com',
  });
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nfrom a file\n');
  assert.deepEqual(postgresSsl({ ca: join(dir, 'ca.pem') }), {
    rejectUnauthorized: true,
    ca: '-----BEGIN CERTIFICATE-----\nfrom a file\n',
  });
});
