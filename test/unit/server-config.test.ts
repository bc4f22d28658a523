import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig, ConfigError, formatIssue } from '../../src/config/load.ts';
import { parseReportsConfig } from '../../src/reports/config.ts';
import {
  hostAllowed,
  hostOfHeader,
  isLoopbackHost,
  principalOf,
  authorize,
  type AccessPolicy,
} from '../../src/server/access.ts';
import { RenderGate, RenderGateBusy } from '../../src/reports/render-gate.ts';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-server-config-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  try {
    const config = loadConfig(file, env);
    parseReportsConfig(config.sections.reports, config.files, config.server);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatIssue);
    throw error;
  }
}

test('an empty secret reference is an error, not "no token"', () => {
  const found = problems('server: { token: "${SCAIPROBE_TOKEN}" }\nprobes: []\n', { SCAIPROBE_TOKEN: '' });
  assert.equal(found.length, 1);
  assert.match(
    found[0] ?? '',
    /server\.token: \$\{SCAIPROBE_TOKEN\}: environment variable SCAIPROBE_TOKEN is set but empty/,
  );
});

test('server.token has at least 16 characters', () => {
  assert.match(
    problems('server: { token: "${T}" }\nprobes: []\n', { T: 'short-token' }).join('\n'),
    /server\.token: must be at least 16 characters/,
  );
  assert.deepEqual(problems('server: { token: "${T}" }\nprobes: []\n', { T: 'a-long-enough-token-value' }), []);
});

test('listening beyond loopback without server.token is refused with the reason', () => {
  const found = problems('server: { listen: "0.0.0.0:9464" }\nprobes: []\n');
  assert.equal(found.length, 1);
  assert.match(
    found[0] ?? '',
    /:1:\d+: server\.listen: 0\.0\.0\.0:9464 is beyond loopback and server\.token is not set/,
  );
  assert.deepEqual(problems('server: { listen: "[::1]:9464" }\nprobes: []\n'), []);
  assert.deepEqual(problems('server: { listen: "127.0.0.2:9464" }\nprobes: []\n'), []);
  assert.deepEqual(
    problems('server: { listen: "0.0.0.0:9464", public: true }\nprobes: []\n'),
    [],
    'server.public serves the status page only',
  );
  assert.deepEqual(
    problems('server: { listen: "0.0.0.0:9464", token: "${T}" }\nprobes: []\n', { T: 'a-long-enough-token-value' }),
    [],
  );
});

test('tenant tokens need server.token and must be distinct', () => {
  const env = { A: 'tenant-a-token-0000001', B: 'tenant-b-token-0000002', ADMIN: 'admin-token-000000003' };
  const noAdmin = problems('reports:\n  tenants:\n    a: { token: "${A}" }\nprobes: []\n', env);
  assert.match(noAdmin.join('\n'), /reports\.tenants\.a\.token: tenant tokens need server\.token/);
  const shared = problems(
    'server: { token: "${ADMIN}" }\nreports:\n  tenants:\n    a: { token: "${A}" }\n    b: { token: "${A}" }\n    c: { token: "${ADMIN}" }\nprobes: []\n',
    env,
  );
  assert.match(shared.join('\n'), /reports\.tenants\.b\.token: is the same as the token of tenant "a"/);
  assert.match(shared.join('\n'), /reports\.tenants\.c\.token: is the same as server\.token/);
  assert.ok(!shared.join('\n').includes(env.A), 'the token value is never printed');
  assert.deepEqual(
    problems(
      'server: { token: "${ADMIN}" }\nreports:\n  tenants:\n    a: { token: "${A}" }\n    b: { token: "${B}" }\nprobes: []\n',
      env,
    ),
    [],
  );
});

test('validate refuses an empty token from the command line too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-validate-empty-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'server: { token: "${SCAIPROBE_TOKEN}" }\nprobes: []\n');
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate', '--config', file], {
    encoding: 'utf8',
    env: { ...process.env, SCAIPROBE_TOKEN: '' },
  });
  assert.equal(result.status, 2);
  assert.match(result.stderr, /set but empty/);
});

test('Host names the daemon answers to: IP literals, localhost and the allow-list only', () => {
  const policy = { allowedHosts: ['probes.example.com'] };
  assert.equal(hostAllowed({ host: '127.0.0.1:9464' }, policy), true);
  assert.equal(hostAllowed({ host: '[::1]:9464' }, policy), true);
  assert.equal(hostAllowed({ host: 'localhost:9464' }, policy), true);
  assert.equal(hostAllowed({ host: 'PROBES.example.com' }, policy), true);
  assert.equal(hostAllowed({ host: 'probes.example.com.:9464' }, policy), true);
  assert.equal(hostAllowed({}, policy), true, 'HTTP/1.0 without Host cannot come from a browser');
  assert.equal(hostAllowed({ host: 'attacker.example:9464' }, policy), false);
  assert.equal(hostAllowed({ host: 'localhost.attacker.example' }, policy), false);
  assert.equal(hostAllowed({ host: 'a b' }, policy), 'malformed');
  assert.equal(hostAllowed({ host: '[zz]:1' }, policy), 'malformed');
  assert.equal(hostOfHeader('user@host'), undefined);
  assert.ok(isLoopbackHost('127.9.9.9') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
  assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('::') && !isLoopbackHost('10.0.0.1'));
});

test('who may call what: admin, tenant, anonymous, bad token', () => {
  const policy: AccessPolicy = {
    adminToken: 'admin-token-000000003',
    tenantTokens: new Map([['tenant-a-token-0000001', 'a']]),
    public: false,
    allowedHosts: [],
    loopbackOnly: true,
  };
  const as = (token?: string) => principalOf(token ? { authorization: `Bearer ${token}` } : {}, policy);
  assert.deepEqual(as('admin-token-000000003'), { role: 'admin' });
  assert.deepEqual(as('tenant-a-token-0000001'), { role: 'tenant', tenant: 'a' });
  assert.deepEqual(as(), { role: 'anonymous' });
  assert.equal(as('admin-token-000000004'), undefined);
  assert.equal(authorize(as('tenant-a-token-0000001'), 'admin', policy)?.status, 403);
  assert.equal(authorize(as('tenant-a-token-0000001'), 'tenant', policy), undefined);
  assert.equal(authorize(as(), 'status', policy)?.status, 401);
  assert.equal(
    authorize(as(), 'status', { ...policy, public: true }),
    undefined,
    'server.public opens the status page',
  );
  assert.equal(authorize(as(), 'tenant', { ...policy, public: true })?.status, 401, '... never the API');
  assert.equal(authorize(as('nope-nope-nope-nope'), 'public', policy), undefined);
  const open: AccessPolicy = { tenantTokens: new Map(), public: false, allowedHosts: [], loopbackOnly: true };
  assert.deepEqual(principalOf({}, open), { role: 'admin' }, 'an open loopback daemon needs no token');
  const publicOnly: AccessPolicy = { ...open, public: true, loopbackOnly: false };
  assert.deepEqual(principalOf({}, publicOnly), { role: 'anonymous' });
  assert.equal(authorize(principalOf({}, publicOnly), 'admin', publicOnly)?.status, 403);
});

test('the render gate runs N at once, queues M, refuses the rest', async () => {
  const gate = new RenderGate({ concurrency: 2, queue: 1 });
  const releases: Array<() => void> = [];
  const started: number[] = [];
  const task = (n: number) => () =>
    new Promise<number>((resolve) => {
      started.push(n);
      releases.push(() => resolve(n));
    });
  const runs = [1, 2, 3].map((n) => gate.run(task(n)));
  await assert.rejects(gate.run(task(4)), RenderGateBusy);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [1, 2], 'the third waits');
  assert.deepEqual(gate.stats(), { running: 2, waiting: 1 });
  releases[0]?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, [1, 2, 3]);
  releases[1]?.();
  releases[2]?.();
  assert.deepEqual(await Promise.all(runs), [1, 2, 3]);
  assert.deepEqual(gate.stats(), { running: 0, waiting: 0 });
  await assert.rejects(
    gate.run(() => Promise.reject(new Error('render failed'))),
    /render failed/,
  );
  assert.deepEqual(gate.stats(), { running: 0, waiting: 0 }, 'a failed render frees its slot');
});
