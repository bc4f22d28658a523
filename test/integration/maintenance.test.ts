// Maintenance windows from a deploy pipeline: the API and the CLI against a running daemon, and the alerts they hold.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/lab/processes.ts';
import { runCli, startCli, waitFor } from '../helpers/cli.ts';

const TOKEN = 'maintenance-admin-token-01';
const TENANT_TOKEN = 'maintenance-acme-token-001';
const ENV = { MAINT_ADMIN: TOKEN, MAINT_ACME: TENANT_TOKEN };

interface Notification {
  type: string;
  target: string;
  at: number;
}

interface WindowView {
  id: number;
  probes: string[];
  reason: string;
  startsAt: string;
  endsAt: string;
  endedAt: string | null;
  active: boolean;
  matches?: string[];
  endedNow?: boolean;
}

describe('maintenance windows against a running daemon', () => {
  let dir: string;
  let config: string;
  let api: string;
  let target: Server;
  let receiver: Server;
  let daemon: ReturnType<typeof startCli>;
  const service = { status: 200 };
  const received: Notification[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scaiprobe-maintenance-'));
    target = createServer((req, res) => res.writeHead(req.url === '/api' ? service.status : 200).end('x'));
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { type: string; alert: { target: string } };
        received.push({ type: parsed.type, target: parsed.alert.target, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    const [targetPort, receiverPort, port] = [await freePort(), await freePort(), await freePort()];
    await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
    api = `http://127.0.0.1:${port}`;
    config = join(dir, 'probes.yaml');
    writeFileSync(
      config,
      `server: { listen: "127.0.0.1:${port}", token: "\${MAINT_ADMIN}" }
store: { path: "${join(dir, 'scaiprobe.db')}" }
reports:
  tenants: { acme: { token: "\${MAINT_ACME}" } }
alerts:
  channels: [{ name: hook, type: webhook, url: "http://127.0.0.1:${receiverPort}/hook" }]
  rules: [{ name: down, probes: ["api-*", "web-*"], for: 0s, failures: 1, successes: 1 }]
probes:
  - { name: api-ready, kind: http, url: "http://127.0.0.1:${targetPort}/api", every: 300ms }
  - { name: web-home, kind: http, url: "http://127.0.0.1:${targetPort}/web", every: 300ms, tenant: acme }
`,
    );
    daemon = startCli(['run', '--config', config], ENV);
    await waitFor('the daemon to be ready', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined), 30_000);
  });

  after(async () => {
    daemon?.child.kill('SIGTERM');
    await daemon?.exited;
    await new Promise((resolve) => target?.close(resolve));
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, options: { token?: string; body?: unknown; type?: string } = {}) =>
    fetch(`${api}${path}`, {
      method,
      headers: {
        ...(options.token === '' ? {} : { authorization: `Bearer ${options.token ?? TOKEN}` }),
        ...(options.body !== undefined ? { 'content-type': options.type ?? 'application/json' } : {}),
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
  const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error;
  const pipeline = () => ({ SCAIPROBE_URL: api, SCAIPROBE_TOKEN: TOKEN });
  async function endAll(): Promise<void> {
    const { windows } = (await (await call('GET', '/api/v1/maintenance?active=true')).json()) as {
      windows: WindowView[];
    };
    for (const w of windows) await call('DELETE', `/api/v1/maintenance/${w.id}`);
  }

  test('the API: admin only, JSON only, checked; a window is started, listed and ended, and ending it again is no error', async () => {
    assert.equal((await call('GET', '/api/v1/maintenance', { token: '' })).status, 401);
    for (const [method, path] of [
      ['GET', '/api/v1/maintenance'],
      ['POST', '/api/v1/maintenance'],
      ['DELETE', '/api/v1/maintenance/1'],
    ] as const) {
      assert.equal(
        (
          await call(method, path, {
            token: TENANT_TOKEN,
            ...(method === 'POST' ? { body: { probes: ['web-*'], for: '5m' } } : {}),
          })
        ).status,
        403,
        `${method} ${path} with a tenant token`,
      );
    }
    // A form or plain text is what a page in the operator's browser could send unasked.
    assert.equal(
      (
        await call('POST', '/api/v1/maintenance', {
          body: 'probes=api-*&for=30m',
          type: 'application/x-www-form-urlencoded',
        })
      ).status,
      415,
    );
    assert.equal(
      (await call('POST', '/api/v1/maintenance', { body: '{"probes":', type: 'application/json' })).status,
      400,
    );
    const refusals: Array<[unknown, RegExp]> = [
      [{}, /probes/],
      [{ probes: ['api-*'] }, /give "for" .* or "until"/],
      [{ probes: ['api-*'], for: '30m', until: new Date(Date.now() + 60_000).toISOString() }, /one of them/],
      [{ probes: ['api-*'], for: 'half an hour' }, /"for" must be a duration/],
      [{ probes: ['api-*'], for: '8d' }, /at most 7d/],
      [{ probes: ['api-*'], until: new Date(Date.now() - 60_000).toISOString() }, /not in the future/],
      [{ probes: ['api-*', 'apii-*'], for: '30m' }, /"apii-\*" matches no configured probe/],
      [{ probes: ['api-*'], for: '30m', colour: 'red' }, /colour/],
    ];
    for (const [body, message] of refusals) {
      const response = await call('POST', '/api/v1/maintenance', { body });
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.match(await errorOf(response), message);
    }
    const before = Date.now();
    const started = await call('POST', '/api/v1/maintenance', {
      body: { probes: 'api-*, web-home', for: '30m', reason: 'deploy 42' },
    });
    assert.equal(started.status, 201);
    const window = (await started.json()) as WindowView;
    assert.deepEqual(
      [window.probes, window.reason, window.active, window.endedAt, window.matches],
      [['api-*', 'web-home'], 'deploy 42', true, null, ['api-ready', 'web-home']],
    );
    assert.ok(Math.abs(Date.parse(window.endsAt) - (before + 30 * 60_000)) < 10_000, window.endsAt);
    const listed = (await (await call('GET', '/api/v1/maintenance')).json()) as { windows: WindowView[] };
    const { matches: _matches, ...view } = window;
    assert.deepEqual(listed.windows[0], view, 'listed as it was started, newest first');
    assert.deepEqual(
      ((await (await call('GET', '/api/v1/maintenance?active=true')).json()) as { windows: WindowView[] }).windows.map(
        (w) => w.id,
      ),
      [window.id],
    );

    assert.equal((await call('DELETE', '/api/v1/maintenance/first')).status, 400);
    assert.equal((await call('DELETE', `/api/v1/maintenance/${window.id + 1000}`)).status, 404);
    const ended = (await (await call('DELETE', `/api/v1/maintenance/${window.id}`)).json()) as WindowView;
    assert.deepEqual([ended.active, ended.endedNow, ended.endedAt !== null], [false, true, true]);
    const again = await call('DELETE', `/api/v1/maintenance/${window.id}`);
    assert.equal(again.status, 200, 'a retried end is not an error');
    assert.deepEqual([((await again.json()) as WindowView).endedNow], [false]);
    assert.deepEqual(
      ((await (await call('GET', '/api/v1/maintenance?active=true')).json()) as { windows: WindowView[] }).windows,
      [],
    );
  });

  test('the CLI: start prints the id, list shows it, end ends it; the URL and token come from the environment or the configuration', async () => {
    const start = await runCli(
      ['maintenance', 'start', '--for', '30m', '--probes', 'web-*', '--reason', 'deploy'],
      pipeline(),
    );
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /^\d+\n$/, 'only the id on stdout, for ID=$(...)');
    const id = Number(start.stdout);
    assert.match(
      start.stderr,
      new RegExp(`maintenance window ${id}: alerts of web-home are held until \\S+Z \\(deploy\\)`),
    );

    const list = await runCli(['maintenance', 'list'], pipeline());
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +STATE +FROM +UNTIL +PROBES +REASON\n/);
    assert.match(list.stdout, new RegExp(`^${id} +active +\\S+ +\\S+ +web-\\* +deploy$`, 'm'));
    const json = JSON.parse((await runCli(['maintenance', 'list', '--json'], pipeline())).stdout) as {
      windows: WindowView[];
    };
    assert.equal(json.windows[0]?.id, id);
    assert.equal(json.windows[0]?.active, true);

    const end = await runCli(['maintenance', 'end', String(id)], pipeline());
    assert.equal(end.code, 0, end.stderr);
    assert.match(
      end.stdout,
      new RegExp(
        `^maintenance window ${id} ended \\(web-\\* \\(deploy\\)\\); the notifications it held go out now\\n$`,
      ),
    );
    assert.match((await runCli(['maintenance', 'list'], pipeline())).stdout, new RegExp(`^${id} +ended `, 'm'));

    // On the daemon's host: its configuration says where it listens, and its token.
    const local = await runCli(
      [
        'maintenance',
        'start',
        '--until',
        new Date(Date.now() + 600_000).toISOString(),
        '--probes',
        'api-*',
        '--config',
        config,
      ],
      ENV,
    );
    assert.equal(local.code, 0, local.stderr);
    const byConfig = await runCli(['maintenance', 'end', '--config', config], ENV);
    assert.equal(byConfig.code, 0, byConfig.stderr);
    assert.match(
      byConfig.stdout,
      new RegExp(`^maintenance window ${Number(local.stdout)} ended`),
      'without an ID: the one window in force',
    );
    assert.equal(
      (await runCli(['maintenance', 'end', '--config', config], ENV)).stdout,
      'no maintenance window is in force\n',
    );
  });

  test('the CLI: a wrong token, no daemon, a glob that matches nothing, and two windows in force, each said in one sentence', async () => {
    const wrongToken = await runCli(['maintenance', 'list'], {
      ...pipeline(),
      SCAIPROBE_TOKEN: 'not-the-token-at-all',
    });
    assert.equal(wrongToken.code, 1);
    assert.match(
      wrongToken.stderr,
      /^scaiprobe maintenance list: the daemon at http:\/\/127\.0\.0\.1:\d+ refused: the bearer token is not valid; set SCAIPROBE_TOKEN to its server\.token \(the one given is not it\)\n$/,
    );
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const down = await runCli(['maintenance', 'start', '--for', '5m', '--probes', 'web-*'], {
      ...pipeline(),
      SCAIPROBE_URL: nobody,
    });
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /could not reach the daemon at http:\/\/127\.0\.0\.1:\d+ \(connection refused\): is `scaiprobe run` running there\?/,
    );
    const typo = await runCli(['maintenance', 'start', '--for', '5m', '--probes', 'wbe-*'], pipeline());
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /"wbe-\*" matches no configured probe/);
    const noLength = await runCli(['maintenance', 'start', '--probes', 'web-*'], pipeline());
    assert.equal(noLength.code, 2);
    assert.match(noLength.stderr, /give --for DURATION \(30m\) or --until TIME/);

    const first = Number(
      (await runCli(['maintenance', 'start', '--for', '5m', '--probes', 'web-*', '--reason', 'one'], pipeline()))
        .stdout,
    );
    const second = Number(
      (await runCli(['maintenance', 'start', '--for', '5m', '--probes', 'api-*', '--reason', 'two'], pipeline()))
        .stdout,
    );
    const ambiguous = await runCli(['maintenance', 'end'], pipeline());
    assert.equal(ambiguous.code, 2);
    assert.match(
      ambiguous.stderr,
      new RegExp(
        `2 windows are in force \\(${first}: web-\\* \\(one\\); ${second}: api-\\* \\(two\\)\\): give the ID of one, or --all`,
      ),
    );
    const all = await runCli(['maintenance', 'end', '--all'], pipeline());
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.split('\n').filter((line) => / ended /.test(line)).length, 2);
  });

  test('a window started over the API holds a firing notification and releases it when it ends; so is a resolution owed', async () => {
    await endAll();
    const alertOf = async () => {
      const body = (await (await call('GET', '/api/v1/alerts')).json()) as {
        alerts: Array<{
          rule: string;
          target: string;
          status: string;
          notified: boolean;
          resolutionHeldSince: string | null;
        }>;
      };
      return body.alerts.find((a) => a.rule === 'down' && a.target === 'api-ready');
    };
    const sentFor = (type: string) => received.filter((n) => n.target === 'api-ready' && n.type === type);

    const held = (await (
      await call('POST', '/api/v1/maintenance', { body: { probes: ['api-*'], for: '30m', reason: 'deploy' } })
    ).json()) as WindowView;
    service.status = 503;
    await waitFor('the alert to fire, held', async () => ((await alertOf())?.status === 'firing' ? true : undefined));
    // Several alert ticks (one a second) and probe runs go by: nothing is sent while the window is in force.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await alertOf())?.notified, false);
    assert.deepEqual(sentFor('alert.firing'), [], 'held by the window');
    const endedAt = Date.now();
    assert.equal((await call('DELETE', `/api/v1/maintenance/${held.id}`)).status, 200);
    const [firing] = await waitFor('the held firing to go out', async () =>
      sentFor('alert.firing').length > 0 ? sentFor('alert.firing') : undefined,
    );
    assert.ok((firing?.at ?? 0) >= endedAt, 'sent after the window ended, not before');
    assert.equal((await alertOf())?.notified, true);

    // Fired and notified before the window, resolved inside it: the resolution is owed, and sent at its end.
    const owing = (await (
      await call('POST', '/api/v1/maintenance', { body: { probes: ['api-ready'], for: '30m' } })
    ).json()) as WindowView;
    service.status = 200;
    await waitFor('the alert to resolve, its resolution held', async () =>
      (await alertOf())?.resolutionHeldSince ? true : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(sentFor('alert.resolved'), [], 'held by the window');
    assert.equal((await call('DELETE', `/api/v1/maintenance/${owing.id}`)).status, 200);
    await waitFor('the held resolution to go out', async () =>
      sentFor('alert.resolved').length === 1 ? true : undefined,
    );
    assert.equal((await alertOf())?.resolutionHeldSince, null);
    assert.deepEqual(
      received.filter((n) => n.target !== 'api-ready'),
      [],
      'web-home never failed',
    );
  });
});
