// Joining the fleet a configuration names (store.url): this agent's identity, its probes and TLS, started.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import type { Clock } from '../util/clock.ts';
import { Fleet } from './fleet.ts';
import { agentIdentity } from './identity.ts';
import type { PlaceableProbe } from './placement.ts';

/**
 * The enabled probes (as the daemon's engine runs them) with their `locations` (validated by the configuration's schema) and the probes each
 * reads the output of (`producers`, as the scheduler is given them), which the fleet runs on the same agent.
 */
export function placeableProbes(config: LoadedConfig, producers?: ReadonlyMap<string, string[]>): PlaceableProbe[] {
  return config.probes
    .filter((probe) => probe.enabled !== false)
    .map((probe) => ({
      name: probe.name,
      locations: probe.locations as PlaceableProbe['locations'],
      after: producers?.get(probe.name) ?? [],
    }));
}

/**
 * This process as an agent of the fleet at store.url, started (registered, a
 * first share of the probes claimed, or degraded when the database cannot be
 * reached); undefined without store.url (one machine, no fleet).
 */
export async function startFleet(
  config: LoadedConfig,
  deps: {
    clock: Clock;
    logger: Logger;
    /** Probe -> the probes whose output it reads (runner/dependencies.ts producersOf). */
    producers?: ReadonlyMap<string, string[]>;
    leaseMs?: number;
    heartbeatMs?: number;
  },
): Promise<Fleet | undefined> {
  if (!config.store.url) return undefined;
  const fleet = new Fleet({
    database: config.store.url,
    ...(config.store.tls !== undefined ? { tls: config.store.tls } : {}),
    identity: agentIdentity(config),
    probes: placeableProbes(config, deps.producers),
    clock: deps.clock,
    logger: deps.logger,
    ...(deps.leaseMs !== undefined ? { leaseMs: deps.leaseMs } : {}),
    ...(deps.heartbeatMs !== undefined ? { heartbeatMs: deps.heartbeatMs } : {}),
  });
  await fleet.start();
  deps.logger.info(
    { agent: fleet.name, location: fleet.location, owned: fleet.owned().length, leader: fleet.isLeader() },
    'fleet: joined',
  );
  return fleet;
}
