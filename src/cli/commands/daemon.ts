// `scaiprobe run`: the daemon, every part wired together — store, schedules, alerting, indicators, the HTTP API.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../../config/load.ts';
import type { Store } from '../../store/repositories.ts';
import { SqliteStore } from '../../store/sqlite/store.ts';
import { DaemonLock } from '../../store/daemon-lock.ts';
import type { StoreHealth } from '../../store/run-writer.ts';
import { Engine } from '../../runner/engine.ts';
import { Scheduler } from '../../runner/scheduler.ts';
import { producersOf } from '../../runner/dependencies.ts';
import { ProbeMetrics } from '../../server/metrics.ts';
import { startDaemonServer, type DaemonServer } from '../../server/server.ts';
import { createHttpClient, type HttpClient } from '../../protocols/http/client.ts';
import { Redactor } from '../../util/redact.ts';
import type { Clock } from '../../util/clock.ts';
import { readAlertingSections, startAlerting } from '../../alerting/wire.ts';
import { IndicatorService } from '../../indicators/service.ts';
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

export interface Daemon {
  url: string;
  store: SqliteStore;
  engine: Engine;
  server: DaemonServer;
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

/** Rolls up and prunes; a failure is logged, and the next round tries again. */
function maintainStore(store: Store, config: LoadedConfig, logger: Logger): void {
  try {
    const { hoursRolledUp, pruned } = store.maintain(config.store.retention);
    if (hoursRolledUp > 0 || Object.values(pruned).some((n) => n > 0))
      logger.info({ hoursRolledUp, pruned }, 'store maintenance');
  } catch (error) {
    logger.error({ err: error }, 'store maintenance failed');
  }
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
    store: SqliteStore;
    metrics: ProbeMetrics;
    shutdown: AbortSignal;
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
): Scheduler {
  const producers = producersOf(engine.specs());
  return new Scheduler({
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
}

/** Status page, live events, indicators, alerts, maintenance windows and tenant reports on the daemon's server. */
function mountServices(server: DaemonServer, deps: ServiceDeps) {
  const { config, alertingSections, reports, store, engine, metrics, clock, logger } = deps;
  // Status page, live events and tenant reports. Chromium starts only when a PDF is asked for.
  const events = new RunEvents({ clock, logger, maxClients: config.server.maxEventClients });
  registerStatusPage(server.router, store, events);
  engine.onRun((run) => events.publish(toRunEvent(run)));
  // Indicators, computed from the store: on /metrics and the API, for alert rules and for reports.
  const indicators = new IndicatorService({ store, clock, config: alertingSections.indicators });
  const currentIndicators = () => indicators.current();
  registerIndicatorMetrics(metrics.registry, currentIndicators, alertingSections.indicators.warnAt);
  registerIndicatorRoutes(server.router, { indicators: currentIndicators, clock });
  const alerting = startAlerting(alertingSections.alerts, {
    store,
    clock,
    logger,
    engine,
    indicators: currentIndicators,
  });
  registerAlertRoutes(server.router, alerting.alerts);
  registerOutboxMetrics(metrics.registry, {
    outbox: store.outbox,
    clock,
    channels: alertingSections.alerts.channels.map((c) => c.name),
  });
  registerMaintenanceRoutes(server.router, {
    windows: store.maintenanceWindows,
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
  deps: { store: SqliteStore; metrics: ProbeMetrics; logger: Logger; engine: Engine; isReady: () => boolean },
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
    problems: () => storeProblems(deps.engine.storeHealth()),
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
  parts.events.close();
  await parts.server.close();
  await parts.reportBrowser.close();
  parts.lock.release();
  parts.store.close();
  logger.info('scaiprobe stopped');
}

/** Opens the store, starts the schedules and the HTTP server. stop() ends cleanly: in-flight runs finish and are stored. */
export async function startDaemon(config: LoadedConfig, deps: { clock: Clock; logger: Logger }): Promise<Daemon> {
  const { clock, logger } = deps;
  const alertingSections = readAlertingSections(config);
  const reports = parseReportsConfig(config.sections.reports, config.files, config.server);
  let stopForLostLock = () => {};
  const { store, lock } = openLockedStore(config, clock, logger, () => stopForLostLock());
  const http = createHttpClient();
  await http.warmUp?.();
  const metrics = new ProbeMetrics();
  const shutdown = new AbortController();
  const engine = startEngine(config, { clock, logger, http, store, metrics, shutdown: shutdown.signal });
  let ready = false;
  const scheduler = createScheduler(config, engine, metrics, clock, logger);
  const server = await startServer(config, reports, { store, metrics, logger, engine, isReady: () => ready });
  const { events, alerting, reportBrowser } = mountServices(server, {
    config,
    alertingSections,
    reports,
    store,
    engine,
    metrics,
    clock,
    logger,
  });
  const maintain = () => maintainStore(store, config, logger);
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
        logger,
      });
      return stopping;
    },
  };
  stopForLostLock = () => void daemon.stop();
  return daemon;
}
