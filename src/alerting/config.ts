// The alerts section's schema: channels, rules and maintenance windows, with their defaults.
import { z } from 'zod';
import { validate as validateCron } from 'node-cron';
import { duration, timerDuration } from '../core/schema.ts';
import { alertmanagerEndpoint, LABEL_NAME } from './alertmanager.ts';

const name = z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . - only');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const channelSchema = z.discriminatedUnion('type', [
  z.strictObject({
    name,
    type: z.literal('webhook'),
    url: httpUrl,
    secret: z.string().min(8, 'must be at least 8 characters').optional(),
    timeout: timerDuration().default(10_000),
  }),
  z.strictObject({ name, type: z.literal('slack'), url: httpUrl, timeout: timerDuration().default(10_000) }),
  z.strictObject({
    name,
    type: z.literal('pagerduty'),
    routingKey: z.string().min(1),
    url: httpUrl.default('https://events.pagerduty.com/v2/enqueue'),
    timeout: timerDuration().default(10_000),
  }),
  z
    .strictObject({
      name,
      type: z.literal('alertmanager'),
      /** The Alertmanager's base URL (with its route prefix, if any): posts go to <url>/api/v2/alerts. */
      url: httpUrl.transform(alertmanagerEndpoint),
      basicAuth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
      bearerToken: z.string().min(1).optional(),
      /** Re-post interval while firing; each post is valid for 4 of them. */
      resend: duration()
        .refine((ms) => ms >= 1000 && ms <= 3_600_000, 'must be between 1s and 1h')
        .default(60_000),
      /** Labels added to every alert (scaiprobe's own labels win on a clash). */
      labels: z
        .record(
          z.string().regex(LABEL_NAME, 'label names are letters, digits and _, not starting with a digit'),
          z.string(),
        )
        .default({}),
      timeout: timerDuration().default(10_000),
    })
    .refine((channel) => !(channel.basicAuth && channel.bearerToken), {
      error: 'give basicAuth or bearerToken, not both',
      path: ['bearerToken'],
    }),
]);

const ruleSchema = z
  .strictObject({
    name,
    /** Probe-name globs (`*` any); a rule watches probes or indicators, not both. */
    probes: z.array(z.string()).optional(),
    tags: z.array(z.string()).default([]),
    /** Indicator-id globs, e.g. `bounceRate:*`. */
    indicators: z.array(z.string()).optional(),
    /** What counts as bad: probe runs `fail` (default) or `warn` (warn or fail); indicators `critical` (default) or `warn`. */
    on: z.enum(['fail', 'warn', 'critical']).optional(),
    /** The condition must hold this long before the alert fires. */
    for: duration().default(0),
    /** Fire when at least `failures` of the last `window` results are bad ("3 failures in the last 5 runs"). */
    failures: z.number().int().min(1).default(1),
    window: z.number().int().min(1).max(1000).optional(),
    /**
     * For probes run from several locations: how many of the probe's locations must fail for the condition to
     * hold (`majority`: more than half of its live locations). Fewer failing is a local failure: noted, not paged.
     */
    quorum: z.union([z.number().int().min(1), z.literal('majority')]).optional(),
    /** Good results in a row needed to resolve. */
    successes: z.number().int().min(1).default(1),
    /** Reminder interval while firing. */
    repeat: duration().optional(),
    severity: z.enum(['critical', 'error', 'warning', 'info']).default('critical'),
    channels: z.array(name).optional(),
    /** What the alert means and what to do first (Alertmanager's `description` annotation). */
    description: z.string().optional(),
    /** A link to the runbook (Alertmanager's `runbook_url` annotation). */
    runbook: z.url({ error: 'must be a URL' }).optional(),
  })
  .refine((rule) => !(rule.probes && rule.indicators), {
    error: 'give either probes or indicators, not both',
    path: ['indicators'],
  })
  .refine((rule) => !(rule.quorum !== undefined && rule.indicators), {
    error: 'quorum counts the locations a probe runs from; an indicator rule has none',
    path: ['quorum'],
  })
  .refine((rule) => rule.failures <= (rule.window ?? rule.failures), {
    error: 'failures cannot exceed window',
    path: ['failures'],
  });

const windowSchema = z
  .strictObject({
    name: z.string().optional(),
    rule: z.string().default('*'),
    target: z.string().default('*'),
    from: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    cron: z
      .string()
      .refine((text) => validateCron(text), 'is not a valid cron expression')
      .optional(),
    duration: duration().optional(),
    reason: z.string().default(''),
  })
  .refine((w) => (w.cron ? w.duration !== undefined : w.from !== undefined && w.until !== undefined), {
    error: 'give from + until, or cron + duration',
  });

export const alertsSchema = z.strictObject({
  channels: z.array(channelSchema).default([]),
  rules: z.array(ruleSchema).optional(),
  silences: z.array(windowSchema).default([]),
  maintenance: z.array(windowSchema).default([]),
  delivery: z
    .strictObject({
      expireAfter: duration().default(24 * 3_600_000),
      initialBackoff: duration().default(1000),
      maxBackoff: duration().default(5 * 60_000),
      /** Attempts per channel at once. */
      concurrency: z.number().int().min(1).max(64).default(8),
      /** Attempts a permanent client error (4xx other than 408, 409, 425, 429) gets before the notification is marked failed. */
      clientErrorAttempts: z.number().int().min(1).max(100).default(3),
    })
    .prefault({}),
});

export type AlertsConfig = z.output<typeof alertsSchema>;
export type ChannelConfig = AlertsConfig['channels'][number];
export type RuleConfig = NonNullable<AlertsConfig['rules']>[number];
export type WindowConfig = AlertsConfig['silences'][number];

/** The manuals' defaults when no rules are given: any probe failing for a minute, any indicator critical. */
export function defaultRules(channels: string[]): RuleConfig[] {
  const common = {
    tags: [],
    failures: 1,
    successes: 2,
    severity: 'critical' as const,
    channels,
    repeat: 4 * 3_600_000,
  };
  return [
    { ...common, name: 'probe-failing', probes: ['*'], on: 'fail', for: 60_000 },
    { ...common, name: 'indicator-critical', indicators: ['*'], on: 'critical', for: 0 },
  ];
}

type SectionIssue = { path: (string | number)[]; message: string };

/** Validates `alerts:`; issues have paths starting at `alerts`. */
export function parseAlertsSection(raw: unknown): { config?: AlertsConfig; issues: SectionIssue[] } {
  const parsed = alertsSchema.safeParse(raw ?? {});
  const issues: SectionIssue[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({
        path: ['alerts', ...(issue.path as Array<string | number>)],
        message: issue.message,
      }));
  // Names are checked on the section as written, so they are reported along with any other problem.
  issues.push(...nameIssues(raw));
  return parsed.success && issues.length === 0 ? { config: parsed.data, issues } : { issues };
}

/** The `name` of each entry of a list as written (undefined where it is not a string). */
function namesOf(list: unknown): Array<string | undefined> {
  return Array.isArray(list)
    ? list
        .map((entry) => (entry as { name?: unknown } | null)?.name as string | undefined)
        .map((name) => (typeof name === 'string' ? name : undefined))
    : [];
}

function duplicates(names: Array<string | undefined>, list: 'channels' | 'rules', what: string): SectionIssue[] {
  const seen = new Set<string>();
  return names.flatMap((name, index) => {
    if (name === undefined) return [];
    if (seen.has(name))
      return [{ path: ['alerts', list, index, 'name'], message: `"${name}" is already the name of a ${what}` }];
    seen.add(name);
    return [];
  });
}

/** Duplicate channel and rule names (rules are keyed by name in the alert state), and rules naming channels that do not exist. */
function nameIssues(raw: unknown): SectionIssue[] {
  const section = (raw ?? {}) as { channels?: unknown; rules?: unknown };
  const channels = namesOf(section.channels);
  const known = new Set(channels.filter((name): name is string => name !== undefined));
  const issues = [
    ...duplicates(channels, 'channels', 'channel'),
    ...duplicates(namesOf(section.rules), 'rules', 'rule'),
  ];
  const rules = Array.isArray(section.rules) ? (section.rules as unknown[]) : [];
  rules.forEach((rule, index) => {
    const wanted = (rule as { channels?: unknown } | null)?.channels;
    if (!Array.isArray(wanted)) return;
    wanted.forEach((channel, c) => {
      if (typeof channel === 'string' && !known.has(channel))
        issues.push({
          path: ['alerts', 'rules', index, 'channels', c],
          message: `no channel named "${channel}" (have: ${[...known].join(', ') || 'none'})`,
        });
    });
  });
  return issues;
}
