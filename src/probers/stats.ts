// The stats kind: ScaiSend's daily send statistics and the rates computed from them.
import { z } from 'zod';
import { ProbeFailure } from '../core/errors.ts';
import type { CommonProbeSpec, Measurement, Observations, RunItem } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober } from './kind.ts';
import { maxBodyBytesField, wholeBody } from '../protocols/http/body-limit.ts';

const fields = z.object({
  /** ScaiSend API base URL; the probe calls {api}/v3/stats/sum and {api}/v3/stats. */
  api: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  apiKey: z.string().min(1),
  /** How many UTC days, ending today, the sums cover (1 = today, as the manual's `start_date=today`). */
  days: z.number().int().min(1).max(90).default(1),
  /** For each answer (/v3/stats lists a row per day); a bigger one fails the run. */
  maxBodyBytes: maxBodyBytesField(),
});

type StatsSpec = z.output<typeof fields>;

export const STAT_METRICS = ['requests', 'delivered', 'bounces', 'blocks', 'deferred', 'spam_reports'] as const;
type StatMetric = (typeof STAT_METRICS)[number];
type Counts = Record<StatMetric, number>;

function utcDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

function readCounts(value: unknown, where: string): Counts {
  if (!value || typeof value !== 'object') throw new ProbeFailure('PROTOCOL', `${where}: expected a metrics object`);
  const metrics = value as Record<string, unknown>;
  const counts = {} as Counts;
  for (const name of STAT_METRICS) {
    const count = metrics[name] ?? 0;
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0)
      throw new ProbeFailure('PROTOCOL', `${where}: ${name} is not a count`);
    counts[name] = count;
  }
  return counts;
}

/** The manual's formulas: bounce rate = bounces / requests, spam-report rate = spam_reports / delivered; 0 with nothing sent. */
export function statRates(counts: Counts): {
  bounceRate: number;
  spamReportRate: number;
  deferralRate: number;
  blockRate: number;
  deliveryRate: number;
} {
  const share = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1e6) / 1e6 : 0);
  return {
    bounceRate: share(counts.bounces, counts.requests),
    spamReportRate: share(counts.spam_reports, counts.delivered),
    deferralRate: share(counts.deferred, counts.requests),
    blockRate: share(counts.blocks, counts.requests),
    deliveryRate: share(counts.delivered, counts.requests),
  };
}

async function getJson(ctx: ProbeContext, url: string, apiKey: string, maxBodyBytes: number): Promise<unknown> {
  const response = await ctx.http.request({
    url,
    method: 'GET',
    headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
    signal: ctx.signal,
    maxBodyBytes,
  });
  if (response.status === 401 || response.status === 403)
    throw new ProbeFailure('AUTH', `${url} refused the API key (HTTP ${response.status})`);
  if (response.status !== 200) throw new ProbeFailure('PROTOCOL', `${url} answered HTTP ${response.status}`);
  const body = wholeBody(response, maxBodyBytes, url);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new ProbeFailure('PROTOCOL', `${url} did not answer JSON`);
  }
}

/** `/v3/stats` answers [{date, stats: [{metrics}]}]; several stats entries of a day are added up. */
function readDays(body: unknown, url: string): Array<{ date: string; counts: Counts }> {
  if (!Array.isArray(body)) throw new ProbeFailure('PROTOCOL', `${url}: expected a list of days`);
  return body.map((day: { date?: unknown; stats?: Array<{ metrics?: unknown } | null> } | null) => {
    // A day that is not {date, stats: [...]} is the target's fault (PROTOCOL), not a TypeError here (INTERNAL).
    if (!day || typeof day !== 'object' || (day.stats !== undefined && !Array.isArray(day.stats))) {
      throw new ProbeFailure(
        'PROTOCOL',
        `${url}: expected {date, stats: [...]} per day, got ${JSON.stringify(day).slice(0, 80)}`,
      );
    }
    const total = readCounts({}, url);
    for (const entry of day.stats ?? []) {
      if (!entry || typeof entry !== 'object')
        throw new ProbeFailure('PROTOCOL', `${url} ${String(day.date)}: expected {metrics} entries`);
      const counts = readCounts(entry.metrics, `${url} ${String(day.date)}`);
      for (const name of STAT_METRICS) total[name] += counts[name];
    }
    return { date: String(day.date), counts: total };
  });
}

function createStatsProber(spec: StatsSpec & CommonProbeSpec): Prober {
  const base = spec.api.replace(/\/+$/, '');
  return {
    async probe(ctx): Promise<Measurement> {
      const today = ctx.clock.now();
      const start = utcDate(today - (spec.days - 1) * 86_400_000);
      const end = utcDate(today);
      const query = `start_date=${start}&end_date=${end}`;
      const sumUrl = `${base}/v3/stats/sum?${query}`;
      const daysUrl = `${base}/v3/stats?${query}`;
      const [sum, perDay] = await Promise.all([
        getJson(ctx, sumUrl, spec.apiKey, spec.maxBodyBytes),
        getJson(ctx, daysUrl, spec.apiKey, spec.maxBodyBytes),
      ]);
      const counts = readCounts((sum as { metrics?: unknown } | null)?.metrics, sumUrl);
      const rates = statRates(counts);
      const observations: Observations = { ...counts, ...rates, 'window.start': start, 'window.end': end };
      const tenant = spec.tenant ?? 'default';
      const items: RunItem[] = readDays(perDay, daysUrl).map(({ date, counts: dayCounts }) => {
        observations[`day.${date}.requests`] = dayCounts.requests;
        observations[`day.${date}.bounceRate`] = statRates(dayCounts).bounceRate;
        return {
          type: 'stats.day',
          key: `${tenant}:${date}`,
          data: { tenant, date, ...dayCounts, ...statRates(dayCounts) },
        };
      });
      const percent = (value: number) => `${(value * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
      const message =
        counts.requests === 0
          ? `no sends since ${start}`
          : `${counts.requests} requests since ${start}: bounce rate ${percent(rates.bounceRate)}, spam-report rate ${percent(rates.spamReportRate)}, deferrals ${percent(rates.deferralRate)}`;
      return { observations, message, items };
    },
  };
}

export const statsKind: ProbeKind<StatsSpec> = {
  kind: 'stats',
  feeds: { observations: { bounceRate: 'bounceRate', spamReportRate: 'spamReportRate', deferralRate: 'deferralRate' } },
  fields,
  create: createStatsProber,
};
