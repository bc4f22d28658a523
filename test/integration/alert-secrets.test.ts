import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { readAlertingSections } from '../../src/alerting/wire.ts';
import { AlertService } from '../../src/alerting/service.ts';
import { pagerDutyBody } from '../../src/alerting/channels.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';

const T0 = Date.UTC(2025, 5, 1, 10, 0, 0);
const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-alert-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP receiver for all three channels; answers 503 until it is up. */
async function receiver(): Promise<{ url: string; received: Received[]; up(): void; close(): void }> {
  const received: Received[] = [];
  let up = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!up) return void res.writeHead(503).end();
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    up: () => void (up = true),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function alertsFrom(url: string, env: NodeJS.ProcessEnv) {
  const file = join(dir, 'alerts.yaml');
  writeFileSync(
    file,
    `probes: []
alerts:
  channels:
    - { name: hook, type: webhook, url: "${url}/hook", secret: "\${HOOK_SECRET}" }
    - { name: team-slack, type: slack, url: "${url}/slack" }
    - { name: pd, type: pagerduty, url: "${url}/pd", routingKey: "\${PD_ROUTING_KEY}" }
  rules:
    - { name: down, probes: ["*"], failures: 1 }
  delivery: { initialBackoff: 1s, maxBackoff: 2s }
`,
  );
  return readAlertingSections(loadConfig(file, env)).alerts;
}

const storedBodies = (store: SqliteStore) =>
  (store.db.prepare('SELECT body FROM alert_outbox ORDER BY id').all() as Array<{ body: string }>)
    .map((r) => r.body)
    .join('\n');

test('routing keys and webhook secrets are added at send time, never stored; Slack text is escaped; queued rows deliver after a restart', async () => {
  const target = await receiver();
  const dbPath = join(dir, 'db.sqlite');
  const clock = new ManualClock(T0);
  const logger = pino({ level: 'silent' });
  try {
    // First process: the receiver is down, so every notification stays queued.
    const first = new SqliteStore(dbPath, clock);
    const env1 = { HOOK_SECRET: 'webhook-secret-value', PD_ROUTING_KEY: 'routing-key-before-restart' };
    const alerts1 = new AlertService({ store: first, clock, logger, config: alertsFrom(target.url, env1) });
    await alerts1.onRun({
      probe: 'api-ready',
      kind: 'http',
      status: 'fail',
      message: 'degraded: db: <!channel> <http://evil.example|click here> & more',
    });
    await alerts1.outbox.drain();
    assert.equal((await alerts1.outbox.counts()).pending, 3, 'one row per channel, still pending');
    const queued = storedBodies(first);
    for (const secret of ['webhook-secret-value', 'routing-key-before-restart', 'routing_key'])
      assert.ok(!queued.includes(secret), `${secret} stored:\n${queued}`);
    // A row as an older version queued it, with the routing key inside its body.
    first.db.prepare('DELETE FROM schema_migrations WHERE version = 3').run();
    first.db
      .prepare(
        'INSERT INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        'old-key-firing-1',
        'old',
        'pd',
        'firing',
        pagerDutyBody(
          {
            key: 'old-key-firing-1',
            event: 'firing',
            createdAt: T0,
            alert: {
              id: 'old',
              rule: 'down',
              target: 'legacy',
              severity: 'critical',
              summary: 'from before',
              startedAt: T0,
              labels: {},
            },
          },
          'routing-key-stored-by-an-older-version',
        ),
        T0,
        T0 + 3_600_000,
        T0,
      );
    first.close();

    // Second process, after the key was rotated in the environment; the receiver is back.
    target.up();
    clock.advance(5000);
    const second = new SqliteStore(dbPath, clock);
    assert.ok(
      !storedBodies(second).includes('routing-key-stored-by-an-older-version'),
      'the upgrade removes stored routing keys',
    );
    const env2 = { HOOK_SECRET: 'webhook-secret-value', PD_ROUTING_KEY: 'routing-key-after-restart' };
    const alerts2 = new AlertService({ store: second, clock, logger, config: alertsFrom(target.url, env2) });
    await alerts2.outbox.drain();
    assert.deepEqual(await alerts2.outbox.counts(), { pending: 0, delivered: 4, failed: 0, expired: 0 });
    assert.ok(!storedBodies(second).includes('routing-key-after-restart'));
    second.close();

    const pd = target.received
      .filter((r) => r.path === '/pd')
      .map((r) => JSON.parse(r.body) as { routing_key: string; dedup_key: string });
    assert.equal(pd.length, 2);
    for (const event of pd)
      assert.equal(event.routing_key, 'routing-key-after-restart', 'the key comes from the configuration at send time');

    const hook = target.received.find((r) => r.path === '/hook');
    assert.ok(hook);
    const [t, v1] = String(hook.headers['x-scaiprobe-signature'])
      .split(',')
      .map((p) => p.split('=')[1]);
    assert.equal(v1, createHmac('sha256', 'webhook-secret-value').update(`${t}.${hook.body}`).digest('hex'));

    const slack = target.received.find((r) => r.path === '/slack');
    assert.ok(slack);
    const message = JSON.parse(slack.body) as { text: string; blocks: Array<{ text?: { text: string } }> };
    for (const text of [message.text, message.blocks[0]?.text?.text ?? '']) {
      assert.ok(!text.includes('<!channel>') && !text.includes('<http://evil'), text);
      assert.match(text, /&lt;!channel&gt; &lt;http:\/\/evil\.example\|click here&gt; &amp; more/);
    }
  } finally {
    target.close();
  }
});
