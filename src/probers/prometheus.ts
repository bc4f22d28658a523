// The prometheus kind: a metrics page scraped and PromQL-like expressions evaluated over it.
import { z } from 'zod';
import { duration } from '../core/schema.ts';
import { ProbeFailure } from '../core/errors.ts';
import { parseAssertion } from '../core/assertions.ts';
import { parsePromText, seriesKey } from '../protocols/prometheus/text.ts';
import {
  evaluatePromExpr,
  looksLikeExpression,
  metricNames,
  narrowestWindow,
  parsePromExpr,
  windowOf,
  type KeptScrape,
} from '../protocols/prometheus/expr.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import { pause } from '../util/clock.ts';
import { textOf } from '../util/text.ts';
import type { ProbeContext, ProbeKind, Prober } from './kind.ts';
import { maxBodyBytesField, wholeBody } from '../protocols/http/body-limit.ts';

const fields = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  headers: z.record(z.string(), z.string()).default({}),
  /** Sent as `Authorization: Bearer`. */
  token: z.string().optional(),
  /** Expressions kept as observations besides the ones assertions use (for indicators and charts). */
  record: z.array(z.string()).default([]),
  /** With no earlier scrape inside the narrowest window, scrape twice this far apart (at most half that window) so the run can compute rates. */
  warmup: duration().default(2000),
  /** A bigger metrics page fails the run: a scrape cut short would lose series (see wholeBody). */
  maxBodyBytes: maxBodyBytesField(),
});

type PrometheusSpec = z.output<typeof fields>;

/** Version 2 keys series as JSON arrays (seriesKey); older state is dropped rather than misread. */
const STATE_VERSION = 2;

interface KeptState {
  version: typeof STATE_VERSION;
  scrapes: KeptScrape[];
}

/**
 * What Prometheus's scrapes ask for: OpenMetrics first, the text format
 * otherwise, so an exporter that negotiates answers the kind as it answers
 * Prometheus.
 */
const ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Assertion subjects that are expressions, then the `record` list, without repeats. */
function expressionTexts(spec: PrometheusSpec & { expect: Array<{ expr: string }> }): string[] {
  const subjects = spec.expect.flatMap((a) => {
    try {
      return [parseAssertion(a.expr).subject];
    } catch {
      return [];
    }
  });
  return [...new Set([...subjects.filter(looksLikeExpression), ...spec.record.map((r) => r.trim())])];
}

function readState(value: unknown): KeptScrape[] {
  const state = value as Partial<KeptState> | undefined;
  if (state?.version !== STATE_VERSION || !Array.isArray(state.scrapes)) return [];
  return state.scrapes.filter((s: unknown): s is KeptScrape => {
    const scrape = s as { t?: unknown; v?: unknown } | null;
    return typeof scrape?.t === 'number' && typeof scrape.v === 'object' && scrape.v !== null;
  });
}

/** Whether an earlier scrape at `t` is inside the window ending at `now`, exactly as Prometheus selects ranges. */
function insideWindow(t: number, now: number, windowMs: number): boolean {
  return t >= now - windowMs && t < now;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** One scrape, stamped when asked (as Prometheus stamps its scrapes): the finite samples of the series the expressions read. */
async function scrapeOnce(
  spec: PrometheusSpec,
  headers: Record<string, string>,
  names: Set<string>,
  ctx: ProbeContext,
): Promise<{ kept: KeptScrape; samples: number; latency: number }> {
  const t = ctx.clock.now();
  const response = await ctx.http.request({
    url: spec.url,
    method: 'GET',
    headers,
    signal: ctx.signal,
    maxBodyBytes: spec.maxBodyBytes,
  });
  if (response.status !== 200)
    throw new ProbeFailure('PROTOCOL', `${spec.url} answered HTTP ${response.status}, not a metrics page`);
  const body = wholeBody(response, spec.maxBodyBytes, spec.url);
  let parsed;
  try {
    parsed = parsePromText(body.toString('utf8'));
  } catch (error) {
    throw new ProbeFailure('PROTOCOL', `${spec.url}: ${(error as Error).message}`);
  }
  const kept: KeptScrape = { t, v: {} };
  // Only finite values: JSON state cannot carry NaN or ±Inf, and the run must see what the next run restores.
  for (const sample of parsed.samples)
    if (names.has(sample.name) && Number.isFinite(sample.value))
      kept.v[seriesKey(sample.name, sample.labels)] = sample.value;
  return { kept, samples: parsed.samples.length, latency: response.timings.total };
}

function createPrometheusProber(spec: PrometheusSpec & CommonProbeSpec): Prober {
  const expressions = expressionTexts(spec).map((text) => ({ text, expr: parsePromExpr(text) }));
  const names = new Set<string>();
  for (const { expr } of expressions) metricNames(expr, names);
  const keepMs = Math.max(0, ...expressions.map(({ expr }) => windowOf(expr)));
  const narrowest = Math.min(...expressions.map(({ expr }) => narrowestWindow(expr)));
  // A second scrape a whole window later would be outside it again.
  const warmupMs = Math.min(spec.warmup, narrowest / 2);
  const headers = { accept: ACCEPT, ...spec.headers, ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}) };

  const scrape = (ctx: ProbeContext) => scrapeOnce(spec, headers, names, ctx);

  return {
    async probe(ctx): Promise<Measurement> {
      const first = await scrape(ctx);
      let scrapes = [
        ...readState(ctx.previousState).filter((s) => insideWindow(s.t, first.kept.t, keepMs)),
        first.kept,
      ];
      let last = first;
      const needsHistory =
        Number.isFinite(narrowest) && !scrapes.some((s) => insideWindow(s.t, first.kept.t, narrowest));
      if (needsHistory && ctx.deadline - ctx.clock.now() > warmupMs + 1000) {
        await pause(ctx.clock, warmupMs, ctx.signal);
        last = await scrape(ctx);
        scrapes = [...scrapes, last.kept];
      }
      const now = last.kept.t;
      const observations: Observations = {
        status: 200,
        'scrape.latency': Math.round(last.latency * 10) / 10,
        'scrape.samples': last.samples,
      };
      const unknown: string[] = [];
      for (const { text, expr } of expressions) {
        const value = evaluatePromExpr(expr, { scrapes, now });
        observations[text] = value === null ? null : round(value);
        if (value === null) unknown.push(text);
      }
      const shown = expressions.slice(0, 4).map(({ text }) => `${text} = ${readable(observations[text])}`);
      return {
        observations,
        message: `scraped ${last.samples} samples${shown.length > 0 ? `; ${shown.join('; ')}` : ''}`,
        ...(unknown.length > 0
          ? {
              warnings: unknown.map(
                (text) => `${text} has no value yet (no traffic in its window, or a single scrape)`,
              ),
            }
          : {}),
        state: { version: STATE_VERSION, scrapes: scrapes.filter((s) => s.t >= now - keepMs) } satisfies KeptState,
      };
    },
  };
}

export const prometheusKind: ProbeKind<PrometheusSpec> = {
  kind: 'prometheus',
  // What a user records from ScaiDNS's metrics that the indicators read: p99 of the API and of PowerDNS, and a 5xx share (rate of 5xx / rate of all).
  feeds: {
    observations: {
      scaidnsApiP99: /^p99\(scaidns_http_request_duration_seconds\b/,
      pdnsP99: /^p99\(scaidns_pdns_request_duration_seconds\b/,
      apiErrorShare: /^rate\w*\(\w+\{[^}]*status=~"5\.\."[^}]*\}\)\s*\/\s*rate\w*\(/,
    },
  },
  fields,
  check(spec) {
    const problems: Array<{ path: (string | number)[]; message: string }> = [];
    const withExpect = spec as PrometheusSpec & { expect?: Array<{ expr: string }> };
    (withExpect.expect ?? []).forEach((assertion, index) => {
      try {
        const subject = parseAssertion(assertion.expr).subject;
        if (looksLikeExpression(subject)) parsePromExpr(subject);
      } catch (error) {
        problems.push({ path: ['expect', index], message: (error as Error).message });
      }
    });
    spec.record.forEach((text, index) => {
      try {
        parsePromExpr(text);
      } catch (error) {
        problems.push({ path: ['record', index], message: (error as Error).message });
      }
    });
    return problems;
  },
  create: createPrometheusProber,
};

/** Values in run messages: three significant digits are enough for a person (the observation keeps the full value). */
function readable(value: unknown): string {
  if (typeof value !== 'number') return textOf(value, 'unknown');
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}
