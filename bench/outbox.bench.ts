// Outbox: 10,000 notifications drained to a local receiver, healthy and failing a third of requests.
// Run: node --import tsx bench/outbox.bench.ts
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import { systemClock } from '../src/util/clock.ts';
import { makeTempDir } from '../src/lab/processes.ts';
import { parseAlertsSection } from '../src/alerting/config.ts';
import { Outbox } from '../src/alerting/outbox.ts';

const N = 10_000;

async function scenario(failEvery: number): Promise<Record<string, string | number>> {
  const keys = new Map<string, number>();
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      if (failEvery > 0 && requests % failEvery === 0) {
        res.writeHead(503).end();
        return;
      }
      const key = String(req.headers['idempotency-key']);
      keys.set(key, (keys.get(key) ?? 0) + 1);
      res.writeHead(200).end();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const temp = await makeTempDir('scaiprobe-bench-outbox-');
  const store = new SqliteStore(`${temp.dir}/outbox.db`, systemClock);
  const { config } = parseAlertsSection({
    channels: [{ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${port}/hook`, secret: 'bench-secret-123' }],
    delivery: { initialBackoff: '20ms', maxBackoff: '200ms', concurrency: 16 },
  });
  const outbox = new Outbox({
    outbox: store.outbox,
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    channels: config!.channels,
    delivery: config!.delivery,
  });
  const enqueueStarted = performance.now();
  store.db.transaction(() => {
    for (let i = 0; i < N; i++) {
      store.outbox.add(
        outbox.rowsFor(
          {
            key: `n-${i}`,
            event: 'firing',
            createdAt: Date.now(),
            alert: {
              id: `a-${i}`,
              rule: 'bench',
              target: `t-${i}`,
              severity: 'critical',
              summary: 'bench',
              startedAt: Date.now(),
              labels: {},
            },
          },
          ['hook'],
        ),
      );
    }
  })();
  const enqueueMs = performance.now() - enqueueStarted;
  const started = performance.now();
  while ((await outbox.counts()).pending > 0) {
    const attempted = await outbox.drain();
    if (attempted === 0) await new Promise((r) => setTimeout(r, 10));
  }
  const seconds = (performance.now() - started) / 1000;
  const counts = await outbox.counts();
  store.close();
  await temp.remove();
  server.closeAllConnections();
  server.close();
  const duplicates = [...keys.values()].filter((n) => n > 1).length;
  return {
    receiver: failEvery ? `fails every ${failEvery}rd request (503)` : 'healthy',
    'enqueue ms (10k, one tx)': enqueueMs.toFixed(0),
    'drain s': seconds.toFixed(2),
    'delivered/s': Math.round(counts.delivered / seconds),
    delivered: counts.delivered,
    expired: counts.expired,
    'unique keys received': keys.size,
    lost: N - keys.size,
    duplicates,
    'HTTP requests': requests,
  };
}

const rows = [await scenario(0), await scenario(3)];
console.table(rows);
