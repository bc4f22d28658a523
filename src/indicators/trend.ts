// Time series helpers for indicators: windows, trends (slope per hour) and percentiles.
export interface Point {
  t: number;
  v: number;
}

export type Trend = 'rising' | 'falling' | 'flat' | 'unknown';

export interface TrendResult {
  trend: Trend;
  /** Change per hour (least squares). */
  slopePerHour: number;
  /** Kendall's tau over the window: how consistently it moves one way (-1..1). */
  tau: number;
}

const HOUR = 3_600_000;

/**
 * Least-squares slope plus a Kendall-tau consistency check, so one spike does
 * not count as a rise: "rising" needs a positive slope, tau >= minTau and a
 * total change across the window of at least minChange (absolute).
 */
export function trendOf(
  points: Point[],
  options: { minTau?: number; minChange?: number; minPoints?: number } = {},
): TrendResult {
  const minPoints = options.minPoints ?? 4;
  if (points.length < minPoints) return { trend: 'unknown', slopePerHour: 0, tau: 0 };
  // Tau is O(n²): thin long windows to at most 120 evenly spaced points.
  const step = Math.max(1, Math.ceil(points.length / 120));
  const sample = step === 1 ? points : points.filter((_, i) => i % step === 0 || i === points.length - 1);
  const n = sample.length;
  let st = 0;
  let sv = 0;
  for (const p of sample) {
    st += p.t;
    sv += p.v;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (const p of sample) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  const slopePerHour = den > 0 ? (num / den) * HOUR : 0;
  let concordant = 0;
  let discordant = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = (sample[j]?.v ?? 0) - (sample[i]?.v ?? 0);
      if (d > 0) concordant++;
      else if (d < 0) discordant++;
    }
  }
  const pairs = (n * (n - 1)) / 2;
  const tau = pairs > 0 ? (concordant - discordant) / pairs : 0;
  const span = ((sample.at(-1)?.t ?? 0) - (sample[0]?.t ?? 0)) / HOUR;
  const change = slopePerHour * span;
  const minTau = options.minTau ?? 0.5;
  const minChange = options.minChange ?? 0;
  if (slopePerHour > 0 && tau >= minTau && change > minChange) return { trend: 'rising', slopePerHour, tau };
  if (slopePerHour < 0 && tau <= -minTau && -change > minChange) return { trend: 'falling', slopePerHour, tau };
  return { trend: 'flat', slopePerHour, tau };
}

/** Index of the first point at or after t (points sorted by t). */
export function firstAtOrAfter(points: Point[], t: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((points[mid]?.t ?? 0) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function windowOf(points: Point[], from: number, to: number): Point[] {
  return points.slice(firstAtOrAfter(points, from), firstAtOrAfter(points, to + 1));
}

/** Nearest-rank percentile of values. */
export function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}
