// Range functions over kept scrapes: increases with extrapolation and histogram quantiles.
import { splitSeriesKey } from './text.ts';

/**
 * The time-series side of the prometheus kind: the probe's kept scrapes seen
 * as series of points, and Prometheus's own arithmetic over a range of them
 * (`rate()`/`increase()` extrapolation, counter resets, staleness,
 * `histogram_quantile()`), so that a value here is the value Prometheus would
 * give over the same window. The reference is Prometheus 2 (Debian's package,
 * which the tests run beside the kind); Prometheus 3 differs only at the edges:
 * its ranges leave out a sample exactly at their start, and it limits
 * extrapolation towards a counter's zero slightly differently.
 */

/** One scrape as kept between runs: epoch ms and series key (see seriesKey) -> value. */
export interface KeptScrape {
  t: number;
  v: Record<string, number>;
}

export interface Point {
  t: number;
  v: number;
}

export interface Series {
  key: string;
  name: string;
  labels: Record<string, string>;
  /** Oldest first; only the scrapes the series was in. */
  points: Point[];
}

/**
 * The kept scrapes turned around: every series with the points it has. A
 * series missing from a scrape simply has no point there, which is what
 * Prometheus's staleness amounts to for range functions: a series that
 * vanishes and returns is compared with its own last value, never counted
 * whole as if it were new.
 */
export class ScrapeHistory {
  /** Scrape times, oldest first. */
  readonly times: number[];
  readonly series: Series[];

  constructor(scrapes: KeptScrape[]) {
    const ordered = [...scrapes].sort((a, b) => a.t - b.t);
    this.times = ordered.map((s) => s.t);
    const byKey = new Map<string, Series>();
    for (const scrape of ordered) {
      for (const [key, v] of Object.entries(scrape.v)) {
        let series = byKey.get(key);
        if (!series) {
          series = { key, ...splitSeriesKey(key), points: [] };
          byKey.set(key, series);
        }
        series.points.push({ t: scrape.t, v });
      }
    }
    this.series = [...byKey.values()];
  }
}

/** A range to evaluate a windowed function over: points with start <= t <= end. */
export interface Range {
  start: number;
  end: number;
}

/**
 * The range of a window ending at `now`: exactly [now - window, now], as
 * Prometheus 2 selects it. Null with fewer than two scrapes in it (no rate can be
 * known yet).
 *
 * Prometheus assumes it has been scraping all along; the probe may not have
 * been (its first runs, after a pause). When the probe's first scrape in the
 * window is further from the window's start than Prometheus would extrapolate
 * (1.1 average scrape intervals), the range starts at that scrape instead: the
 * rate is then the one over the part the probe saw, rather than that part's
 * increase spread over a window it did not watch.
 */
export function rangeOf(times: number[], windowMs: number, now: number): Range | null {
  const start = now - windowMs;
  const inside = times.filter((t) => t >= start && t <= now);
  const first = inside[0];
  const last = inside.at(-1);
  if (first === undefined || last === undefined || inside.length < 2 || last <= first) return null;
  const averageInterval = (last - first) / (inside.length - 1);
  return { start: first - start < averageInterval * 1.1 ? start : first, end: now };
}

/**
 * Prometheus's `increase()` of one counter series over a range (its
 * extrapolatedRate): the raw increase between the first and last point, a
 * drop counting as a reset (the value before it is added back), then
 * extrapolated to the range's ends when a point lies within 1.1 average
 * intervals of them (never back past the counter's zero), and by half an
 * interval otherwise. Null with fewer than two points.
 */
export function extrapolatedIncrease(points: Point[], range: Range): number | null {
  const inside = points.filter((p) => p.t >= range.start && p.t <= range.end);
  const first = inside[0];
  const last = inside.at(-1);
  if (first === undefined || last === undefined || inside.length < 2 || last.t <= first.t) return null;
  let increase = last.v - first.v;
  for (let k = 1; k < inside.length; k++) {
    const before = inside[k - 1]?.v ?? 0;
    if ((inside[k]?.v ?? 0) < before) increase += before;
  }
  const sampled = (last.t - first.t) / 1000;
  const averageInterval = sampled / (inside.length - 1);
  let toStart = (first.t - range.start) / 1000;
  const toEnd = (range.end - last.t) / 1000;
  // A counter cannot go below zero: never extrapolate back past the moment it would have been 0.
  if (increase > 0 && first.v >= 0) toStart = Math.min(toStart, sampled * (first.v / increase));
  const threshold = averageInterval * 1.1;
  const covered =
    sampled + (toStart < threshold ? toStart : averageInterval / 2) + (toEnd < threshold ? toEnd : averageInterval / 2);
  return increase * (covered / sampled);
}

/** The seconds a rate over the range divides by (the window's length, as Prometheus does). */
export function rangeSeconds(range: Range): number {
  return (range.end - range.start) / 1000;
}

/** A bucket bound as Prometheus reads the `le` label; undefined when it is not a number. */
export function parseBound(le: string): number | undefined {
  const text = le.trim();
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  return text === '' || Number.isNaN(value) ? undefined : value;
}

export interface Bucket {
  le: number;
  count: number;
}

/**
 * Prometheus's histogram_quantile over cumulative buckets: buckets with the
 * same bound merged, counts forced monotonic (rates of separate series can
 * disagree slightly), linear interpolation inside the bucket holding the
 * rank, the highest finite bound when the rank falls in +Inf. Null where
 * Prometheus answers NaN: no +Inf bucket, fewer than two buckets, no
 * observations.
 */
export function bucketQuantile(q: number, buckets: Bucket[]): number | null {
  const merged = new Map<number, number>();
  for (const { le, count } of buckets) merged.set(le, (merged.get(le) ?? 0) + count);
  const sorted = [...merged].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const top = sorted.at(-1);
  if (!top || top.le !== Number.POSITIVE_INFINITY || sorted.length < 2) return null;
  let highest = Number.NEGATIVE_INFINITY;
  for (const bucket of sorted) {
    if (bucket.count > highest) highest = bucket.count;
    else bucket.count = highest;
  }
  if (!(top.count > 0)) return null;
  const rank = q * top.count;
  let b = sorted.findIndex((bucket, index) => index < sorted.length - 1 && bucket.count >= rank);
  if (b < 0) b = sorted.length - 1;
  if (b === sorted.length - 1) return sorted[b - 1]?.le ?? null;
  const bucket = sorted[b];
  if (!bucket) return null;
  if (b === 0 && bucket.le <= 0) return bucket.le;
  const below = b > 0 ? sorted[b - 1] : undefined;
  const lower = below?.le ?? 0;
  const inBucket = bucket.count - (below?.count ?? 0);
  return lower + (bucket.le - lower) * ((rank - (below?.count ?? 0)) / inBucket);
}
