// Each probe's newest run per location (a fleet's runs carry one), as both stores read it into ProbeLatest.
import type { ProbeLatest, RunStatus } from './types.ts';

export interface LocationRow {
  probe: string;
  location: string;
  status: RunStatus;
  started_at: number;
  status_since: number;
  message: string;
}

/** The newest run per location of each probe, by probe. */
export function locationsByProbe(rows: LocationRow[]): Map<string, NonNullable<ProbeLatest['locations']>> {
  const byProbe = new Map<string, NonNullable<ProbeLatest['locations']>>();
  for (const row of rows) {
    const list = byProbe.get(row.probe) ?? [];
    list.push({
      location: row.location,
      status: row.status,
      startedAt: row.started_at,
      statusSince: row.status_since,
      message: row.message,
    });
    byProbe.set(row.probe, list);
  }
  return byProbe;
}

/** The probe with its locations when its runs carry any (a single daemon's never do: the field stays absent). */
export function withLocations(
  latest: ProbeLatest,
  locations: Map<string, NonNullable<ProbeLatest['locations']>>,
): ProbeLatest {
  const found = locations.get(latest.probe);
  return found ? { ...latest, locations: found } : latest;
}
