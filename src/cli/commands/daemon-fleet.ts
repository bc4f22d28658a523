// `scaiprobe run` as an agent of a fleet (store.url set): the shared store, membership and leases, the spool, the replica.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../config/load.ts';
import type { Store } from '../../store/repositories.ts';
import type { RunRecord } from '../../store/types.ts';
import { openPostgresStore } from '../../store/postgres/open.ts';
import type { PostgresStore } from '../../store/postgres/store.ts';
import type { Clock } from '../../util/clock.ts';
import { startFleet } from '../../fleet/start.ts';
import type { Fleet } from '../../fleet/fleet.ts';
import { RunSpool } from '../../fleet/spool.ts';
import { RunReplicator } from '../../fleet/replicator.ts';
import { FleetReplica } from '../../fleet/replica.ts';
import { spoolingStore } from '../../fleet/spooling-store.ts';

const LOCATIONS_REFRESH_MS = 5_000;

export interface FleetParts {
  fleet: Fleet;
  /** The fleet's PostgreSQL: every agent's runs, alerts, the outbox, maintenance windows. */
  shared: PostgresStore;
  /** The local store as the engine writes it: runs stamped and spooled for PostgreSQL first. */
  engineStore: Store;
  /** The probe's locations that have a live agent (what a quorum counts). */
  liveLocations(probe: string): string[];
  /** Listens to the other agents' runs as the replica copies them into the local store (for the status page's live events). */
  onCopied(listener: (runs: RunRecord[]) => void): void;
  /** Why this agent's runs are not reaching the fleet now, for /ready. */
  problems(): string[];
  stop(): Promise<void>;
}

/** `data/scaiprobe.db` -> `data/scaiprobe.spool.db`: the spool sits beside the local store. */
function besideStore(path: string, suffix: string): string {
  return `${path.replace(/\.db$/, '')}.${suffix}`;
}

/** Each probe's live locations, from the agents list read every few seconds (a failed read keeps the last). */
function followLocations(config: LoadedConfig, fleet: Fleet, logger: Logger) {
  const configured = new Map(config.probes.map((probe) => [probe.name, probe.locations]));
  let live: string[] = [fleet.location];
  const refresh = () =>
    fleet
      .agents()
      .then(({ agents }) => {
        live = [...new Set(agents.filter((agent) => agent.live).map((agent) => agent.location))].sort();
      })
      .catch((error: unknown) => logger.debug({ err: error }, 'fleet: agents could not be listed'));
  void refresh();
  const timer = setInterval(() => void refresh(), LOCATIONS_REFRESH_MS);
  return {
    liveLocations(probe: string): string[] {
      const wanted = configured.get(probe);
      return Array.isArray(wanted) ? live.filter((location) => wanted.includes(location)) : live;
    },
    stop: () => clearInterval(timer),
  };
}

function replicaOf(
  config: LoadedConfig,
  parts: { fleet: Fleet; shared: PostgresStore; local: Store; logger: Logger },
  copied: Array<(runs: RunRecord[]) => void>,
) {
  const { fleet, shared, local, logger } = parts;
  if (!config.agent.replica) return undefined;
  return new FleetReplica({
    agent: fleet.name,
    runsAfter: (cursors, limit) => shared.runsWithItemsAfter(cursors, limit),
    store: (runs) => {
      local.runs.recordAll(runs);
      for (const listener of copied) listener(runs);
    },
    cursorFile: besideStore(config.store.path, 'replica.json'),
    identity: () => shared.identity(),
    logger: logger.child({ part: 'replica' }),
  });
}

/** Joins the fleet at store.url: opens PostgreSQL, takes a share of the probes, and starts moving runs both ways. */
export async function joinFleet(
  config: LoadedConfig,
  deps: { clock: Clock; logger: Logger; store: Store; producers: ReadonlyMap<string, string[]>; url: string },
): Promise<FleetParts> {
  const { clock, logger, store } = deps;
  const shared = await openPostgresStore({
    url: deps.url,
    ...(config.store.tls !== undefined ? { tls: config.store.tls } : {}),
    clock,
  });
  const fleet = await startFleet(config, { clock, logger: logger.child({ part: 'fleet' }), producers: deps.producers })
    .then((started) => started ?? Promise.reject(new Error('store.url is set but the fleet did not start')))
    // A refused start (another live agent has this name) leaves no connection behind.
    .catch(async (error: unknown) => {
      await shared.close();
      throw error;
    });
  const spool = new RunSpool(besideStore(config.store.path, 'spool.db'));
  const replicator = new RunReplicator({
    spool,
    push: (runs) => shared.runs.recordAll(runs),
    logger: logger.child({ part: 'spool' }),
    now: () => clock.now(),
  });
  replicator.start();
  const copied: Array<(runs: RunRecord[]) => void> = [];
  const replica = replicaOf(config, { fleet, shared, local: store, logger }, copied);
  replica?.start();
  const locations = followLocations(config, fleet, logger);
  return {
    fleet,
    shared,
    engineStore: spoolingStore(store, spool, { location: fleet.location, agent: fleet.name }),
    liveLocations: (probe) => locations.liveLocations(probe),
    onCopied: (listener) => void copied.push(listener),
    problems: () => fleetProblems(replicator, fleet),
    async stop() {
      locations.stop();
      await replica?.stop();
      await replicator.stop();
      await fleet.stop();
      await shared.close();
      spool.close();
    },
  };
}

function fleetProblems(replicator: RunReplicator, fleet: Fleet): string[] {
  const { problem, pending, dropped } = replicator.status();
  const problems: string[] = [];
  if (problem)
    problems.push(
      `PostgreSQL: ${problem.message} since ${new Date(problem.since).toISOString()} (${pending} run${pending === 1 ? '' : 's'} spooled on disk${dropped > 0 ? `, ${dropped} dropped` : ''})`,
    );
  else if (fleet.isDegraded())
    problems.push('PostgreSQL: the fleet cannot be reached; running the probes this agent owned');
  return problems;
}
