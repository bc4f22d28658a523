// Alerting for a fleet: the leader evaluates every agent's runs read from the shared store; every agent drains its outbox.
import type { Logger } from 'pino';
import type { StoredRun } from '../store/types.ts';
import type { Clock, Timer } from '../util/clock.ts';
import type { Indicator } from '../indicators/compute.ts';
import type { AlertsConfig } from './config.ts';
import type { Transport } from './outbox.ts';
import { AlertService } from './service.ts';
import { Serial } from './serial.ts';
import type { AlertingStore } from './store.ts';
import { expireUnconfigured } from './wire.ts';

/**
 * The runs of every agent after the cursors: of each agent in `cursors` (the
 * id of its last run read; one agent's run ids grow in the order they are
 * committed), those with a greater id; of any other agent, those started at or
 * after `since` (where a new leader starts reading). At most `limit`, each
 * agent's oldest first by id (ordering all by id and cutting at `limit` does
 * it). A run without an agent counts as agent ''. The replica's read, with
 * `since` added: one query can serve both.
 */
export type RunsAfter = (cursors: ReadonlyMap<string, number>, limit: number, since: number) => Promise<StoredRun[]>;

export interface FleetAlertingOptions {
  /** The shared store (PostgreSQL): alerts, their state changes and the outbox. */
  store: AlertingStore;
  /** Whether this agent holds the fleet's leader lease now (asked before each run it evaluates). */
  isLeader: () => boolean;
  runsAfter: RunsAfter;
  /** The probe's locations that have a live agent running it (a quorum counts only these). */
  liveLocations: (probe: string) => string[];
  clock: Clock;
  logger: Logger;
  config: AlertsConfig;
  /**
   * Whether this agent's configuration has the probe. The leader resolves the
   * open alerts of a probe it does not have and that no agent has run for
   * `goneAfter` (nothing else would: no run of it will ever come again).
   */
  configured?: (probe: string) => boolean;
  /** How long a probe the leader's configuration lacks must go without runs to count as removed (default 10 minutes). */
  goneAfter?: number;
  /** The probe's tags (rules select probes by tag) and interval, from the configuration. */
  tagsOf?: (probe: string) => string[];
  intervalOf?: (probe: string) => number | undefined;
  indicators?: () => Indicator[];
  transport?: Transport;
  /** How far back a new leader reads runs (default 2 minutes): more than a failover takes. */
  lookback?: number;
  /** Time between rounds (default 1 s). */
  every?: number;
  /** Runs asked for at once (default 500). */
  batch?: number;
}

export interface FleetAlerting {
  readonly alerts: AlertService;
  /** Whether this agent evaluated as the leader in its latest round. */
  leading(): boolean;
  /** One round: as the leader, evaluates the runs not read yet and what time alone changes; then sends what is due. */
  poll(): Promise<void>;
  /** No more rounds nor new attempts; resolves when the attempts in flight have ended. */
  stop(): Promise<void>;
}

const DEFAULT_LOOKBACK_MS = 2 * 60_000;
/** Long enough for a rolling deploy: agents still on a configuration that has the probe keep running it meanwhile. */
const DEFAULT_GONE_AFTER_MS = 10 * 60_000;
const HOUSEKEEPING_MS = 30_000;
/** Batches read in one round at most, so a round (and the outbox it then pumps) is never held up by a long backlog. */
const BATCHES_PER_ROUND = 20;

/** A run read from the store, as the alert service judges it. */
function judged(run: StoredRun) {
  return {
    probe: run.probe,
    status: run.status,
    message: run.message,
    kind: run.kind,
    startedAt: run.startedAt,
    location: run.location,
    ...(run.tenant ? { tenant: run.tenant } : {}),
  };
}

/**
 * The rounds of one agent. Only the leader reads runs and changes alerts (one
 * writer, so no two agents page for one change); it reads per-agent cursors
 * and, at a takeover, reads back `lookback` so the runs its predecessor may not
 * have evaluated are not missed. A run read twice changes nothing: each
 * alert keeps, in the shared store, its locations' latest runs and ignores one
 * not newer. Every agent drains the outbox: rows are leased, so each is in
 * flight once, and a row leased by an agent that died is sent by another once
 * its lease runs out, with the same Idempotency-Key.
 */
class FleetRounds implements FleetAlerting {
  readonly alerts: AlertService;
  /** While leading: where reading has got to and since when this agent leads; undefined while not leading (a takeover reads back `lookback`). */
  private cursors: { since: number; after: Map<string, number>; ledFrom: number } | undefined;
  /** The start of the newest run read of each probe, while leading. */
  private readonly lastRun = new Map<string, number>();
  private readonly serial = new Serial();
  private timer: Timer | undefined;
  private stopped = false;
  private lastHousekeeping = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: FleetAlertingOptions) {
    const { store, clock, logger, config, liveLocations, intervalOf, indicators, transport } = options;
    this.alerts = new AlertService({
      store,
      clock,
      logger,
      config,
      locations: { live: liveLocations, ...(intervalOf ? { interval: intervalOf } : {}) },
      ...(indicators ? { indicators } : {}),
      ...(transport ? { transport } : {}),
    });
  }

  leading(): boolean {
    return this.cursors !== undefined;
  }

  poll(): Promise<void> {
    return this.serial.run(async () => {
      try {
        if (this.options.isLeader()) await this.lead();
        else this.cursors = undefined;
      } finally {
        // Sending does not wait on evaluating: a store that failed a read may still lease a row a moment later.
        await this.alerts.outbox.pump();
      }
    });
  }

  private async lead(): Promise<void> {
    const { clock, logger, lookback = DEFAULT_LOOKBACK_MS } = this.options;
    const now = clock.now();
    if (!this.cursors) {
      this.cursors = { since: now - lookback, after: new Map(), ledFrom: now };
      this.lastRun.clear();
      logger.info({ since: new Date(this.cursors.since).toISOString() }, 'this agent now evaluates the fleet alerts');
    }
    if (!(await this.readRuns(this.cursors)) || !this.options.isLeader()) {
      this.cursors = undefined;
      return;
    }
    await this.alerts.evaluate();
    if (now - this.lastHousekeeping >= HOUSEKEEPING_MS) {
      this.lastHousekeeping = now;
      await expireUnconfigured(this.alerts, logger);
      await this.resolveGoneProbes(now, this.cursors.ledFrom);
    }
  }

  /** Resolves the alerts of probes this agent's configuration lacks and that no agent ran for `goneAfter`, once this agent has led that long. */
  private async resolveGoneProbes(now: number, ledFrom: number): Promise<void> {
    const { configured, goneAfter = DEFAULT_GONE_AFTER_MS } = this.options;
    if (!configured || now - ledFrom < goneAfter) return;
    await this.alerts.resolveProbesGone(
      (probe) => !configured(probe) && (this.lastRun.get(probe) ?? Number.NEGATIVE_INFINITY) < now - goneAfter,
    );
  }

  /** Evaluates the runs after the cursors, moving them on; false when the lead was lost on the way. */
  private async readRuns(cursors: { since: number; after: Map<string, number> }): Promise<boolean> {
    const { runsAfter, isLeader, tagsOf, batch = 500 } = this.options;
    for (let round = 0; round < BATCHES_PER_ROUND; round++) {
      const runs = await runsAfter(cursors.after, batch, cursors.since);
      for (const run of runs) {
        // A leader that lost its lease stops before the next write; the next leader reads back over this.
        if (!isLeader()) {
          this.cursors = undefined;
          return false;
        }
        await this.alerts.onRun(judged(run), tagsOf?.(run.probe) ?? []);
        this.lastRun.set(run.probe, Math.max(this.lastRun.get(run.probe) ?? 0, run.startedAt));
        const agent = run.agent ?? '';
        cursors.after.set(agent, Math.max(cursors.after.get(agent) ?? 0, run.id));
      }
      if (runs.length < batch) break;
    }
    return true;
  }

  start(): void {
    const { clock, logger, every = 1000 } = this.options;
    const round = () => {
      void this.poll()
        .catch((error: unknown) => logger.error({ err: error }, 'fleet alerting round failed'))
        .finally(() => {
          if (!this.stopped) this.timer = clock.setTimer(round, every);
        });
    };
    round();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.serial.idle();
    await this.alerts.outbox.stop();
  }
}

/**
 * Alerting for an agent of a fleet: rounds every `every` that, while this
 * agent leads, evaluate every agent's new runs (with quorum over the probe's
 * locations) and, on every agent, send the shared outbox's due notifications.
 */
export function startFleetAlerting(options: FleetAlertingOptions): FleetAlerting {
  const rounds = new FleetRounds(options);
  rounds.start();
  return rounds;
}
