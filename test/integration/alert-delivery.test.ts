import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir, startProcess, waitForPort, type ManagedProcess } from '../../src/lab/processes.ts';

const SECRET = 'kill-nine-secret';
let temp: { dir: string; remove: () => Promise<void> };
let receiverUp = false;
const delivered: Array<{ key: string; valid: boolean; type: string }> = [];
const servers: Server[] = [];
const daemons: ManagedProcess[] = [];

function listen(handler: Parameters<typeof createServer>[1], port: number): Promise<void> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
}

before(async () => {
  temp = await makeTempDir('scaiprobe-alerts-');
});
after(async () => {
  for (const daemon of daemons) await daemon.stop();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await temp.remove();
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('receiver down, daemon killed -9, receiver up, daemon restarted: delivered exactly once', async () => {
  const targetPort = await freePort();
  const receiverPort = await freePort();
  const apiPort = await freePort();
  await listen((_req, res) => res.writeHead(503).end('down'), targetPort);
  await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!receiverUp) {
        res.writeHead(503).end();
        return;
      }
      const body = Buffer.concat(chunks).toString();
      const [t, v1] = String(req.headers['x-scaiprobe-signature'] ?? '')
        .split(',')
        .map((p) => p.split('=')[1]);
      const valid = v1 === createHmac('sha256', SECRET).update(`${t}.${body}`).digest('hex');
      delivered.push({ key: String(req.headers['idempotency-key']), valid, type: JSON.parse(body).type });
      res.writeHead(200).end();
    });
  }, receiverPort);
  const config = join(temp.dir, 'config.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${apiPort}" }
store: { path: "${join(temp.dir, 'db.sqlite')}" }
probes:
  - { name: target-ready, kind: http, url: "http://127.0.0.1:${targetPort}/ready", every: 1s, timeout: 1s }
alerts:
  channels:
    - { name: hook, type: webhook, url: "http://127.0.0.1:${receiverPort}/hook", secret: "\${TEST_HOOK_SECRET}" }
  rules:
    - { name: down, probes: ["*"], failures: 1, channels: [hook] }
  delivery: { initialBackoff: 300ms, maxBackoff: 1s }
`,
  );
  const start = () => {
    const daemon = startProcess({
      name: 'scaiprobe',
      command: process.execPath,
      args: ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', config],
      env: { TEST_HOOK_SECRET: SECRET },
    });
    daemons.push(daemon);
    return daemon;
  };
  const first = start();
  await waitForPort(apiPort, '127.0.0.1', 30_000, first);
  const outbox = async () =>
    (await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/alerts`)).json()) as {
      alerts: Array<{ status: string }>;
      outbox: { counts: Record<string, number>; recent: Array<{ attempts: number; status: string }> };
    };
  await waitFor('a failed attempt in the outbox', async () => {
    const state = await outbox();
    return state.outbox.recent.some((r) => r.status === 'pending' && r.attempts >= 2) ? state : undefined;
  });
  process.kill(first.pid, 'SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  assert.equal(delivered.length, 0);
  receiverUp = true;
  const second = start();
  await waitForPort(apiPort, '127.0.0.1', 30_000, second);
  await waitFor('the delivery', async () => (delivered.length > 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 3000));
  const state = await outbox();
  assert.equal(delivered.length, 1, JSON.stringify(delivered));
  assert.equal(delivered[0]?.valid, true);
  assert.equal(delivered[0]?.type, 'alert.firing');
  assert.equal(state.outbox.counts.delivered, 1);
  assert.equal(state.outbox.counts.pending ?? 0, 0);
  assert.equal(state.alerts[0]?.status, 'firing');
});
