import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { systemClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { Outbox } from '../../src/alerting/outbox.ts';
import { AlertService } from '../../src/alerting/service.ts';
import type { Notification } from '../../src/alerting/notification.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startDaemon } from '../../src/cli/commands/daemon.ts';
import { SharedBrowser } from '../../src/util/chromium.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { runCli, startCli, waitFor } from '../helpers/cli.ts';

const SECRET = 'outbox-test-secret';
const quiet = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let temp: { dir: string; remove: () => Promise<void> };
const servers: Server[] = [];
before(async () => {
  temp = await makeTempDir('scaiprobe-outbox-');
});
after(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await temp.remove();
});

interface Hit {
  key: string;
  type: string;
  alertId: string;
  startedAt: string;
  path: string;
  status: number;
  validSignature: boolean;
}
type Answer = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang';

function signed(req: IncomingMessage, body: string): boolean {
  const [t, v1] = String(req.headers['x-scaiprobe-signature'] ?? '')
    .split(',')
    .map((part) => part.split('=')[1]);
  return v1 === createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
}

/** A real HTTP receiver; `answer` decides each request's fate (n counts from 1). Answered requests are `hits`, in answer order. */
async function receiver(answer: (n: number) => Answer) {
  const hits: Hit[] = [];
  const inFlight = new Map<string, number>();
  let requests = 0;
  let overlaps = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const n = ++requests;
      const body = Buffer.concat(chunks).toString();
      const parsed = JSON.parse(body) as { type?: string; alert?: { id: string; startedAt: string } };
      const key = String(req.headers['idempotency-key'] ?? '');
      const a = answer(n);
      if (a === 'hang') return;
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      if ((inFlight.get(key) ?? 0) > 1) overlaps++;
      setTimeout(() => {
        inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
        hits.push({
          key,
          type: parsed.type ?? '',
          alertId: parsed.alert?.id ?? '',
          startedAt: parsed.alert?.startedAt ?? '',
          path: req.url ?? '',
          status: a.status,
          validSignature: signed(req, body),
        });
        res.writeHead(a.status, a.headers).end(a.body ?? '');
      }, a.delayMs ?? 0);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    requests: () => requests,
    overlaps: () => overlaps,
  };
}

function notification(alert: string, event: Notification['event'] = 'firing'): Notification {
  const at = Date.now();
  return {
    key: `${alert}-${event}`,
    event,
    createdAt: at,
    alert: { id: alert, rule: 'down', target: alert, severity: 'critical', summary: 's', startedAt: at, labels: {} },
  };
}

function outbox(store: SqliteStore, channels: unknown[], delivery: Record<string, unknown> = {}): Outbox {
  const { config, issues } = parseAlertsSection({
    channels,
    delivery: { initialBackoff: '50ms', maxBackoff: '200ms', ...delivery },
  });
  assert.deepEqual(issues, []);
  return new Outbox({
    outbox: store.outbox,
    clock: systemClock,
    logger: quiet,
    channels: config!.channels,
    delivery: config!.delivery,
  });
}

test('two drainers in two processes on one database never send a row twice', async () => {
  const db = join(temp.dir, 'two-drainers.sqlite');
  const r = await receiver((n) => ({ status: n % 3 === 0 ? 503 : 200, delayMs: 2 + (n % 4) * 4 }));
  const store = new SqliteStore(db, systemClock);
  const box = outbox(store, [{ name: 'hook', type: 'webhook', url: `${r.url}/hook`, secret: SECRET }]);
  const N = 300;
  store.db.transaction(() => {
    for (let i = 0; i < N; i++) store.outbox.add(box.rowsFor(notification(`a${i}`), ['hook']));
  })();
  store.close();
  const go = join(temp.dir, 'go');
  const drainers = [0, 1].map(() => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/helpers/outbox-drainer.ts', db, `${r.url}/hook`, go],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { out: () => out, exited };
  });
  await waitFor(
    'both drainers ready',
    async () => (drainers.every((d) => d.out().includes('ready')) ? true : undefined),
    60_000,
  );
  writeFileSync(go, '');
  assert.deepEqual(await Promise.all(drainers.map((d) => d.exited)), [0, 0]);
  const reports = drainers.map(
    (d) => JSON.parse(d.out().trim().split('\n').at(-1) ?? '{}') as { attempts: number; owner: string },
  );
  const delivered = new Map<string, number>();
  for (const hit of r.hits) if (hit.status === 200) delivered.set(hit.key, (delivered.get(hit.key) ?? 0) + 1);
  assert.equal(delivered.size, N, 'every row delivered');
  assert.deepEqual(
    [...delivered.values()].filter((n) => n > 1),
    [],
    'no row delivered twice',
  );
  assert.equal(r.overlaps(), 0, 'no row was ever in flight twice at once');
  assert.equal(
    r.requests(),
    reports[0]!.attempts + reports[1]!.attempts,
    'every request is one attempt of one drainer',
  );
  assert.ok(
    reports.every((report) => report.attempts > 0),
    `both drainers took part: ${JSON.stringify(reports)}`,
  );
  assert.notEqual(reports[0]!.owner, reports[1]!.owner);
  const check = new SqliteStore(db, systemClock);
  assert.deepEqual(check.db.prepare('SELECT status, count(*) AS n FROM alert_outbox GROUP BY status').all(), [
    { status: 'delivered', n: N },
  ]);
  check.close();
});

test('a receiver that hangs until its timeout delays no other channel', async () => {
  const hung = await receiver(() => 'hang');
  const fast = await receiver(() => ({ status: 200 }));
  const store = new SqliteStore(join(temp.dir, 'hung.sqlite'), systemClock);
  const box = outbox(store, [
    { name: 'hung', type: 'webhook', url: `${hung.url}/hook`, timeout: '6s' },
    { name: 'fast', type: 'webhook', url: `${fast.url}/hook` },
  ]);
  // As in the daemon: every run pumps the lanes, and the alert tick drains every second.
  const tick = setInterval(() => void box.drain(), 1000);
  try {
    await box.enqueue(notification('first'), ['hung', 'fast']);
    await box.pump();
    await waitFor('the first on the fast channel', async () => (fast.hits.length === 1 ? true : undefined), 10_000);
    await sleep(1000);
    const queuedAt = Date.now();
    await box.enqueue(notification('second'), ['hung', 'fast']);
    await box.pump();
    await waitFor('the second on the fast channel', async () => (fast.hits.length === 2 ? true : undefined), 10_000);
    const took = Date.now() - queuedAt;
    assert.ok(took < 2500, `the fast channel waited ${took} ms for the hung one`);
    assert.equal(hung.requests(), 2, 'the hung channel has both in flight');
    assert.equal(hung.hits.length, 0, 'and neither answered');
  } finally {
    clearInterval(tick);
    await box.stop();
    store.close();
  }
});

test('per alert and channel, a resolution never arrives before its firing, with a receiver failing every third request', async () => {
  // Failures alternate between 503 and 429 with Retry-After: 1.
  const r = await receiver((n) =>
    n % 3 !== 0
      ? { status: 200, delayMs: n % 7 }
      : n % 2 === 0
        ? { status: 429, headers: { 'retry-after': '1' } }
        : { status: 503 },
  );
  const store = new SqliteStore(join(temp.dir, 'order.sqlite'), systemClock);
  const { config } = parseAlertsSection({
    channels: [{ name: 'hook', type: 'webhook', url: `${r.url}/hook`, secret: SECRET }],
    rules: [{ name: 'down', probes: ['*'], failures: 1, successes: 1 }],
    delivery: { initialBackoff: '20ms', maxBackoff: '300ms' },
  });
  const alerts = new AlertService({ store, clock: systemClock, logger: quiet, config: config! });
  const tick = setInterval(() => void alerts.tick(), 200);
  const TARGETS = 30;
  const CYCLES = 4;
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      for (const status of ['fail', 'pass'] as const) {
        for (let i = 0; i < TARGETS; i++)
          await alerts.onRun({ probe: `target-${i}`, status, message: status, kind: 'http' });
        await alerts.outbox.pump();
        await sleep(40);
      }
    }
    await waitFor(
      'every notification delivered',
      async () => ((await alerts.outbox.counts()).pending === 0 ? true : undefined),
      90_000,
    );
  } finally {
    clearInterval(tick);
    await alerts.outbox.stop();
  }
  const firstDeliveries = new Map<string, Hit>();
  for (const hit of r.hits) if (hit.status === 200 && !firstDeliveries.has(hit.key)) firstDeliveries.set(hit.key, hit);
  assert.equal(firstDeliveries.size, TARGETS * CYCLES * 2);
  const byAlert = new Map<string, Hit[]>();
  for (const hit of firstDeliveries.values()) byAlert.set(hit.alertId, [...(byAlert.get(hit.alertId) ?? []), hit]);
  const outOfOrder: string[] = [];
  for (const [alert, hits] of byAlert) {
    hits.forEach((hit, index) => {
      const want = index % 2 === 0 ? 'alert.firing' : 'alert.resolved';
      if (hit.type !== want || (want === 'alert.resolved' && hit.startedAt !== hits[index - 1]?.startedAt))
        outOfOrder.push(`${alert}: ${hits.map((h) => h.type).join(' ')}`);
    });
  }
  assert.deepEqual(outOfOrder, []);
  assert.ok(r.hits.some((h) => h.status === 429) && r.hits.some((h) => h.status === 503), 'the receiver did fail');
  assert.ok(r.hits.every((h) => h.validSignature));
  assert.deepEqual(await alerts.outbox.counts(), {
    pending: 0,
    delivered: TARGETS * CYCLES * 2,
    failed: 0,
    expired: 0,
  });
  store.close();
});

test('a receiver answering 400 gets 3 attempts; the notification is failed with its answer, in the outbox API and on the status page', async () => {
  const refusing = await receiver(() => ({ status: 400, body: '{"error":"no such hook <b>x</b>"}' }));
  const fine = await receiver(() => ({ status: 200 }));
  const target = createServer((_req, res) => res.writeHead(503).end('down'));
  servers.push(target);
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const port = await freePort();
  const file = join(temp.dir, 'refusing.yaml');
  writeFileSync(
    file,
    `server: { listen: "127.0.0.1:${port}", token: "\${OUTBOX_TEST_TOKEN}" }
store: { path: "${join(temp.dir, 'refusing.sqlite')}" }
probes:
  - { name: broken, kind: http, url: "http://127.0.0.1:${(target.address() as AddressInfo).port}/", every: 1s, timeout: 1s }
alerts:
  channels:
    - { name: refusing, type: webhook, url: "${refusing.url}/hook" }
    - { name: fine, type: webhook, url: "${fine.url}/hook" }
  rules:
    - { name: down, probes: ["*"], failures: 1 }
  delivery: { initialBackoff: 100ms, maxBackoff: 200ms }
`,
  );
  const daemon = await startDaemon(loadConfig(file, { OUTBOX_TEST_TOKEN: 'outbox-test-token-123' }), {
    clock: systemClock,
    logger: quiet,
  });
  const browser = new SharedBrowser();
  try {
    const api = async (path: string) =>
      (
        await fetch(`${daemon.url}${path}`, { headers: { authorization: 'Bearer outbox-test-token-123' } })
      ).json() as Promise<{ rows: Array<Record<string, unknown>>; counts: Record<string, number> }>;
    const failed = await waitFor(
      'a failed notification',
      async () => (await api('/api/v1/alerts/outbox?status=failed')).rows[0],
      30_000,
    );
    assert.equal(failed.channel, 'refusing');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.attempts, 3);
    assert.equal(failed.lastStatus, 400);
    assert.equal(failed.lastError, 'HTTP 400');
    assert.equal(failed.lastResponse, '{"error":"no such hook <b>x</b>"}');
    await sleep(1000);
    assert.equal(refusing.requests(), 3, 'no attempt after it failed');
    assert.equal(fine.hits.filter((h) => h.status === 200).length, 1, 'the other channel delivered');
    assert.equal((await api('/api/v1/alerts/outbox?status=failed')).counts.failed, 1);
    const context = await browser.context();
    await context.addInitScript(() => localStorage.setItem('scaiprobe.token', 'outbox-test-token-123'));
    const page = await context.newPage();
    await page.goto(`${daemon.url}/`);
    await page.waitForSelector('#alert-failures .failed-notification', { timeout: 15_000 });
    const text = (await page.textContent('#alert-failures')) ?? '';
    assert.match(text, /1 notification failed/);
    assert.match(text, /refusing · firing \(3 attempts/);
    assert.match(text, /HTTP 400: \{"error":"no such hook <b>x<\/b>"\}/, 'the answer is shown as text, not markup');
    await context.close();
  } finally {
    await browser.close();
    await daemon.stop();
  }
});

function daemonConfig(name: string, db: string, port: number, extra = ''): string {
  const file = join(temp.dir, `${name}.yaml`);
  writeFileSync(file, `server: { listen: "127.0.0.1:${port}" }\nstore: { path: "${db}" }\nprobes: []\n${extra}`);
  return file;
}

test("a second daemon on the same database is refused, naming the first one's pid; after kill -9 a restart is not blocked", async () => {
  const db = join(temp.dir, 'one-daemon.sqlite');
  const [portA, portB] = [await freePort(), await freePort()];
  const first = startCli(['run', '--config', daemonConfig('first', db, portA)]);
  try {
    await waitFor(
      'the first daemon',
      async () => ((await fetch(`http://127.0.0.1:${portA}/health`)).ok ? true : undefined),
      30_000,
    );
    const second = await runCli(['run', '--config', daemonConfig('second', db, portB)], {}, 30_000);
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(
        `^scaiprobe: ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another scaiprobe daemon \\(pid ${first.child.pid} on [^,]+, running since [^,]+, last heartbeat \\d+s ago\\): stop it, or give this daemon another store\\.path`,
      ),
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const restarted = startCli(['run', '--config', daemonConfig('second', db, portB)]);
    try {
      await waitFor(
        'the restarted daemon',
        async () => ((await fetch(`http://127.0.0.1:${portB}/health`)).ok ? true : undefined),
        30_000,
      );
      assert.match(restarted.output(), /the previous daemon on this database is gone; taking it over/);
      assert.match(restarted.output(), new RegExp(`pid ${first.child.pid} is not running`));
    } finally {
      restarted.child.kill('SIGTERM');
      assert.equal(await restarted.exited, 0);
    }
    // A clean stop frees the database at once.
    const again = startCli(['run', '--config', daemonConfig('first', db, portA)]);
    try {
      await waitFor(
        'a daemon after a clean stop',
        async () => ((await fetch(`http://127.0.0.1:${portA}/health`)).ok ? true : undefined),
        30_000,
      );
      assert.doesNotMatch(again.output(), /taking it over/);
    } finally {
      again.child.kill('SIGTERM');
      await again.exited;
    }
  } finally {
    first.child.kill('SIGKILL');
  }
});

test('`alert test` sends only its own notification and expires nothing of channels its configuration lacks', async () => {
  const r = await receiver(() => ({ status: 200 }));
  const db = join(temp.dir, 'alert-test.sqlite');
  const store = new SqliteStore(db, systemClock);
  // The daemon's configuration: hook and pd, with notifications of its own due now.
  const daemonsOutbox = outbox(store, [
    { name: 'hook', type: 'webhook', url: `${r.url}/hook`, secret: SECRET },
    { name: 'pd', type: 'pagerduty', url: `${r.url}/pd`, routingKey: 'routing-key' },
  ]);
  for (let i = 0; i < 3; i++) await daemonsOutbox.enqueue(notification(`queued-${i}`), ['hook', 'pd']);
  store.close();
  // `alert test` with another configuration that has only hook.
  const config = daemonConfig(
    'alert-test',
    db,
    await freePort(),
    `alerts:\n  channels:\n    - { name: hook, type: webhook, url: "${r.url}/hook", secret: "\${OUTBOX_TEST_SECRET}" }\n`,
  );
  const result = await runCli(['alert', 'test', 'hook', '--config', config], { OUTBOX_TEST_SECRET: SECRET }, 60_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^delivered to hook \(HTTP 200, 1 attempt\); idempotency key /);
  assert.deepEqual(
    r.hits.map((h) => [h.path, h.type]),
    [['/hook', 'alert.test']],
  );
  const check = new SqliteStore(db, systemClock);
  const rows = check.db
    .prepare('SELECT channel, event, status, attempts FROM alert_outbox ORDER BY id')
    .all() as Array<{ channel: string; event: string; status: string; attempts: number }>;
  check.close();
  assert.deepEqual(
    rows.filter((row) => row.event !== 'test').map((row) => [row.channel, row.status, row.attempts]),
    [
      ['hook', 'pending', 0],
      ['pd', 'pending', 0],
      ['hook', 'pending', 0],
      ['pd', 'pending', 0],
      ['hook', 'pending', 0],
      ['pd', 'pending', 0],
    ],
  );
  assert.deepEqual(
    rows.filter((row) => row.event === 'test').map((row) => [row.channel, row.status, row.attempts]),
    [['hook', 'delivered', 1]],
  );
});
