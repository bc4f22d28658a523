// The report's placement and time to inbox per fleet location, from the location of the run behind each message.
import type { MailMessageFields } from '../store/types.ts';
import { percentile } from './stats.ts';
import { addPlacement, emptyCounts, type PlacementCounts } from './placement.ts';

export interface LocationPlacement extends PlacementCounts {
  /** The fleet location the messages were sent and read from; null for runs that carry none. */
  location: string | null;
  /** Time to inbox over the location's inbox deliveries. */
  ttiCount: number;
  ttiP50: number | null;
  ttiP95: number | null;
}

export interface LocationsSection {
  /** `ok` when the messages came from two locations or more: one location has nothing to compare. */
  status: 'ok' | 'no-data';
  locations: LocationPlacement[];
}

function summarize(location: string | null, rows: MailMessageFields[]): LocationPlacement {
  const counts = emptyCounts();
  const tti: number[] = [];
  for (const row of rows) {
    addPlacement(counts, row.placement);
    if (row.placement === 'inbox' && typeof row.tti === 'number') tti.push(row.tti);
  }
  tti.sort((a, b) => a - b);
  return {
    location,
    ...counts,
    ttiCount: tti.length,
    ttiP50: percentile(tti, 0.5),
    ttiP95: percentile(tti, 0.95),
  };
}

/** Placement and time to inbox per location, by location name (messages of runs without one last). */
export function locationsSection(rows: MailMessageFields[]): LocationsSection {
  const byLocation = new Map<string | null, MailMessageFields[]>();
  for (const row of rows) {
    const location = row.location ?? null;
    const list = byLocation.get(location) ?? [];
    list.push(row);
    byLocation.set(location, list);
  }
  const named = [...byLocation.keys()].filter((key): key is string => key !== null).sort();
  if (named.length < 2) return { status: 'no-data', locations: [] };
  const order = byLocation.has(null) ? [...named, null] : named;
  return { status: 'ok', locations: order.map((location) => summarize(location, byLocation.get(location) ?? [])) };
}
