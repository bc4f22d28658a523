// The Fleet: this agent's membership, probe leases and leader lease in PostgreSQL, renewed on a timer; owns() gates slots.
import pg from 'pg';
import { postgresConnection, type PostgresTls } from '../store/postgres/tls.ts';
import type { Logger } from 'pino';
import { pause, type Clock, type Timer } from '../util/clock.ts';
import type { AgentIdentity } from './identity.ts';
import { migrateFleet } from './migrations.ts';
import {
  deregister,
  forgetSilent,
  heartbeat,
  holderOf,
  liveCounts,
  listAgents,
  type AgentRecord,
  type LiveCounts,
} from './membership.ts';
import { claimLeases, ensureLeases, heldOutside, releaseLeases, renewLeases } from './leases.ts';
import { acquireLeadership, currentLeader, resignLeadership } from './leader.ts';
import { leaseGroups, shareOf, type LeaseGroup, type PlaceableProbe } from './placement.ts';

/** Defaults: a lease of 15 s renewed every 2 s, so a dead agent's probes run elsewhere within 17 s. */
export const DEFAULT_LEASE_MS = 15_000;
export const DEFAULT_HEARTBEAT_MS = 2_000;
/** Agents silent this long (killed, never restarted) leave the list. */
const FORGET_AFTER_MS = 24 * 3_600_000;
/** A pool this module opens gives up on a connection or a query after this long: the beat then counts as failed. */
const DATABASE_TIMEOUT_MS = 5_000;

export interface FleetOptions {
  /** The database: a pool (its owner ends it; give it a query timeout) or a postgres:// URL (a pool of our own). */
  database: pg.Pool | string;
  /** TLS for a pool of our own (with `database` a URL): store.tls. */
  tls?: PostgresTls;
  identity: AgentIdentity;
  /** The probes this agent is configured with, with their `locations`. */
  probes: PlaceableProbe[];
  clock: Clock;
  logger: Logger;
  leaseMs?: number;
  heartbeatMs?: number;
}

/** What changed at a beat: the probes this agent owns now, or whether it leads. */
export type FleetEvent =
  { type: 'ownership'; owned: string[]; gained: string[]; lost: string[] } | { type: 'leadership'; leader: boolean };

export interface FleetAgent extends AgentRecord {
  /** This agent. */
  self: boolean;
  /** Holds the leader lease now. */
  leader: boolean;
}

export interface FleetAgents {
  agents: FleetAgent[];
  /** Live agents run configurations with different hashes. */
  configurationsDiffer: boolean;
  /** The hashes of live agents' configurations and the agents running each, when they differ. */
  configurations: Record<string, string[]>;
}

/** A small pool for the fleet's own statements, with timeouts so a database that hangs fails the beat instead. */
export function fleetPool(url: string, tls?: PostgresTls): pg.Pool {
  const pool = new pg.Pool({
    ...postgresConnection(url, tls),
    application_name: 'scaiprobe-fleet',
    max: 2,
    connectionTimeoutMillis: DATABASE_TIMEOUT_MS,
    query_timeout: DATABASE_TIMEOUT_MS,
  });
  // An idle connection the server closes (a restart, a failover) must not crash the process: the next beat reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * One agent of a fleet. Every heartbeat (2 s) it records itself, renews the
 * probe leases it holds, gives up those beyond its share, claims ended ones up
 * to its share, and takes or renews the leader lease.
 *
 * Fencing: each lease's end is kept in this process's clock, counted from
 * before the statement that set it, so it never outlasts the end the database
 * recorded; owns() is true only before it, and another agent claims a lease
 * only after the database's end. No slot runs twice at one location while the
 * database is reachable.
 *
 * When PostgreSQL cannot be reached (a beat fails), the agent is degraded: it
 * keeps running every probe it owned, past the leases' ends, rather than stop
 * probing while the database is away; the outage is logged once, and the
 * return too. If only this agent lost the database (a partition) and the
 * others claim its probes, those probes run at both until it is back; an agent
 * that never reached the database owns nothing. The leader lease is not
 * stretched: nobody leads while the database is away. Back from an outage an
 * agent renews what it holds and claims nothing for one beat, so that peers
 * which also kept running theirs renew them first.
 */
export class Fleet {
  readonly name: string;
  readonly location: string;
  readonly leaseMs: number;
  readonly heartbeatMs: number;
  private readonly pool: pg.Pool;
  private readonly ownPool: boolean;
  private readonly clock: Clock;
  private readonly logger: Logger;
  /** Lease name (a probe, or the first of probes that run together) -> its end on this process's clock. */
  private readonly leases = new Map<string, number>();
  /** Lease name -> when this agent took it: slots due before then were its predecessor's. */
  private readonly heldSince = new Map<string, number>();
  private readonly groups: LeaseGroup[];
  /** probe -> its lease name; lease name -> its probes. */
  private readonly leaseOf = new Map<string, string>();
  private readonly membersOf = new Map<string, string[]>();
  private leaderUntil = -Infinity;
  private degraded = false;
  private migrated = false;
  /** The lease rows of this agent's probes exist (created at the first beat; rows are never deleted). */
  private ensured = false;
  private stopped = false;
  private timer: Timer | undefined;
  private beating: Promise<void> | undefined;
  private readonly startedAt: number;
  private readonly listeners = new Set<(event: FleetEvent) => void>();
  private announced: { owned: string[]; leader: boolean } = { owned: [], leader: false };
  private readonly onPoolError = (error: Error) =>
    this.logger.debug({ err: error }, 'fleet: an idle PostgreSQL connection failed');

  constructor(private readonly options: FleetOptions) {
    this.name = options.identity.name;
    this.location = options.identity.location;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.clock = options.clock;
    this.logger = options.logger;
    this.ownPool = typeof options.database === 'string';
    this.pool = typeof options.database === 'string' ? fleetPool(options.database, options.tls) : options.database;
    this.pool.on('error', this.onPoolError);
    this.startedAt = this.clock.now();
    this.groups = leaseGroups(options.probes, this.location);
    for (const group of this.groups)
      for (const [lease, members] of Object.entries(group.members)) {
        this.membersOf.set(lease, members);
        for (const probe of members) this.leaseOf.set(probe, lease);
      }
  }

  /**
   * Registers, takes a first share of the probes (or starts degraded) and beats from then on. Throws when
   * another live process has this agent's name: both would renew the same leases and run their slots twice.
   */
  async start(): Promise<void> {
    try {
      await this.refuseTwin();
    } catch (error) {
      this.stopped = true;
      this.pool.off('error', this.onPoolError);
      if (this.ownPool) await this.pool.end();
      throw error;
    }
    this.beating = this.beat();
    await this.beating;
    this.beating = undefined;
    this.schedule();
  }

  /** Whether this agent runs `probe`'s slot scheduled at `at` (this process's clock). */
  owns(probe: string, at: number = this.clock.now()): boolean {
    const lease = this.leaseOf.get(probe) ?? probe;
    const end = this.leases.get(lease);
    if (end === undefined) return false;
    return this.degraded || ((this.heldSince.get(lease) ?? -Infinity) <= at && at < end);
  }

  /** Whether this agent holds the leader lease at `at`. */
  isLeader(at: number = this.clock.now()): boolean {
    return at < this.leaderUntil;
  }

  /** Whether the last beat failed to reach PostgreSQL. */
  isDegraded(): boolean {
    return this.degraded;
  }

  /** The probes this agent owns now. */
  owned(at: number = this.clock.now()): string[] {
    const leases = [...this.leases.keys()].filter((lease) => this.owns(lease, at));
    return leases.flatMap((lease) => this.membersOf.get(lease) ?? [lease]).sort();
  }

  /** Calls `listener` at each change of ownership or leadership; returns the unsubscribe. */
  subscribe(listener: (event: FleetEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every agent the database knows, live or not, and whether the live ones run different configurations. */
  async agents(): Promise<FleetAgents> {
    const [records, leader] = await Promise.all([listAgents(this.pool, this.leaseMs), currentLeader(this.pool)]);
    const configurations: Record<string, string[]> = {};
    for (const agent of records.filter((a) => a.live)) (configurations[agent.configHash] ??= []).push(agent.name);
    const configurationsDiffer = Object.keys(configurations).length > 1;
    return {
      agents: records.map((record) => ({ ...record, self: record.name === this.name, leader: record.name === leader })),
      configurationsDiffer,
      configurations: configurationsDiffer ? configurations : {},
    };
  }

  /**
   * A clean stop: stops beating, owns nothing from now on, then gives up its
   * leases and the leader lease and removes its row, so the others take over
   * at their next beat instead of after the lease. Stop the scheduler first:
   * runs in flight finish while the leases are still renewed.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    await this.beating;
    this.leases.clear();
    this.heldSince.clear();
    this.leaderUntil = -Infinity;
    this.announce();
    try {
      await releaseLeases(this.pool, this.name);
      await resignLeadership(this.pool, this.name);
      await deregister(this.pool, this.name);
    } catch (error) {
      this.logger.warn({ err: error }, 'fleet: could not give the leases up; they end with the lease time instead');
    }
    this.pool.off('error', this.onPoolError);
    if (this.ownPool) await this.pool.end();
  }

  /**
   * A row with this name whose heartbeat is recent may be this agent's own
   * predecessor (restarted after a crash: its leases are rightly taken back) or
   * a twin alive elsewhere; two heartbeats tell: a twin's heartbeat moves on.
   */
  private async refuseTwin(): Promise<void> {
    let before;
    try {
      await migrateFleet(this.pool);
      this.migrated = true;
      before = await holderOf(this.pool, this.name, this.leaseMs);
    } catch {
      return; // The database is away: the first beat says so, and checks nothing.
    }
    if (!before?.live) return;
    await pause(this.clock, 2 * this.heartbeatMs);
    const after = await holderOf(this.pool, this.name, this.leaseMs).catch(() => undefined);
    if (!after || after.heartbeatAt === before.heartbeatAt) return;
    throw new Error(
      `another agent named "${this.name}" is alive (host ${after.host}, pid ${after.pid}): give each agent its own agent.name`,
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimer(() => {
      this.beating = this.beat().finally(() => {
        this.beating = undefined;
        this.schedule();
      });
    }, this.heartbeatMs);
  }

  /** One heartbeat: membership, the leases of each group, leadership. A failure makes the agent degraded. */
  private async beat(): Promise<void> {
    // Ends are counted from before the statements: the database's ends are later, never earlier.
    const t0 = this.clock.now();
    // Back from an outage, peers that kept running their probes get one beat to renew them before anything is claimed.
    const claiming = !this.degraded;
    try {
      if (!this.migrated) {
        await migrateFleet(this.pool);
        this.migrated = true;
      }
      await heartbeat(this.pool, this.options.identity, this.startedAt);
      const live = await liveCounts(this.pool, this.leaseMs);
      for (const group of this.groups) await this.place(group, live, t0, claiming);
      this.ensured = true;
      const leader = await acquireLeadership(this.pool, this.name, this.leaseMs);
      if (leader) await forgetSilent(this.pool, FORGET_AFTER_MS);
      // Set with no await before announce(): isLeader() never says yes before the listeners are told.
      this.leaderUntil = leader ? t0 + this.leaseMs : -Infinity;
      this.reachable();
    } catch (error) {
      this.unreachable(error);
    }
    this.announce();
  }

  /** Renews what this agent holds in `group`, gives up what is beyond its share, claims ended leases up to it. */
  private async place(group: LeaseGroup, live: LiveCounts, t0: number, claiming: boolean): Promise<void> {
    const agents = group.scope === 'fleet' ? live.total : (live.byLocation.get(group.location) ?? 0);
    const share = shareOf(group.probes.length, agents);
    if (!this.ensured) await ensureLeases(this.pool, group.location, group.probes);
    const stale = await heldOutside(this.pool, this.name, group.location, group.probes);
    if (stale.length > 0) await releaseLeases(this.pool, this.name, group.location, stale);
    const held = await renewLeases(this.pool, this.name, group.location, group.probes, this.leaseMs);
    for (const probe of group.probes) {
      if (held.includes(probe)) this.hold(probe, t0 + this.leaseMs);
      else this.drop(probe);
    }
    if (held.length > share) {
      // An agent joined: the excess goes, dropped here before the database lets another claim it.
      const excess = held.slice(share);
      for (const probe of excess) this.drop(probe);
      await releaseLeases(this.pool, this.name, group.location, excess);
    } else if (held.length < share && claiming) {
      const limit = share - held.length;
      const claimed = await claimLeases(this.pool, this.name, group.location, group.probes, limit, this.leaseMs);
      for (const probe of claimed) this.hold(probe, t0 + this.leaseMs);
    }
  }

  /**
   * Holds `lease` until `end`. A lease newly held counts from now, after the database granted it: whoever
   * held it before stopped owning it before then, so no slot is run by both.
   */
  private hold(lease: string, end: number): void {
    this.leases.set(lease, end);
    if (!this.heldSince.has(lease)) this.heldSince.set(lease, this.clock.now());
  }

  private drop(lease: string): void {
    this.leases.delete(lease);
    this.heldSince.delete(lease);
  }

  private reachable(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.logger.info({ owned: this.owned().length }, 'fleet: PostgreSQL is reachable again; leases renewed');
  }

  /** Logged once per outage, not at every beat. */
  private unreachable(error: unknown): void {
    this.leaderUntil = -Infinity;
    // The database may come back restored from a backup: its lease rows are made sure of again.
    this.ensured = false;
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(
      { err: error, owned: this.leases.size },
      'fleet: PostgreSQL is unreachable; this agent keeps running the probes it owned until it is back',
    );
  }

  /** Tells the listeners what changed since the last announcement. */
  private announce(): void {
    const owned = this.owned();
    const leader = this.isLeader();
    const before = this.announced;
    this.announced = { owned, leader };
    const gained = owned.filter((probe) => !before.owned.includes(probe));
    const lost = before.owned.filter((probe) => !owned.includes(probe));
    if (gained.length > 0 || lost.length > 0) this.emit({ type: 'ownership', owned, gained, lost });
    if (leader !== before.leader) this.emit({ type: 'leadership', leader });
  }

  private emit(event: FleetEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ err: error, event: event.type }, 'fleet: a listener failed');
      }
    }
  }
}
