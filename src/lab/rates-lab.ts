// The lab's rate sources: stats steering, Redis queues and a signed alert receiver.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import { sendJson, type LabApp } from './http-app.ts';
import { mountSendStats, LAB_API_KEYS, utcDate, type SendCounters } from './mail-send.ts';
import { mountScaiDnsMetrics } from './scaidns-metrics.ts';
import { startProcess, waitForPort, type ManagedProcess } from './processes.ts';
import type { LabComponent } from './component.ts';

/** The lab receiver's webhook secret (exported as ALERT_WEBHOOK_SECRET by `scaiprobe lab` / `run --lab`). */
export const LAB_WEBHOOK_SECRET = 'lab-webhook-secret';
export const LAB_QUEUE_KEYS = ['email:process', 'smtp:deliver', 'webhook:deliver', 'arq:queue:default'] as const;
const INITIAL_DEPTHS: Record<string, number> = {
  'email:process': 12,
  'smtp:deliver': 3,
  'webhook:deliver': 0,
  'arq:queue:default': 1,
};

type Intercept = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

/**
 * Runs `intercept` before the stand-in's own handler. Lab control routes go
 * here so that the stand-in's fault switches (5xx, latency, reset) do not
 * break the lab's own receiver and queue controls.
 */
function interceptRequests(app: LabApp, intercept: Intercept): void {
  const original = app.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  app.server.removeAllListeners('request');
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://lab');
    void (async () => {
      const handled = await intercept(req, res, url);
      if (!handled) for (const listener of original) listener(req, res);
    })().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'lab intercept failed' });
    });
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

// ---- stats rates --------------------------------------------------------------------------------

export interface StatsRatesFault {
  bounceRate?: number;
  spamReportRate?: number;
  /** Only this tenant; default every lab tenant. */
  tenant?: string;
}

/**
 * Adds today's traffic to a tenant's counters until its bounce and spam-report
 * rates reach the targets (counters only grow, as real ones do: a lower rate
 * is reached by adding clean traffic).
 */
export function steerRates(counters: SendCounters, tenant: string, target: StatsRatesFault, now: number): void {
  const day = () => counters.day(tenant, utcDate(now));
  const add = (metric: Parameters<SendCounters['add']>[1], n: number) =>
    n > 0 && counters.add(tenant, metric, Math.ceil(n), now);
  if (day().requests === 0) {
    add('requests', 1000);
    add('processed', 1000);
    add('delivered', 1000);
  }
  const bounce = target.bounceRate === undefined ? undefined : Math.min(0.99, Math.max(0.0001, target.bounceRate));
  const spam =
    target.spamReportRate === undefined ? undefined : Math.min(0.99, Math.max(0.00001, target.spamReportRate));
  const clean = (n: number) => {
    add('requests', n);
    add('processed', n);
    add('delivered', n);
  };
  let d = day();
  if (bounce !== undefined && d.bounces / d.requests > bounce) clean(d.bounces / bounce - d.requests);
  d = day();
  if (spam !== undefined && d.delivered > 0 && d.spam_reports / d.delivered > spam)
    clean(d.spam_reports / spam - d.delivered);
  d = day();
  if (bounce !== undefined && d.bounces / d.requests < bounce) {
    const n = (bounce * d.requests - d.bounces) / (1 - bounce);
    add('requests', n);
    add('processed', n);
    add('bounces', n);
  }
  d = day();
  if (spam !== undefined && d.spam_reports / d.delivered < spam)
    add('spam_reports', spam * d.delivered - d.spam_reports);
}

// ---- alert receiver -----------------------------------------------------------------------------

export interface ReceivedAlert {
  at: number;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  /** Whether X-Scaiprobe-Signature verified with the lab secret (null: no signature sent). */
  signatureValid: boolean | null;
}

/** Checks `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` (written here independently of src/alerting). */
export function verifyLabSignature(header: string | undefined, body: Buffer, secret: string): boolean | null {
  if (!header) return null;
  const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=') as [string, string]));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.`).update(body).digest();
  const given = Buffer.from(parts.v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function receiver(app: LabApp, received: ReceivedAlert[]): Intercept {
  return async (req, res, url) => {
    if (!url.pathname.startsWith('/__lab/receiver')) return false;
    if (req.method === 'GET') return (sendJson(res, 200, { received }), true);
    if (req.method === 'DELETE') return (received.splice(0), sendJson(res, 200, { received: [] }), true);
    const body = await readBody(req);
    const status = app.faults.receiverStatus;
    if (typeof status === 'number' && status >= 300) {
      const retryAfter = app.faults.receiverRetryAfter;
      sendJson(
        res,
        status,
        { error: 'lab receiver switched off' },
        typeof retryAfter === 'number' ? { 'retry-after': String(retryAfter) } : {},
      );
      return true;
    }
    let parsed: unknown = body.toString('utf8');
    try {
      parsed = JSON.parse(parsed as string);
    } catch {
      /* kept as text */
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    );
    received.push({
      at: Date.now(),
      path: url.pathname,
      headers,
      body: parsed,
      signatureValid: verifyLabSignature(headers['x-scaiprobe-signature'], body, LAB_WEBHOOK_SECRET),
    });
    if (received.length > 1000) received.splice(0, received.length - 1000);
    sendJson(res, 200, { ok: true });
    return true;
  };
}

// ---- redis queues -------------------------------------------------------------------------------

async function setDepth(redis: Redis, key: string, depth: number): Promise<void> {
  const current = await redis.llen(key);
  if (depth < current) {
    if (depth === 0) await redis.del(key);
    else await redis.ltrim(key, 0, depth - 1);
    return;
  }
  await pushJobs(redis, key, depth - current);
}

async function pushJobs(redis: Redis, key: string, count: number): Promise<void> {
  for (let left = Math.floor(count); left > 0; left -= 10_000) {
    const n = Math.min(left, 10_000);
    await redis.rpush(key, ...Array.from({ length: n }, (_, i) => `{"job":"lab","n":${i}}`));
  }
}

function queueControl(redis: Redis): Intercept {
  return async (req, res, url) => {
    if (url.pathname !== '/__lab/queues') return false;
    try {
      if (req.method === 'POST') {
        const body = JSON.parse((await readBody(req)).toString() || '{}') as {
          depths?: Record<string, number>;
          push?: Record<string, number>;
        };
        for (const [key, depth] of Object.entries(body.depths ?? {}))
          await setDepth(redis, key, Math.max(0, Math.floor(depth)));
        for (const [key, count] of Object.entries(body.push ?? {})) await pushJobs(redis, key, count);
      }
      const depths = Object.fromEntries(
        await Promise.all(LAB_QUEUE_KEYS.map(async (key) => [key, await redis.llen(key)] as const)),
      );
      sendJson(res, 200, { depths });
    } catch (error) {
      sendJson(res, 400, {
        error: `body must be {"depths": {key: n}} or {"push": {key: n}}: ${(error as Error).message}`,
      });
    }
    return true;
  };
}

async function startRedis(dir: string, port: number): Promise<{ proc: ManagedProcess; redis: Redis }> {
  const proc = startProcess({
    name: 'redis-server',
    command: 'redis-server',
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--protected-mode',
      'yes',
    ],
  });
  try {
    await waitForPort(port, '127.0.0.1', 10_000, proc);
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    for (const [key, depth] of Object.entries(INITIAL_DEPTHS)) await setDepth(redis, key, depth);
    return { proc, redis };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/**
 * Lab, part five: ScaiDNS /metrics (switchable latency and 5xx share), a
 * stats-rate switch on ScaiSend (`statsRates` fault), Redis with growable queue
 * keys (POST /__lab/queues on the ScaiSend stand-in; `queueGrowthPerSec` fault),
 * and an alert receiver (POST/GET/DELETE /__lab/receiver; `receiverStatus` fault).
 */
export const ratesLabComponent: LabComponent = {
  name: 'rates (ScaiDNS /metrics, stats switch, Redis queues, alert receiver)',
  async start(ctx) {
    mountScaiDnsMetrics(ctx.scaidns);
    // The lab's mail-send counters (the mail part counts into them); the stats routes too, should the mail part not run.
    const counters = ctx.sendCounters;
    mountSendStats(ctx.scaisend, counters);
    const { proc, redis } = await startRedis(ctx.dir, ctx.ports.redis);
    const received: ReceivedAlert[] = [];
    const onReceiver = receiver(ctx.scaisend, received);
    const onQueues = queueControl(redis);
    interceptRequests(ctx.scaisend, async (req, res, url) => {
      const override = ctx.scaisend.faults.statsRates as StatsRatesFault | undefined;
      if (override && url.pathname.startsWith('/v3/stats')) {
        const tenants = override.tenant ? [override.tenant] : [...new Set(Object.values(LAB_API_KEYS))];
        for (const tenant of tenants) steerRates(counters, tenant, override, Date.now());
      }
      return (await onReceiver(req, res, url)) || (await onQueues(req, res, url));
    });
    const growth = setInterval(() => {
      const perSec = ctx.scaisend.faults.queueGrowthPerSec;
      if (!perSec || typeof perSec !== 'object') return;
      for (const [key, n] of Object.entries(perSec as Record<string, number>))
        void pushJobs(redis, key, n).catch(() => undefined);
    }, 1000);
    growth.unref();
    return {
      describe: `ScaiDNS /metrics; redis 127.0.0.1:${ctx.ports.redis} (queues ${LAB_QUEUE_KEYS.join(', ')}; POST /__lab/queues); alert receiver POST /__lab/receiver on ScaiSend`,
      async stop() {
        clearInterval(growth);
        redis.disconnect();
        await proc.stop();
      },
    };
  },
};
