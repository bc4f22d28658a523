// Indicators computed from their inputs: each value judged against its threshold and trend.
import type { IndicatorsConfig } from './thresholds.ts';
import { percentile, trendOf, windowOf, type Point, type Trend } from './trend.ts';

export type IndicatorState = 'ok' | 'warn' | 'critical';

export interface Indicator {
  /** `<name>:<subject>`, e.g. `bounceRate:tenant-a`, `seedSpamRate:tenant-a/send.example.test`. */
  id: string;
  name: string;
  subject: string;
  tenant?: string;
  value: number | null;
  unit: 'ratio' | 'ms' | 'count' | 'x';
  threshold: number;
  trend: Trend;
  state: IndicatorState;
  reason: string;
}

/** What the indicators read, already cut to the windows they need (see source.ts). */
export interface IndicatorInputs {
  now: number;
  stats: Array<{ probe: string; tenant: string; bounceRate: Point[]; spamReportRate: Point[]; deferralRate: Point[] }>;
  prometheus: Array<{ probe: string; errorShare: Point[]; apiP99: Point[]; pdnsP99: Point[] }>;
  queues: Array<{ probe: string; depth: Point[] }>;
  http: Array<{
    probe: string;
    url: string;
    /** What the endpoint is to the thresholds, as its kind said (the http kind: its `role`, or its URL's path). */
    role: 'readiness' | 'send' | 'read' | 'other';
    failingSince: number | null;
    latency: Point[];
  }>;
  seeds: Array<{
    tenant: string;
    domain: string;
    at: number;
    placement: string;
    timeToInboxMs: number | null;
    authFailed: boolean;
  }>;
  listings: Array<{ tenant: string; target: string; zone: string; severity: string }>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function show(value: number, unit: Indicator['unit']): string {
  if (unit === 'ratio') return `${(value * 100).toFixed(value < 0.01 ? 3 : 2).replace(/\.?0+$/, '')}%`;
  if (unit === 'ms')
    return value >= 1000 ? `${(value / 1000).toFixed(2).replace(/\.?0+$/, '')}s` : `${Math.round(value)}ms`;
  if (unit === 'x') return `${value.toFixed(1)}x`;
  return String(Math.round(value));
}

function hours(ms: number): string {
  return ms < 2 * HOUR ? `${Math.max(1, Math.round(ms / 60_000))} min` : `${Math.round(ms / HOUR)} h`;
}

/**
 * The common judgement: critical above the threshold; warn above warnAt of
 * it, or when rising fast enough to cross it within the horizon; else ok.
 */
export function judge(
  base: { name: string; subject: string; tenant?: string; label: string; unit: Indicator['unit'] },
  series: Point[],
  threshold: number,
  config: IndicatorsConfig,
  now: number,
): Indicator {
  const latest = series.at(-1);
  const id = `${base.name}:${base.subject}`;
  const common = {
    id,
    name: base.name,
    subject: base.subject,
    ...(base.tenant ? { tenant: base.tenant } : {}),
    unit: base.unit,
    threshold,
  };
  if (!latest)
    return {
      ...common,
      value: null,
      trend: 'unknown',
      state: 'ok',
      reason: `No ${base.label} measured yet for ${base.subject}.`,
    };
  const value = latest.v;
  const recent = windowOf(series, now - config.trendWindow, now);
  const { trend, slopePerHour } = trendOf(recent, { minChange: threshold * 0.05 });
  return { ...common, value, trend, ...verdict(base, value, threshold, { trend, slopePerHour }, config) };
}

/** The state and its reason for a measured value against its threshold, given the value's trend. */
function verdict(
  base: { subject: string; label: string; unit: Indicator['unit'] },
  value: number,
  threshold: number,
  { trend, slopePerHour }: { trend: Indicator['trend']; slopePerHour: number },
  config: IndicatorsConfig,
): Pick<Indicator, 'state' | 'reason'> {
  const limit = show(threshold, base.unit);
  if (value > threshold)
    return {
      state: 'critical',
      reason: `${base.label} for ${base.subject} is ${show(value, base.unit)}, above ${limit}${trend === 'rising' ? ' and still rising' : ''}.`,
    };
  if (trend === 'rising' && slopePerHour > 0) {
    const eta = ((threshold - value) / slopePerHour) * HOUR;
    if (eta <= config.horizon) {
      return {
        state: 'warn',
        reason: `${base.label} for ${base.subject} is rising (${show(value, base.unit)} now, ${show(slopePerHour, base.unit)} an hour) and would cross ${limit} in about ${hours(eta)}.`,
      };
    }
  }
  if (value > threshold * config.warnAt)
    return {
      state: 'warn',
      reason: `${base.label} for ${base.subject} is ${show(value, base.unit)}, close to ${limit}.`,
    };
  return {
    state: 'ok',
    reason:
      `${base.label} for ${base.subject} is ${show(value, base.unit)}, ${trend === 'rising' ? 'rising but' : ''} within ${limit}.`.replace(
        ',  within',
        ', within',
      ),
  };
}

function queueIndicator(probe: string, depth: Point[], config: IndicatorsConfig, now: number): Indicator {
  const t = config.thresholds;
  const base = judge(
    { name: 'queueDepth', subject: probe, label: 'Queue depth', unit: 'count' },
    depth,
    t.queueDepth,
    config,
    now,
  );
  if (base.state === 'critical') return base;
  // Monotonic growth: every step up over a span of at least queueGrowth.
  let start = depth.length - 1;
  while (start > 0 && (depth[start]?.v ?? 0) > (depth[start - 1]?.v ?? 0)) start--;
  const last = depth.at(-1);
  const growingFor = last && start < depth.length - 1 ? last.t - (depth[start]?.t ?? last.t) : 0;
  if (growingFor >= t.queueGrowth)
    return {
      ...base,
      trend: 'rising',
      state: 'critical',
      reason: `Queue depth for ${probe} has grown at every run for ${hours(growingFor)} (now ${last?.v}); workers are not keeping up.`,
    };
  if (growingFor >= t.queueGrowth / 2 && base.state === 'ok')
    return {
      ...base,
      trend: 'rising',
      state: 'warn',
      reason: `Queue depth for ${probe} has grown at every run for ${hours(growingFor)} (now ${last?.v}).`,
    };
  return base;
}

/** Seed placement, authentication and time-to-inbox per tenant and sending domain. */
function seedIndicators(inputs: IndicatorInputs, config: IndicatorsConfig): Indicator[] {
  const { now } = inputs;
  const t = config.thresholds;
  const groups = new Map<string, IndicatorInputs['seeds']>();
  for (const seed of inputs.seeds) {
    const key = `${seed.tenant}/${seed.domain}`;
    groups.set(key, [...(groups.get(key) ?? []), seed]);
  }
  const out: Indicator[] = [];
  for (const [subject, seeds] of groups) {
    const tenant = seeds[0]?.tenant ?? '';
    const day = seeds.filter((s) => s.at > now - DAY);
    const cumulative = (hit: (s: Seed) => boolean) => trailingDayShare(seeds, hit, now, config.trendWindow);
    if (day.length === 0) continue;
    out.push(
      judge(
        { name: 'seedSpamRate', subject, tenant, label: 'Seed spam-folder rate', unit: 'ratio' },
        cumulative((s) => s.placement === 'spam'),
        t.seedSpamRate,
        config,
        now,
      ),
    );
    out.push(
      judge(
        { name: 'seedMissingRate', subject, tenant, label: 'Seed missing rate', unit: 'ratio' },
        cumulative((s) => s.placement === 'missing'),
        t.seedMissingRate,
        config,
        now,
      ),
    );
    out.push(
      judge(
        { name: 'authFailRate', subject, tenant, label: 'Authentication failures at seeds', unit: 'ratio' },
        cumulative((s) => s.authFailed),
        t.authFailRate,
        config,
        now,
      ),
    );
    const timeToInbox = timeToInboxIndicator({ subject, tenant }, seeds, config, now);
    if (timeToInbox) out.push(timeToInbox);
  }
  return out;
}

type Seed = IndicatorInputs['seeds'][number];

/** Share of hits over the trailing day at each hour: a smooth series whose last point is today's share. */
function trailingDayShare(seeds: Seed[], hit: (s: Seed) => boolean, now: number, trendWindow: number): Point[] {
  const events = seeds.map((s) => ({ at: s.at, hit: hit(s) }));
  const points: Point[] = [];
  for (let end = now - trendWindow; end <= now; end += HOUR) {
    const slice = events.filter((e) => e.at > end - DAY && e.at <= end);
    if (slice.length > 0) points.push({ t: end, v: slice.filter((e) => e.hit).length / slice.length });
  }
  return points;
}

/** Today's median time to inbox against the median of the days before; undefined until both are known. */
function timeToInboxIndicator(
  group: { subject: string; tenant: string },
  seeds: Seed[],
  config: IndicatorsConfig,
  now: number,
): Indicator | undefined {
  const baseline = percentile(
    seeds.filter((s) => s.at <= now - DAY && s.timeToInboxMs !== null).map((s) => s.timeToInboxMs ?? 0),
    0.5,
  );
  const today = percentile(
    seeds.filter((s) => s.at > now - DAY && s.timeToInboxMs !== null).map((s) => s.timeToInboxMs ?? 0),
    0.5,
  );
  if (!baseline || today === null) return undefined;
  // One baseline per day: no trend for the ratio itself.
  const indicator = judge(
    { name: 'timeToInbox', ...group, label: 'Time-to-inbox against its weekly baseline', unit: 'x' },
    [{ t: now, v: today / baseline }],
    config.thresholds.timeToInboxRatio,
    config,
    now,
  );
  return {
    ...indicator,
    reason: `${indicator.reason.replace(/\.$/, '')} (median ${show(today, 'ms')} vs ${show(baseline, 'ms')}).`,
  };
}

function listingIndicators(inputs: IndicatorInputs): Indicator[] {
  const byTenant = new Map<string, IndicatorInputs['listings']>();
  for (const listing of inputs.listings)
    byTenant.set(listing.tenant, [...(byTenant.get(listing.tenant) ?? []), listing]);
  return [...byTenant].map(([tenant, listings]) => {
    // The rbl kind grades listings alert / warn / info (catalogue severities); informational
    // listings (whole provider ranges, e.g. UCEPROTECT levels 2 and 3) never raise the state.
    const critical = listings.filter((l) => l.severity === 'alert' || l.severity === 'critical');
    const warning = listings.filter((l) => l.severity === 'warn' || l.severity === 'unknown');
    const state: IndicatorState = critical.length > 0 ? 'critical' : warning.length > 0 ? 'warn' : 'ok';
    const names = listings.slice(0, 3).map((l) => `${l.target} on ${l.zone} (${l.severity})`);
    return {
      id: `blocklist:${tenant}`,
      name: 'blocklist',
      subject: tenant,
      tenant,
      value: listings.length,
      unit: 'count',
      threshold: 0,
      trend: 'unknown',
      state,
      reason:
        listings.length === 0
          ? `No blocklist listings for ${tenant}.`
          : `${listings.length} blocklist listing(s) for ${tenant}: ${names.join(', ')}${listings.length > 3 ? ', ...' : ''}.`,
    } satisfies Indicator;
  });
}

/** Every indicator, from inputs and an explicit `now` (no clock inside). */
export function computeIndicators(inputs: IndicatorInputs, config: IndicatorsConfig): Indicator[] {
  const { now } = inputs;
  return [
    ...statsIndicators(inputs, config),
    ...prometheusIndicators(inputs, config),
    ...inputs.queues.map((q) => queueIndicator(q.probe, q.depth, config, now)),
    ...inputs.http.flatMap((h) => httpIndicators(h, config, now)),
    ...seedIndicators(inputs, config),
    ...listingIndicators(inputs),
  ];
}

/** Bounce, spam-report and deferral rates per tenant, from the send statistics. */
function statsIndicators(inputs: IndicatorInputs, config: IndicatorsConfig): Indicator[] {
  const { now } = inputs;
  const t = config.thresholds;
  const out: Indicator[] = [];
  for (const s of inputs.stats) {
    const base = { subject: s.tenant, tenant: s.tenant };
    out.push(
      judge(
        { ...base, name: 'bounceRate', label: 'Bounce rate', unit: 'ratio' },
        s.bounceRate,
        t.bounceRate,
        config,
        now,
      ),
    );
    out.push(
      judge(
        { ...base, name: 'spamReportRate', label: 'Spam-report rate', unit: 'ratio' },
        s.spamReportRate,
        t.spamReportRate,
        config,
        now,
      ),
    );
    out.push(
      judge(
        { ...base, name: 'deferralRate', label: 'Deferral rate', unit: 'ratio' },
        s.deferralRate,
        t.deferralRate,
        config,
        now,
      ),
    );
  }
  return out;
}

/** The scraped metrics' series, each with the indicator it feeds. */
const PROMETHEUS_SERIES = [
  { series: 'errorShare', name: 'apiErrorRate', label: '5xx rate over 5 min', unit: 'ratio' },
  { series: 'apiP99', name: 'scaidnsP99', label: 'ScaiDNS API p99', unit: 'ms' },
  { series: 'pdnsP99', name: 'pdnsP99', label: 'PowerDNS API p99', unit: 'ms' },
] as const;

/** 5xx share and API latencies from the scraped metrics. */
function prometheusIndicators(inputs: IndicatorInputs, config: IndicatorsConfig): Indicator[] {
  return inputs.prometheus.flatMap((p) =>
    PROMETHEUS_SERIES.filter(({ series }) => p[series].length > 0).map(({ series, name, label, unit }) =>
      judge({ name, subject: p.probe, label, unit }, p[series], config.thresholds[name], config, inputs.now),
    ),
  );
}

/** Readiness for a readiness URL, and the p99 over the last hour for the ScaiSend API. */
function httpIndicators(h: IndicatorInputs['http'][number], config: IndicatorsConfig, now: number): Indicator[] {
  const t = config.thresholds;
  const out: Indicator[] = [];
  if (h.role === 'readiness') {
    const failingFor = h.failingSince === null ? 0 : now - h.failingSince;
    const state: IndicatorState = failingFor > t.readinessFailing ? 'critical' : failingFor > 0 ? 'warn' : 'ok';
    out.push({
      id: `readiness:${h.probe}`,
      name: 'readiness',
      subject: h.probe,
      value: failingFor,
      unit: 'ms',
      threshold: t.readinessFailing,
      trend: 'unknown',
      state,
      reason:
        failingFor === 0
          ? `${h.url} is ready.`
          : `${h.url} has not been ready for ${show(failingFor, 'ms')}${state === 'critical' ? `, more than ${show(t.readinessFailing, 'ms')}` : ''}.`,
    });
  }
  const isSend = h.role === 'send';
  if ((h.role === 'send' || h.role === 'read') && h.latency.length > 0) {
    // p99 over the last hour at each point, so the trend follows the percentile, not single runs.
    const hourAgo = now - HOUR;
    const recent = windowOf(h.latency, hourAgo, now);
    const p99 = percentile(
      recent.map((p) => p.v),
      0.99,
    );
    if (p99 !== null) {
      const name = isSend ? 'sendP99' : 'readP99';
      out.push(
        judge(
          { name, subject: h.probe, label: isSend ? '/v3/mail/send p99' : 'Read p99', unit: 'ms' },
          [{ t: now, v: p99 }],
          isSend ? t.sendP99 : t.readP99,
          config,
          now,
        ),
      );
    }
  }
  return out;
}
