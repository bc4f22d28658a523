// Placement, the pure part: which probes an agent's location runs, grouped by the lease location, and each agent's share.

/** The pseudo-location of `locations: any` probes, served by every live agent; no location name can be it. */
export const ANY_LOCATION = '*';

export interface PlaceableProbe {
  name: string;
  /** The probe's `locations`: a list, `any`, or absent (every location with a live agent). */
  locations?: 'any' | string[] | undefined;
  /** Probes whose output this one reads (a browser probe's mail probe): they must run on the same agent. */
  after?: string[] | undefined;
}

/** Probes leased under one location, and whether the agents sharing them are the location's or the whole fleet's. */
export interface LeaseGroup {
  location: string;
  /** The lease names: one per unit of probes that run together, named by its first probe. */
  probes: string[];
  /** Each lease name's probes (itself alone unless probes read one another's output). */
  members: Record<string, string[]>;
  scope: 'location' | 'fleet';
}

/**
 * Probes joined by `after` (one reads another's output, kept in the agent
 * that ran it) as units, each named by its first probe in name order, so that
 * every agent with the same configuration names them alike.
 */
function units(names: string[], probes: PlaceableProbe[]): Record<string, string[]> {
  const inGroup = new Set(names);
  const root = new Map(names.map((name) => [name, name]));
  const find = (name: string): string => {
    let at = name;
    while (root.get(at) !== at) at = root.get(at) ?? at;
    return at;
  };
  for (const probe of probes) {
    if (!inGroup.has(probe.name)) continue;
    for (const producer of probe.after ?? []) {
      if (!inGroup.has(producer)) continue;
      const [a, b] = [find(probe.name), find(producer)].sort();
      if (a !== undefined && b !== undefined && a !== b) root.set(b, a);
    }
  }
  const members: Record<string, string[]> = {};
  for (const name of [...names].sort()) (members[find(name)] ??= []).push(name);
  return members;
}

function group(location: string, names: string[], probes: PlaceableProbe[], scope: LeaseGroup['scope']): LeaseGroup {
  const members = units(names, probes);
  return { location, probes: Object.keys(members).sort(), members, scope };
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
  if (here.length > 0) groups.push(group(location, here, probes, 'location'));
  if (anywhere.length > 0) groups.push(group(ANY_LOCATION, anywhere, probes, 'fleet'));
  return groups;
}

/** How many of a group's leases one agent takes at most: an even split, rounded up so that every lease has room. */
export function shareOf(probes: number, agents: number): number {
  return Math.ceil(probes / Math.max(1, agents));
}
