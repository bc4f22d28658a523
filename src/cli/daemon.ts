import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import { Store } from '../store/store.ts';
import { DaemonLock } from '../store/daemon-lock.ts';
import type { StoreHealth } from '../store/run-writer.ts';
import { Engine } from '../runner/engine.ts';
import { Scheduler } from '../runner/scheduler.ts';
import { ProbeMetrics } from '../server/metrics.ts';
import { startDaemonServer, type DaemonServer } from '../server/server.ts';
import { createHttpClient } from '../net/http-client.ts';
import { Redactor } from '../util/redact.ts';
import type { Clock } from '../util/clock.ts';
import { readAlertingSections, startAlerting } from '../alerting/wire.ts';
import { RunEvents } from '../server/events.ts';
import { registerStatusPage, toRunEvent } from '../server/status-page/register.ts';
import { registerReportApi } from '../reports/api.ts';
import { parseReportsConfig, type ReportsConfig } from '../reports/config.ts';
import { loadChartJs } from '../reports/html.ts';
import { SharedBrowser } from '../util/chromium.ts';
import { liveReportSources } from '../reports/live-sources.ts';

export interface Daemon {
  url: string;
  store: Store;
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

/** Opens the store, starts the schedules and the HTTP server. stop() ends cleanly: in-flight runs finish and are stored. */
export async function startDaemon(config: LoadedConfig, deps: { clock: Clock; logger: Logger }): Promise<Daemon> {
  const { clock, logger } = deps;
  const alertingSections = readAlertingSections(config);
  const reports = parseReportsConfig(config.sections.reports, config.files, config.server);
  const store = new Store(config.store.path, clock);
  let stopForLostLock = () => {};
  const lock = new DaemonLock({
    db: store.db,
    path: config.store.path,
    clock,
    onLost: (holder) => {
      logger.error({ pid: holder?.pid, host: holder?.host }, 'another scaiprobe daemon took this database over (this one missed its heartbeats); stopping');
      stopForLostLock();
    },
    onError: (error) => logger.error({ err: error }, 'daemon lock heartbeat could not be written'),
  });
  try {
    const { replaced, reason } = lock.acquire();
    if (replaced) logger.warn({ pid: replaced.pid, host: replaced.host, reason }, 'the previous daemon on this database is gone; taking it over');
  } catch (error) {
    store.close();
    throw error;
  }
  const http = createHttpClient();
  await http.warmUp?.();
  const metrics = new ProbeMetrics();
  const shutdown = new AbortController();
  const engine = new Engine(config.probes.filter((p) => p.enabled !== false), {
    clock,
    logger,
    http,
    redactor: new Redactor(config.secrets),
    store,
    metrics,
    shutdown: shutdown.signal,
  });
  const removed = store.retireUnconfigured(engine.specs().map((spec) => spec.name));
  if (removed.length > 0) logger.info({ probes: removed }, 'probes no longer configured (removed or disabled): off the status page, the API listings and the indicators; their history stays');
  let ready = false;
  const scheduler = new Scheduler({
    probes: engine.specs(),
    concurrency: config.scheduler.concurrency,
    jitter: config.scheduler.jitter,
    clock,
    logger,
    execute: async (name, lateness) => {
      metrics.observeLateness(lateness);
      await engine.run(name);
    },
  });
  const server = await startDaemonServer({
    listen: config.server.listen,
    ...(config.server.token ? { token: config.server.token } : {}),
    tenantTokens: tenantTokens(reports),
    public: config.server.public,
    allowedHosts: config.server.allowedHosts,
    limits: { headersTimeoutMs: config.server.headersTimeout, requestTimeoutMs: config.server.requestTimeout },
    store,
    metrics,
    logger,
    isReady: () => ready,
    problems: () => storeProblems(engine.storeHealth()),
  });
  // Status page, live events and tenant reports. Chromium starts only when a PDF is asked for.
  const events = new RunEvents({ clock, logger, maxClients: config.server.maxEventClients });
  registerStatusPage(server.router, store, events);
  engine.onRun((run) => events.publish(toRunEvent(run)));
  const alerting = startAlerting(alertingSections, { store, clock, logger, registry: metrics.registry, router: server.router, engine });
  const reportBrowser = new SharedBrowser({ idleMs: 5 * 60_000, logger });
  let chartJs: string | undefined;
  registerReportApi(server.router, {
    store,
    reports,
    sources: liveReportSources(store, () => alerting.indicators.current()),
    chartJs: () => (chartJs ??= loadChartJs()),
    browser: () => reportBrowser,
    clock,
  });
  const maintain = () => {
    try {
      const { hoursRolledUp, pruned } = store.maintain(config.store.retention);
      if (hoursRolledUp > 0 || Object.values(pruned).some((n) => n > 0)) logger.info({ hoursRolledUp, pruned }, 'store maintenance');
    } catch (error) {
      logger.error({ err: error }, 'store maintenance failed');
    }
  };
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
      stopping ??= (async () => {
        ready = false;
        clearInterval(maintenance);
        shutdown.abort();
        const inFlight = scheduler.inFlight();
        if (inFlight.length > 0) logger.info({ probes: inFlight }, 'waiting for runs in flight');
        await scheduler.stop();
        await engine.close();
        await alerting.stop();
        events.close();
        await server.close();
        await reportBrowser.close();
        lock.release();
        store.close();
        logger.info('scaiprobe stopped');
      })();
      return stopping;
    },
  };
  stopForLostLock = () => void daemon.stop();
  return daemon;
}
