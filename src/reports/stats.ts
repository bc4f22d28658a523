// Percentiles and ratios as the report computes them.
/** Nearest-rank percentile (the value at rank ceil(p·n)); null for no values. Predictable for tests and people. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

export function ratio(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;

/** Buckets of a period: days for a period of 3 days or more, else hours. Aligned to UTC. */
export function bucketsOf(since: number, until: number): { size: number; starts: number[] } {
  const size = until - since >= 3 * DAY_MS ? DAY_MS : HOUR_MS;
  const starts: number[] = [];
  for (let t = Math.floor(since / size) * size; t < until; t += size) starts.push(t);
  return { size, starts };
}
