// Placement, the pure part: which probes an agent's location runs, grouped by the lease location, and each agent's share.

/** The pseudo-location of `locations: any` probes, served by every live agent; no location name can be it. */
export const ANY_LOCATION = '*';

export interface PlaceableProbe {
  name: string;
  /** The probe's `locations`: a list, `any`, or absent (every location with a live agent). */
  locations?: 'any' | string[] | undefined;
}

/** Probes leased under one location, and whether the agents sharing them are the location's or the whole fleet's. */
export interface LeaseGroup {
  location: string;
  probes: string[];
  scope: 'location' | 'fleet';
}

/**
 * The lease groups an agent at `location` takes part in: the probes its
 * location runs (listed there, or with no list: a location runs them as soon
 * as it has a live agent, which this one is), and the `any` probes, leased
 * once for the whole fleet.
 */
export function leaseGroups(probes: PlaceableProbe[], location: string): LeaseGroup[] {
  const here: string[] = [];
  const anywhere: string[] = [];
  for (const probe of probes) {
    if (probe.locations === 'any') anywhere.push(probe.name);
    else if (!probe.locations || probe.locations.includes(location)) here.push(probe.name);
  }
  const groups: LeaseGroup[] = [];
  if (here.length > 0) groups.push({ location, probes: here.sort(), scope: 'location' });
  if (anywhere.length > 0) groups.push({ location: ANY_LOCATION, probes: anywhere.sort(), scope: 'fleet' });
  return groups;
}

/** How many of a group's probes one agent takes at most: an even split, rounded up so that every probe has room. */
export function shareOf(probes: number, agents: number): number {
  return Math.ceil(probes / Math.max(1, agents));
}
