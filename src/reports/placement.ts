// Counting messages by where they landed: the report's overall, per-provider, per-period and per-location figures.
import { ratio } from './stats.ts';

export type Placement = 'inbox' | 'spam' | 'other' | 'missing';

export interface PlacementCounts {
  total: number;
  inbox: number;
  spam: number;
  other: number;
  missing: number;
  /** inbox / total (a fraction). */
  inboxRate: number | null;
}

export function emptyCounts(): PlacementCounts {
  return { total: 0, inbox: 0, spam: 0, other: 0, missing: 0, inboxRate: null };
}

export function placementKind(placement: string): Placement {
  if (placement === 'inbox' || placement === 'spam' || placement === 'missing') return placement;
  return 'other';
}

/** Counts one message's placement. */
export function addPlacement(counts: PlacementCounts, placement: string): void {
  counts.total += 1;
  counts[placementKind(placement)] += 1;
  counts.inboxRate = ratio(counts.inbox, counts.total);
}
