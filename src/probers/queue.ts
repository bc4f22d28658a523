// The queue kind: Redis queue depths read as observations.
import { z } from 'zod';
import type { Redis } from 'ioredis';
import { ProbeFailure } from '../core/errors.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober } from './kind.ts';

const fields = z.object({
  /** redis://[user:pass@]host:port[/db] */
  redis: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  password: z.string().optional(),
  keys: z.array(z.string().min(1)).min(1),
  /** Prepended to every key (the deployment's REDIS_QUEUE_PREFIX). */
  prefix: z.string().default(''),
});

type QueueSpec = z.output<typeof fields>;

function failureOf(error: unknown, url: string, signal: AbortSignal): ProbeFailure {
  if (signal.aborted) return new ProbeFailure('TIMEOUT', `Redis ${url} did not answer before the deadline`);
  const message = error instanceof Error ? error.message : String(error);
  if (/NOAUTH|WRONGPASS|invalid password|AUTH/i.test(message))
    return new ProbeFailure('AUTH', `Redis ${url}: ${message}`);
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ETIMEDOUT|Connection is closed|connect/i.test(message))
    return new ProbeFailure('CONNECT', `Redis ${url}: ${message}`);
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return new ProbeFailure('DNS', `Redis ${url}: ${message}`);
  return new ProbeFailure('PROTOCOL', `Redis ${url}: ${message}`);
}

/** The URL without its password, for messages. */
function safeUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

async function measure(
  client: Redis,
  keys: string[],
): Promise<Array<{ key: string; depth: number | null; error?: string }>> {
  const results = (await client.pipeline(keys.map((key) => ['llen', key])).exec()) ?? [];
  return keys.map((key, index) => {
    const [error, value] = results[index] ?? [new Error('no reply'), null];
    return error ? { key, depth: null, error: error.message } : { key, depth: Number(value) };
  });
}

function createQueueProber(spec: QueueSpec & CommonProbeSpec): Prober {
  const shown = safeUrl(spec.redis);
  return {
    async probe(ctx: ProbeContext): Promise<Measurement> {
      // ioredis is loaded on first use, so a daemon without queue probes never holds it in memory.
      const { Redis: RedisClient } = await import('ioredis');
      const client = new RedisClient(spec.redis, {
        ...(spec.password ? { password: spec.password } : {}),
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        connectTimeout: Math.max(100, ctx.deadline - ctx.clock.now()),
      });
      // The server's own refusal (NOAUTH, WRONGPASS) comes as an 'error' event; the awaited call then only says "Connection is closed."
      let lastError: Error | undefined;
      client.on('error', (error: Error) => {
        lastError = error;
      });
      const abort = () => client.disconnect();
      ctx.signal.addEventListener('abort', abort, { once: true });
      const started = ctx.clock.monotonic();
      try {
        await client.connect();
        const depths = await measure(
          client,
          spec.keys.map((key) => `${spec.prefix}${key}`),
        );
        const observations: Observations = { latency: Math.round((ctx.clock.monotonic() - started) * 10) / 10 };
        let total = 0;
        const warnings: string[] = [];
        depths.forEach(({ depth, error }, index) => {
          const key = spec.keys[index] ?? '';
          observations[`depth.${key}`] = depth;
          if (depth !== null) total += depth;
          if (error) warnings.push(`${spec.prefix}${key}: ${error}`);
        });
        observations['depth.total'] = total;
        observations['depth.errors'] = warnings.length;
        const parts = spec.keys.map((key) => `${key}=${String(observations[`depth.${key}`] ?? 'error')}`);
        return {
          observations,
          message: `queue depth ${total} (${parts.join(', ')})`,
          ...(warnings.length > 0 ? { warnings } : {}),
        };
      } catch (error) {
        const closed = /Connection is closed/i.test(error instanceof Error ? error.message : '');
        throw failureOf(closed && lastError ? lastError : error, shown, ctx.signal);
      } finally {
        ctx.signal.removeEventListener('abort', abort);
        client.disconnect();
      }
    },
  };
}

export const queueKind: ProbeKind<QueueSpec> = {
  kind: 'queue',
  feeds: { observations: { queueDepth: 'depth.total' } },
  fields,
  implicitExpect: ['depth.errors == 0'],
  create: createQueueProber,
};
