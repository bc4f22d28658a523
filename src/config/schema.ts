// The configuration file's schema: common probe fields, defaults, server, store, scheduler and log.
import { z } from 'zod';
import { duration, timerDuration } from '../core/schema.ts';
import { parseAssertion } from '../core/assertions.ts';
import { validate as validateCron } from 'node-cron';
import { DEFAULT_RETENTION } from '../store/retention.ts';

const assertionText = z.string().superRefine((text, ctx) => {
  try {
    parseAssertion(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const assertionSchema = z.union([
  assertionText.transform((expr) => ({ expr, soft: false })),
  z
    .strictObject({ that: assertionText, soft: z.boolean().default(false) })
    .transform(({ that, soft }) => ({ expr: that, soft })),
]);

const probeName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/,
    'must be 1-100 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
  );

const cronExpression = z.string().refine((expr) => validateCron(expr), { error: 'is not a valid cron expression' });

/** Keys every probe has, whatever its kind. */
export const commonProbeFields = {
  name: probeName,
  kind: z.string(),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  every: duration().optional(),
  cron: cronExpression.optional(),
  timeout: timerDuration().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  retryDelay: timerDuration().optional(),
  tags: z.array(z.string()).optional(),
  tenant: z.string().optional(),
  expect: z.array(assertionSchema).default([]),
  /** In a fleet: the locations that run the probe (default: every location with a live agent), or `any` for one run per interval wherever. */
  locations: z.union([z.literal('any'), z.array(z.lazy(() => locationName)).min(1)]).optional(),
};

export const defaultsSchema = z.strictObject({
  every: duration().optional(),
  timeout: timerDuration().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  retryDelay: timerDuration().optional(),
  tags: z.array(z.string()).optional(),
  tenant: z.string().optional(),
});

const LOOPBACK_LISTEN = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):\d{1,5}$/;

/** server.listen as written: HOST:PORT. */
export const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:9464');

/** Why the server as configured would expose the API beyond loopback without a token (undefined when it does not). */
export function exposedWithoutToken(server: {
  listen: string;
  token?: string | undefined;
  public: boolean;
}): string | undefined {
  if (server.token || server.public || LOOPBACK_LISTEN.test(server.listen)) return undefined;
  return `${server.listen} is beyond loopback and server.token is not set: anyone who reaches the port could read the API and /metrics. Set server.token (at least 16 characters), listen on 127.0.0.1, or set server.public: true to serve only the read-only status page without a token`;
}

const hostName = z
  .string()
  .regex(
    /^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/,
    'must be a host name such as probes.example.com',
  );

export const serverSchema = z
  .strictObject({
    listen: listenAddress.default('127.0.0.1:9464'),
    /** The admin token: reads and changes everything. */
    token: z.string().min(16, 'must be at least 16 characters (e.g. `openssl rand -hex 24`)').optional(),
    /** The status page (and only it) is readable without a token. */
    public: z.boolean().default(false),
    /** Host names the daemon answers to besides IP literals and localhost (DNS rebinding guard). */
    allowedHosts: z.array(hostName).default([]),
    /** Live status-page viewers at most; more get 429. */
    maxEventClients: z.number().int().min(1).max(10_000).default(100),
    /** Slow clients: time to send the headers, and the whole request. */
    headersTimeout: duration().default(10_000),
    requestTimeout: duration().default(30_000),
  })
  .superRefine((server, ctx) => {
    const exposed = exposedWithoutToken(server);
    if (exposed) ctx.addIssue({ code: 'custom', path: ['listen'], message: exposed });
    if (server.requestTimeout < server.headersTimeout)
      ctx.addIssue({ code: 'custom', path: ['requestTimeout'], message: 'must be at least headersTimeout' });
  });

/** A location's name, as agents and probes give it: `eu-west`, `us-east-1`. */
export const locationName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,39}$/, 'must be 1-40 lower-case letters, digits, ".", "_" or "-", such as eu-west');

const postgresUrl = z
  .string()
  .regex(
    /^postgres(ql)?:\/\/\S+$/,
    'must be a postgres:// URL, e.g. postgres://scaiprobe@db.example.com:5432/scaiprobe',
  );

export const storeSchema = z.strictObject({
  path: z.string().default('data/scaiprobe.db'),
  /** A PostgreSQL database shared by a fleet of agents; the SQLite file at `path` stays each agent's local store and spool. */
  url: postgresUrl.optional(),
  /** TLS to PostgreSQL: the CA that signs the server's certificate (PEM), a client certificate and key, or `false` for none. */
  tls: z
    .union([
      z.literal(false),
      z.strictObject({
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        serverName: z.string().optional(),
      }),
    ])
    .optional(),
  retention: z
    .strictObject({
      raw: duration().default(DEFAULT_RETENTION.raw),
      hourly: duration().default(DEFAULT_RETENTION.hourly),
      items: duration().default(DEFAULT_RETENTION.items),
      stateChanges: duration().default(DEFAULT_RETENTION.stateChanges),
      alerts: duration().default(DEFAULT_RETENTION.alerts),
      outbox: duration().default(DEFAULT_RETENTION.outbox),
      maintenance: duration().default(DEFAULT_RETENTION.maintenance),
    })
    .default(DEFAULT_RETENTION),
});

export const schedulerSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(10_000).default(64),
  /** Each interval run starts up to this fraction of the interval early or late. */
  jitter: z
    .string()
    .regex(/^\d+(\.\d+)?%$/, 'must be a percent such as 10%')
    .transform((text) => Number(text.slice(0, -1)) / 100)
    // Past 100 % a run could start before the one scheduled ahead of it.
    .refine((fraction) => fraction <= 1, 'must be at most 100%')
    .default(0.1),
});

/** This process as an agent of a fleet (with store.url): where it probes from. */
export const agentSchema = z.strictObject({
  location: locationName.default('default'),
  /** Unique in the fleet; default: host name and store path. */
  name: z.string().min(1).max(100).optional(),
  /** Keep a copy of the whole fleet's results in the local store (for the status page, API and reports this agent serves). */
  replica: z.boolean().default(true),
});

export const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** One YAML file; `probes` are validated per kind afterwards. */
export const fileSchema = z.strictObject({
  server: serverSchema.optional(),
  store: storeSchema.optional(),
  scheduler: schedulerSchema.optional(),
  agent: agentSchema.optional(),
  log: logSchema.optional(),
  defaults: defaultsSchema.optional(),
  probes: z.array(z.unknown()).default([]),
});

export type ServerConfig = z.output<typeof serverSchema>;
export type StoreConfig = z.output<typeof storeSchema>;
export type SchedulerConfig = z.output<typeof schedulerSchema>;
export type LogConfig = z.output<typeof logSchema>;
export type AgentConfig = z.output<typeof agentSchema>;
export type DefaultsConfig = z.output<typeof defaultsSchema>;
