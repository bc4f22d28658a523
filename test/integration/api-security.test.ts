import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { startDaemon, type Daemon } from '../../src/cli/commands/daemon.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ProbeMetrics } from '../../src/server/metrics.ts';
import { startDaemonServer } from '../../src/server/server.ts';
import { RunEvents, type RunEvent } from '../../src/server/events.ts';
import { seedKnownAnswers } from '../helpers/report-seed.ts';
import { rawGet, rawRequest } from '../helpers/raw-http.ts';
import { waitFor } from '../helpers/cli.ts';

async function startTarget(): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${port}` };
}

describe('malformed requests on an open loopback daemon', () => {
  let daemon: Daemon;
  let dir: { dir: string; remove: () => Promise<void> };
  let port: number;

  before(async () => {
    dir = await makeTempDir('scaiprobe-malformed-');
    port = await freePort();
    const file = join(dir.dir, 'config.yaml');
    writeFileSync(
      file,
      `server: { listen: "127.0.0.1:${port}", headersTimeout: 1s, requestTimeout: 2s }\nstore: { path: "${join(dir.dir, 'p.db')}" }\nprobes: []\n`,
    );
    daemon = await startDaemon(loadConfig(file), { clock: systemClock, logger: pino({ level: 'silent' }) });
  });
  after(async () => {
    await daemon?.stop();
    await dir?.remove();
  });

  const cases: Array<[string, () => Promise<{ status: number | undefined }>, number]> = [
    ['a lone % in the path', () => rawGet(port, '/%'), 400],
    ['a broken %-sequence in a route parameter', () => rawGet(port, '/api/v1/probes/%E0%A4%A'), 400],
    ['an absolute-form target that is not a URL', () => rawGet(port, 'http://['), 400],
    ['an absolute-form proxy request', () => rawGet(port, 'http://example.com/api/v1/probes'), 400],
    [
      'an asterisk target',
      () => rawRequest(port, `OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
      400,
    ],
    ['a request line that is not HTTP', () => rawRequest(port, 'HELLO THERE\r\n\r\n'), 400],
    ['a NUL in the target', () => rawRequest(port, 'GET /a\0b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'), 400],
    ['headers beyond 16 KiB', () => rawGet(port, '/health', [`X-Big: ${'a'.repeat(20_000)}`]), 431],
    [
      'a body announced beyond 64 KiB',
      () => rawRequest(port, `POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000000\r\n\r\nabc`),
      413,
    ],
    [
      'two Content-Length headers that disagree',
      () =>
        rawRequest(port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`),
      400,
    ],
    ['a Host that is not a host name', () => rawGet(port, '/health', [], 'a b'), 400],
    [
      "another site's name in Host (DNS rebinding)",
      () => rawGet(port, '/api/v1/probes', [], 'rebind.attacker.example'),
      421,
    ],
    ['a path that looks like another host', () => rawGet(port, '//evil.example/health'), 404],
    [
      'an unknown method',
      () =>
        rawGet(port, '/health').then(() =>
          rawRequest(port, `BREW /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
        ),
      400,
    ],
  ];
  for (const [name, send, expected] of cases) {
    test(`${name} gets ${expected}, and the daemon keeps serving`, async () => {
      const answer = await send();
      assert.equal(answer.status, expected);
      assert.equal((await fetch(`${daemon.url}/health`)).status, 200);
    });
  }

  test('a slow client that never finishes its headers gets 408 and is closed', async () => {
    const answer = await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', {
      timeoutMs: 5000,
      untilClose: true,
    });
    assert.equal(answer.status, 408);
    assert.ok(answer.closedByServer);
  });

  test('a chunked body to an endpoint that reads none is not drained forever: the connection closes after the answer', async () => {
    const answer = await rawRequest(
      port,
      [`POST /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`, '5\r\nhello\r\n'],
      { timeoutMs: 3000, untilClose: true },
    );
    assert.equal(answer.status, 405);
    assert.ok(answer.closedByServer, 'the server closed the connection instead of reading the rest of the body');
  });

  test('every answer says nosniff and may not be framed', async () => {
    const response = await fetch(`${daemon.url}/api/v1/probes`);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal((await fetch(`${daemon.url}/api/v1/probes`, { headers: { host: `localhost:${port}` } })).status, 200);
  });
});

describe('tokens and tenants', () => {
  let daemon: Daemon;
  let target: { server: Server; url: string };
  let dir: { dir: string; remove: () => Promise<void> };
  const tokens = {
    SEC_ADMIN: 'sec-admin-token-000001',
    SEC_ACME: 'sec-acme-token-0000002',
    SEC_BETA: 'sec-beta-token-0000003',
  };

  before(async () => {
    dir = await makeTempDir('scaiprobe-tenants-');
    Object.assign(process.env, tokens);
    target = await startTarget();
    const db = join(dir.dir, 'p.db');
    const seeded = new SqliteStore(db, systemClock);
    seedKnownAnswers(seeded, Date.now());
    seeded.close();
    const port = await freePort();
    const file = join(dir.dir, 'config.yaml');
    writeFileSync(
      file,
      `server: { listen: "127.0.0.1:${port}", token: "\${SEC_ADMIN}", maxEventClients: 3, allowedHosts: [probes.example.test] }
store: { path: "${db}" }
reports:
  renders: { concurrency: 1, queue: 0 }
  tenants:
    acme: { token: "\${SEC_ACME}" }
    beta: { token: "\${SEC_BETA}" }
probes:
  - { name: acme-web, kind: http, url: "${target.url}/a", every: 250ms, tenant: acme }
  - { name: beta-web, kind: http, url: "${target.url}/b", every: 250ms, tenant: beta }
  - { name: ops-web, kind: http, url: "${target.url}/o", every: 250ms }
`,
    );
    daemon = await startDaemon(loadConfig(file), { clock: systemClock, logger: pino({ level: 'silent' }) });
    await waitFor('every probe to have run', async () => {
      const body = (await (await get('/api/v1/probes', tokens.SEC_ADMIN)).json()) as {
        probes: Array<{ probe: string; status: string | null }>;
      };
      return ['acme-web', 'beta-web', 'ops-web'].every((name) =>
        body.probes.some((p) => p.probe === name && p.status === 'pass'),
      )
        ? true
        : undefined;
    });
  });
  after(async () => {
    await daemon?.stop();
    await new Promise((resolve) => target?.server.close(resolve));
    await dir?.remove();
  });

  const get = (path: string, token?: string, headers: Record<string, string> = {}) =>
    fetch(`${daemon.url}${path}`, { headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const names = async (path: string, token: string) =>
    ((await (await get(path, token)).json()) as { probes: Array<{ probe: string }> }).probes.map((p) => p.probe).sort();

  test('a tenant token reads its own probes, runs, state changes, status, indicators, tenants and report', async () => {
    assert.deepEqual(
      (await names('/api/v1/probes', tokens.SEC_ACME)).filter((n) => n.endsWith('-web')),
      ['acme-web'],
    );
    assert.deepEqual(
      (await names('/api/v1/status', tokens.SEC_ACME)).filter((n) => n.endsWith('-web')),
      ['acme-web'],
    );
    assert.equal((await get('/api/v1/probes/acme-web', tokens.SEC_ACME)).status, 200);
    assert.equal((await get('/api/v1/probes/acme-web/runs', tokens.SEC_ACME)).status, 200);
    const changes = (await (await get('/api/v1/state-changes', tokens.SEC_ACME)).json()) as {
      changes: Array<{ tenant: string | null; probe: string }>;
    };
    assert.ok(changes.changes.some((c) => c.probe === 'acme-web'));
    assert.ok(changes.changes.every((c) => c.tenant === 'acme'));
    const indicators = (await (await get('/api/v1/indicators', tokens.SEC_ACME)).json()) as {
      indicators: Array<{ tenant?: string }>;
    };
    assert.ok(indicators.indicators.every((i) => i.tenant === 'acme'));
    assert.deepEqual(
      (
        (await (await get('/api/v1/tenants', tokens.SEC_ACME)).json()) as { tenants: Array<{ id: string }> }
      ).tenants.map((t) => t.id),
      ['acme'],
    );
    assert.equal((await get('/api/v1/tenants/acme/report?format=json', tokens.SEC_ACME)).status, 200);
  });

  test("a tenant token gets 403 for another tenant's things and for the operator's endpoints", async () => {
    for (const path of [
      '/api/v1/probes?tenant=beta',
      '/api/v1/probes/beta-web',
      '/api/v1/probes/ops-web',
      '/api/v1/probes/no-such-probe',
      '/api/v1/probes/beta-web/runs',
      '/api/v1/status?tenant=beta',
      '/api/v1/state-changes?tenant=beta',
      '/api/v1/indicators?tenant=beta',
      '/api/v1/events?tenant=beta',
      '/api/v1/tenants/beta/report?format=json',
      '/metrics',
      '/api/v1/alerts',
      '/api/v1/alerts/outbox',
      '/api/v1/maintenance',
    ]) {
      assert.equal((await get(path, tokens.SEC_ACME)).status, 403, path);
    }
  });

  test('without a token, or with a wrong one, the API answers 401; health stays public', async () => {
    assert.equal((await get('/api/v1/probes')).status, 401);
    assert.equal(
      (await get('/api/v1/status')).status,
      401,
      'the status data is not public unless server.public is set',
    );
    assert.equal((await get('/metrics')).status, 401);
    assert.equal((await get('/api/v1/probes', 'sec-admin-token-000002')).status, 401);
    assert.equal((await get('/health')).status, 200);
    assert.equal((await get('/')).status, 200, 'the status page shell asks for the token itself');
  });

  test('the admin token sees every tenant', async () => {
    assert.deepEqual(
      (await names('/api/v1/probes', tokens.SEC_ADMIN)).filter((n) => n.endsWith('-web')),
      ['acme-web', 'beta-web', 'ops-web'],
    );
    assert.equal((await get('/metrics', tokens.SEC_ADMIN)).status, 200);
  });

  test('Host: configured names and IP literals are answered, other names get 421', async () => {
    const port = new URL(daemon.url).port;
    assert.equal(
      (
        await rawGet(
          Number(port),
          '/api/v1/probes',
          [`Authorization: Bearer ${tokens.SEC_ADMIN}`],
          `probes.example.test:${port}`,
        )
      ).status,
      200,
    );
    assert.equal(
      (
        await rawGet(
          Number(port),
          '/api/v1/probes',
          [`Authorization: Bearer ${tokens.SEC_ADMIN}`],
          `evil.example.test:${port}`,
        )
      ).status,
      421,
    );
  });

  test("a tenant's event stream carries only its own runs; the admin's carries all", async () => {
    const collect = async (token: string) => {
      const controller = new AbortController();
      const response = await get('/api/v1/events', token, {});
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      let text = '';
      const deadline = Date.now() + 2500;
      while (Date.now() < deadline) {
        const chunk = await Promise.race([
          reader.read(),
          new Promise<undefined>((r) => setTimeout(() => r(undefined), deadline - Date.now())),
        ]);
        if (!chunk || chunk.done) break;
        text += Buffer.from(chunk.value).toString();
      }
      controller.abort();
      await reader.cancel();
      return text
        .split('\n\n')
        .filter((block) => block.startsWith('event: runs'))
        .flatMap((block) => JSON.parse(block.split('\ndata: ')[1] ?? '[]') as RunEvent[]);
    };
    const [own, all] = await Promise.all([collect(tokens.SEC_ACME), collect(tokens.SEC_ADMIN)]);
    assert.ok(own.length > 0, 'the tenant saw its runs');
    assert.ok(
      own.every((e) => e.tenant === 'acme'),
      JSON.stringify(own.map((e) => e.probe)),
    );
    assert.ok(all.some((e) => e.tenant === 'beta') && all.some((e) => e.tenant === 'acme'));
  });

  test('at most server.maxEventClients viewers; one more gets 429', async () => {
    const streams = await Promise.all([1, 2, 3].map(() => get('/api/v1/events', tokens.SEC_ADMIN)));
    try {
      assert.deepEqual(
        streams.map((s) => s.status),
        [200, 200, 200],
      );
      const refused = await get('/api/v1/events', tokens.SEC_ADMIN);
      assert.equal(refused.status, 429);
      assert.ok(refused.headers.get('retry-after'));
    } finally {
      await Promise.all(streams.map(async (s) => s.body?.cancel()));
    }
    await waitFor('the viewers to be gone', async () =>
      (await get('/api/v1/events', tokens.SEC_ADMIN).then(async (r) => (await r.body?.cancel(), r.status))) === 200
        ? true
        : undefined,
    );
  });

  test('report renders beyond the limit get 429 with Retry-After; the report carries its CSP', async () => {
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => get('/api/v1/tenants/acme/report?format=pdf', tokens.SEC_ADMIN)),
    );
    const statuses = answers.map((a) => a.status).sort();
    assert.ok(statuses.includes(200) && statuses.includes(429), statuses.join(','));
    const busy = answers.find((a) => a.status === 429);
    assert.equal(busy?.headers.get('retry-after'), '5');
    const pdf = answers.find((a) => a.status === 200);
    assert.equal(pdf?.headers.get('x-content-type-options'), 'nosniff');
    assert.match(pdf?.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    await Promise.all(answers.map((a) => a.arrayBuffer()));
  });
});

describe('the event stream under a viewer that does not read', () => {
  test('the viewer is dropped with a log line once its backlog passes the cap; memory stays bounded', async () => {
    const dir = await makeTempDir('scaiprobe-sse-');
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write: (chunk: Buffer, _e, done) => {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const store = new SqliteStore(join(dir.dir, 'p.db'), systemClock);
    const server = await startDaemonServer({
      listen: '127.0.0.1:0',
      store,
      metrics: new ProbeMetrics(),
      logger,
      isReady: () => true,
    });
    const events = new RunEvents({ clock: systemClock, logger, maxClients: 10, maxBufferedBytes: 256 * 1024 });
    events.register(server.router);
    const port = Number(new URL(server.url).port);
    const socket = connect(port, '127.0.0.1');
    try {
      await new Promise<void>((resolve) => socket.on('connect', resolve));
      socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      socket.pause();
      await waitFor('the viewer to register', async () => (events.clientCount() === 1 ? true : undefined));
      const big = 'x'.repeat(100_000);
      const event: RunEvent = {
        probe: 'p',
        kind: 'http',
        tenant: null,
        status: 'fail',
        startedAt: 0,
        durationMs: 1,
        message: big,
        errorCode: null,
      };
      // Loopback socket buffers take several MB before the daemon's own backlog grows.
      await waitFor(
        'the viewer to be dropped',
        async () => {
          for (let i = 0; i < 40; i += 1) events.publish(event);
          return events.clientCount() === 0 ? true : undefined;
        },
        30_000,
      );
      assert.ok(lines.some((line) => line.includes('event stream viewer is not reading; dropped')));
    } finally {
      socket.destroy();
      events.close();
      await server.close();
      store.close();
      await dir.remove();
    }
  });
});

describe('process guards', () => {
  test('an uncaught exception and an unhandled rejection are logged with their stack, and the process keeps running', async () => {
    const script = `
      import pino from 'pino';
      import { guardProcess } from ${JSON.stringify(new URL('../../src/cli/process-guards.ts', import.meta.url).pathname)};
      guardProcess(pino({ level: 'info' }));
      setTimeout(() => { throw new Error('boom-from-a-timer'); }, 10);
      setTimeout(() => { Promise.reject(new Error('boom-from-a-promise')); }, 20);
      setTimeout(() => { console.log('STILL-ALIVE'); process.exit(0); }, 200);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /uncaught exception; scaiprobe keeps running/);
    assert.match(out, /boom-from-a-timer[\s\S]*at /);
    assert.match(out, /unhandled promise rejection; scaiprobe keeps running/);
    assert.match(out, /STILL-ALIVE/);
  });
});
