// `scaiprobe run`: the daemon, every part wired together — store, schedules, alerting, indicators, the HTTP API.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../config/load.ts';
import type { Store } from '../../store/repositories.ts';
import { SqliteStore } from '../../store/sqlite/store.ts';
import { inTurns } from '../../util/steps.ts';
import { DaemonLock } from '../../store/daemon-lock.ts';
import type { StoreHealth } from '../../store/run-writer.ts';
import { Engine } from '../../runner/engine.ts';
import { sharedSlotGrid } from '../../runner/slot-grid.ts';
import { Scheduler } from '../../runner/scheduler.ts';
import { producersOf } from '../../runner/dependencies.ts';
import { ProbeMetrics } from '../../server/metrics.ts';
import { startDaemonServer, type DaemonServer } from '../../server/server.ts';
import { createHttpClient, type HttpClient } from '../../protocols/http/client.ts';
import { Redactor } from '../../util/redact.ts';
import type { Clock } from '../../util/clock.ts';
import { readAlertingSections, startAlerting } from '../../alerting/wire.ts';
import { IndicatorService } from '../../indicators/service.ts';
import type { Indicator } from '../../indicators/compute.ts';
import { RunEvents } from '../../server/events.ts';
import { registerIndicatorMetrics } from '../../server/indicator-metrics.ts';
import { registerOutboxMetrics } from '../../alerting/metrics.ts';
import { registerAlertRoutes } from '../../server/routes/alerts.ts';
import { registerIndicatorRoutes } from '../../server/routes/indicators.ts';
import { registerMaintenanceRoutes } from '../../server/routes/maintenance.ts';
import { registerReportRoutes } from '../../server/routes/reports.ts';
import { registerStatusPage, toRunEvent } from '../../server/routes/status-page.ts';
import { parseReportsConfig, type ReportsConfig } from '../../reports/config.ts';
import { loadChartJs } from '../../reports/html.ts';
import { SharedBrowser } from '../../util/chromium.ts';
import { liveReportSources } from '../../reports/live-sources.ts';
import { LOCATION_HEADER } from '../../core/probe.ts';
import { startFleetAlerting } from '../../alerting/fleet.ts';
import { registerAgentRoutes } from '../../server/routes/agents.ts';
import { joinFleet, type FleetParts } from './daemon-fleet.ts';

export interface Daemon {
  url: string;
  store: SqliteStore;
  engine: Engine;
  server: DaemonServer;
  /** In a fleet: this agent, its location and the shared database (without its password). */
  fleet: { name: string; location: string; database: string } | undefined;
  stop(): Promise<void>;
}

const MAINTENANCE_EVERY_MS = 5 * 60_000;

function tenantTokens(reports: ReportsConfig): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const [id, tenant] of Object.entries(reports.tenants)) if (tenant.token) tokens.set(tenant.token, id);
  return tokens;
}

/** Why runs are not being stored, in one line for /ready: `database: disk full (12 runs waiting to be stored)`. */
function storeProblems(health: StoreHealth | undefined): string[] {
  if (!health?.problem) return [];
  const dropped = health.dropped > 0 ? `, ${health.dropped} dropped` : '';
  return [`${health.problem} (${health.queued} run${health.queued === 1 ? '' : 's'} waiting to be stored${dropped})`];
}

/** Rolls up and prunes; a failure is logged, and the next round tries again. In a fleet the leader also maintains the shared store. */
/**
 * Store maintenance, a step per turn of the event loop so probes and requests are served meanwhile; a round
 * still going when the next is due is not started twice. Stops between steps once `stopped()`.
 */
function storeMaintenance(
  store: SqliteStore,
  config: LoadedConfig,
  logger: Logger,
  fleet: FleetParts | undefined,
  stopped: () => boolean,
): () => void {
  let running = false;
  return () => {
    if (fleet?.fleet.isLeader())
      fleet.shared.maintain(config.store.retention).then(
        ({ pruned }) => logger.debug({ pruned }, 'shared store maintenance'),
        (error: unknown) => logger.error({ err: error }, 'shared store maintenance failed'),
      );
    if (running) return;
    running = true;
    inTurns(store.maintenanceSteps(config.store.retention), stopped)
      .then(
        (done) => {
          if (done && (done.hoursRolledUp > 0 || Object.values(done.pruned).some((n) => n > 0)))
            logger.info({ hoursRolledUp: done.hoursRolledUp, pruned: done.pruned }, 'store maintenance');
        },
        (error: unknown) => logger.error({ err: error }, 'store maintenance failed'),
      )
      .finally(() => (running = false));
  };
}

/** Opens the store and takes the daemon lock on it; onLost runs when another daemon takes the database over. */
function openLockedStore(
  config: LoadedConfig,
  clock: Clock,
  logger: Logger,
  onLost: () => void,
): { store: SqliteStore; lock: DaemonLock } {
  const store = new SqliteStore(config.store.path, clock);
  const lock = new DaemonLock({
    locks: store.lock,
    path: config.store.path,
    clock,
    onLost: (holder) => {
      logger.error(
        { pid: holder?.pid, host: holder?.host },
        'another scaiprobe daemon took this database over (this one missed its heartbeats); stopping',
      );
      onLost();
    },
    onError: (error) => logger.error({ err: error }, 'daemon lock heartbeat could not be written'),
  });
  try {
    const { replaced, reason } = lock.acquire();
    if (replaced)
      logger.warn(
        { pid: replaced.pid, host: replaced.host, reason },
        'the previous daemon on this database is gone; taking it over',
      );
  } catch (error) {
    store.close();
    throw error;
  }
  return { store, lock };
}

/** The engine over the enabled probes; probes no longer configured are retired from the listings. */
function startEngine(
  config: LoadedConfig,
  deps: {
    clock: Clock;
    logger: Logger;
    http: HttpClient;
    store: Store;
    metrics: ProbeMetrics;
    shutdown: AbortSignal;
    location?: string;
  },
): Engine {
  const { logger, store } = deps;
  const engine = new Engine(
    config.probes.filter((p) => p.enabled !== false),
    { ...deps, redactor: new Redactor(config.secrets) },
  );
  const removed = store.probes.retireUnconfigured(engine.specs().map((spec) => spec.name));
  if (removed.length > 0)
    logger.info(
      { probes: removed },
      'probes no longer configured (removed or disabled): off the status page, the API listings and the indicators; their history stays',
    );
  return engine;
}

/** The scheduler: producers run before the probes that read them; lateness goes to the metrics. */
function createScheduler(
  config: LoadedConfig,
  engine: Engine,
  metrics: ProbeMetrics,
  clock: Clock,
  logger: Logger,
  fleet: FleetParts | undefined,
): Scheduler {
  const producers = producersOf(engine.specs());
  return new Scheduler({
    // In a fleet, every agent computes the same slots, and a slot runs here only if this agent holds the probe's lease then.
    ...(fleet
      ? {
          shouldRun: (name: string, at: number) => fleet.fleet.owns(name, at),
          grid: sharedSlotGrid(config.scheduler.jitter),
        }
      : {}),
    probes: engine.specs().map((spec) => ({ ...spec, after: producers.get(spec.name) ?? [] })),
    concurrency: config.scheduler.concurrency,
    jitter: config.scheduler.jitter,
    clock,
    logger,
    execute: async (name, lateness) => {
      metrics.observeLateness(lateness);
      await engine.run(name);
    },
  });
}

interface ServiceDeps {
  config: LoadedConfig;
  alertingSections: ReturnType<typeof readAlertingSections>;
  reports: ReportsConfig;
  store: SqliteStore;
  engine: Engine;
  metrics: ProbeMetrics;
  clock: Clock;
  logger: Logger;
  fleet: FleetParts | undefined;
}

/**
 * Alerts with their routes and outbox metrics: the daemon's own, or in a fleet
 * the shared ones (evaluated by the leader over every agent's runs, sent by any agent).
 */
function mountAlerting(server: DaemonServer, deps: ServiceDeps, indicators: () => Indicator[]) {
  const { alertingSections, store, engine, metrics, clock, logger, fleet } = deps;
  const config = alertingSections.alerts;
  const specs = new Map(engine.specs().map((spec) => [spec.name, spec]));
  const alerting = fleet
    ? startFleetAlerting({
        store: fleet.shared,
        isLeader: () => fleet.fleet.isLeader(),
        runsAfter: (cursors, limit, since) => fleet.shared.runsAfter(cursors, limit, since),
        liveLocations: (probe) => fleet.liveLocations(probe),
        clock,
        logger: logger.child({ part: 'alerts' }),
        config,
        configured: (probe) => specs.has(probe),
        tagsOf: (probe) => specs.get(probe)?.tags ?? [],
        intervalOf: (probe) => specs.get(probe)?.every,
        indicators,
      })
    : startAlerting(config, { store, clock, logger, engine, indicators });
  registerAlertRoutes(server.router, alerting.alerts);
  registerOutboxMetrics(metrics.registry, {
    outbox: fleet ? fleet.shared.outbox : store.outbox,
    clock,
    channels: config.channels.map((c) => c.name),
  });
  if (fleet) registerAgentRoutes(server.router, fleet.fleet, logger);
  return alerting;
}

/** Status page, live events, indicators, alerts, maintenance windows and tenant reports on the daemon's server. */
function mountServices(server: DaemonServer, deps: ServiceDeps) {
  const { config, alertingSections, reports, store, engine, metrics, clock, logger, fleet } = deps;
  // Status page, live events and tenant reports. Chromium starts only when a PDF is asked for.
  const events = new RunEvents({ clock, logger, maxClients: config.server.maxEventClients });
  registerStatusPage(server.router, store, events);
  // In a fleet, this agent's runs are of its location, and the other agents' arrive as the replica copies them.
  engine.onRun((run) => events.publish(toRunEvent(run, fleet?.fleet.location)));
  fleet?.onCopied((runs) => {
    for (const run of runs) events.publish(toRunEvent(run));
  });
  // Indicators, computed from the store: on /metrics and the API, for alert rules and for reports.
  const indicators = new IndicatorService({ store, clock, config: alertingSections.indicators });
  const currentIndicators = () => indicators.current();
  registerIndicatorMetrics(metrics.registry, currentIndicators, alertingSections.indicators.warnAt);
  registerIndicatorRoutes(server.router, { indicators: currentIndicators, clock });
  const alerting = mountAlerting(server, deps, currentIndicators);
  registerMaintenanceRoutes(server.router, {
    // In a fleet, windows are shared: the leader's evaluation holds the alerts of their probes.
    windows: fleet ? fleet.shared.maintenanceWindows : store.maintenanceWindows,
    clock,
    logger: logger.child({ part: 'maintenance' }),
    probes: () => engine.specs().map((spec) => spec.name),
  });
  const reportBrowser = new SharedBrowser({ idleMs: 5 * 60_000, logger });
  let chartJs: string | undefined;
  registerReportRoutes(server.router, {
    store,
    reports,
    sources: liveReportSources(store, currentIndicators),
    chartJs: () => (chartJs ??= loadChartJs()),
    browser: () => reportBrowser,
    clock,
  });
  return { events, alerting, reportBrowser };
}

/** The HTTP server as configured: tokens, hosts, limits; ready once the schedules run, unhealthy while the store is. */
function startServer(
  config: LoadedConfig,
  reports: ReportsConfig,
  deps: {
    store: SqliteStore;
    metrics: ProbeMetrics;
    logger: Logger;
    engine: Engine;
    fleet: FleetParts | undefined;
    isReady: () => boolean;
  },
): Promise<DaemonServer> {
  return startDaemonServer({
    listen: config.server.listen,
    ...(config.server.token ? { token: config.server.token } : {}),
    tenantTokens: tenantTokens(reports),
    public: config.server.public,
    allowedHosts: config.server.allowedHosts,
    limits: { headersTimeoutMs: config.server.headersTimeout, requestTimeoutMs: config.server.requestTimeout },
    store: deps.store,
    metrics: deps.metrics,
    logger: deps.logger,
    isReady: deps.isReady,
    problems: () => [...storeProblems(deps.engine.storeHealth()), ...(deps.fleet?.problems() ?? [])],
  });
}

/** Stops in order: no new runs, runs in flight finish and are stored, then alerts, server, browser, lock and store. */
async function shutDown(parts: {
  maintenance: ReturnType<typeof setInterval>;
  shutdown: AbortController;
  scheduler: Scheduler;
  engine: Engine;
  alerting: { stop(): Promise<void> };
  events: RunEvents;
  server: DaemonServer;
  reportBrowser: SharedBrowser;
  lock: DaemonLock;
  store: SqliteStore;
  fleet: FleetParts | undefined;
  logger: Logger;
}): Promise<void> {
  const { scheduler, logger } = parts;
  clearInterval(parts.maintenance);
  parts.shutdown.abort();
  const inFlight = scheduler.inFlight();
  if (inFlight.length > 0) logger.info({ probes: inFlight }, 'waiting for runs in flight');
  await scheduler.stop();
  await parts.engine.close();
  await parts.alerting.stop();
  // Spooled runs go to PostgreSQL (what cannot stays spooled for the next start), then the leases are given up.
  await parts.fleet?.stop();
  parts.events.close();
  await parts.server.close();
  await parts.reportBrowser.close();
  parts.lock.release();
  parts.store.close();
  logger.info('scaiprobe stopped');
}

/** With store.url, joins the fleet; if that fails, the local store is let go before the error goes on. */
async function joinFleetOrRelease(
  config: LoadedConfig,
  deps: { clock: Clock; logger: Logger; store: SqliteStore; lock: DaemonLock },
): Promise<FleetParts | undefined> {
  if (!config.store.url) return undefined;
  try {
    const producers = producersOf(config.probes.filter((probe) => probe.enabled !== false));
    return await joinFleet(config, { ...deps, producers, url: config.store.url });
  } catch (error) {
    deps.lock.release();
    deps.store.close();
    throw error;
  }
}

/** Opens the store, starts the schedules and the HTTP server. stop() ends cleanly: in-flight runs finish and are stored. */
export async function startDaemon(config: LoadedConfig, deps: { clock: Clock; logger: Logger }): Promise<Daemon> {
  const { clock, logger } = deps;
  const alertingSections = readAlertingSections(config);
  const reports = parseReportsConfig(config.sections.reports, config.files, config.server);
  let stopForLostLock = () => {};
  const { store, lock } = openLockedStore(config, clock, logger, () => stopForLostLock());
  const fleet = await joinFleetOrRelease(config, { clock, logger, store, lock });
  const http = createHttpClient(fleet ? { defaultHeaders: { [LOCATION_HEADER]: fleet.fleet.location } } : {});
  await http.warmUp?.();
  const metrics = new ProbeMetrics();
  // Each agent's /metrics carries its location, so one Prometheus scraping every agent tells them apart.
  if (fleet) metrics.setDefaultLabels({ location: fleet.fleet.location });
  const shutdown = new AbortController();
  const engineStore = fleet?.engineStore ?? store;
  const engine = startEngine(config, {
    ...{ clock, logger, http, store: engineStore, metrics, shutdown: shutdown.signal },
    ...(fleet ? { location: fleet.fleet.location } : {}),
  });
  let ready = false;
  const scheduler = createScheduler(config, engine, metrics, clock, logger, fleet);
  const server = await startServer(config, reports, { store, metrics, logger, engine, fleet, isReady: () => ready });
  const services = { config, alertingSections, reports, store, engine, metrics, clock, logger, fleet };
  const { events, alerting, reportBrowser } = mountServices(server, services);
  const maintain = storeMaintenance(store, config, logger, fleet, () => shutdown.signal.aborted);
  maintain();
  const maintenance = setInterval(maintain, MAINTENANCE_EVERY_MS);
  scheduler.start();
  ready = true;
  logger.info({ url: server.url, probes: engine.specs().length, db: config.store.path }, 'scaiprobe is running');

  let stopping: Promise<void> | undefined;
  const daemon: Daemon = {
    url: server.url,
    store,
    engine,
    server,
    fleet: fleet && { name: fleet.fleet.name, location: fleet.fleet.location, database: fleet.shared.location },
    stop() {
      ready = false;
      stopping ??= shutDown({
        maintenance,
        shutdown,
        scheduler,
        engine,
        alerting,
        events,
        server,
        reportBrowser,
        lock,
        store,
        fleet,
        logger,
      });
      return stopping;
    },
  };
  stopForLostLock = () => void daemon.stop();
  return daemon;
}
