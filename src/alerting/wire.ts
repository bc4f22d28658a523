// Alerting in a running daemon: fed by every run and a timer, with outbox housekeeping; and the sections' validation.
import type { Logger } from 'pino';
import { ConfigError, locateSectionIssues, type LoadedConfig } from '../config/load.ts';
import type { Store } from '../store/repositories.ts';
import type { Engine } from '../runner/engine.ts';
import type { Clock } from '../util/clock.ts';
import type { Indicator } from '../indicators/compute.ts';
import { parseIndicatorsSection } from '../indicators/service.ts';
import type { IndicatorsConfig } from '../indicators/thresholds.ts';
import { parseAlertsSection, type AlertsConfig } from './config.ts';
import { AlertService } from './service.ts';
import type { Transport } from './outbox.ts';

const TICK_MS = 1000;
const HOUSEKEEPING_MS = 30_000;

export async function expireUnconfigured(alerts: AlertService, logger: Logger): Promise<void> {
  try {
    const expired = await alerts.outbox.expireUnconfigured();
    if (expired > 0)
      logger.error({ rows: expired }, 'alert notifications for channels not in this configuration expired');
  } catch (error) {
    logger.error({ err: error }, 'outbox housekeeping failed');
  }
}

/** Validates `alerts:` and `indicators:`; throws one ConfigError with the problems of both, naming the file and key path. Call before opening anything. */
export function readAlertingSections(config: LoadedConfig): { alerts: AlertsConfig; indicators: IndicatorsConfig } {
  const alerts = parseAlertsSection(config.sections.alerts);
  const indicators = parseIndicatorsSection(config.sections.indicators);
  if (alerts.config && indicators.config) return { alerts: alerts.config, indicators: indicators.config };
  throw new ConfigError([
    ...locateSectionIssues(config.files, 'alerts', alerts.issues),
    ...locateSectionIssues(config.files, 'indicators', indicators.issues),
  ]);
}

/** Alerts fed by every run (and indicators, when given) and a timer; outbox rows left by a previous process go out at once. */
export function startAlerting(
  config: AlertsConfig,
  deps: {
    store: Store;
    clock: Clock;
    logger: Logger;
    engine: Engine;
    indicators?: () => Indicator[];
    transport?: Transport;
  },
): {
  alerts: AlertService;
  /** Resolves once the alerts of removed probes are resolved and what a previous process left is on its way. */
  started: Promise<void>;
  stop(): Promise<void>;
} {
  const logger = deps.logger.child({ part: 'alerts' });
  const alerts = new AlertService({
    store: deps.store,
    clock: deps.clock,
    logger,
    config,
    ...(deps.indicators ? { indicators: deps.indicators } : {}),
    ...(deps.transport ? { transport: deps.transport } : {}),
  });
  const removed = alerts.resolveRemovedProbes(deps.store.probes.removed());
  const tags = new Map(deps.engine.specs().map((spec) => [spec.name, spec.tags]));
  deps.engine.onRun(async (run) => {
    // Each channel's lane takes what is due; nothing here waits for a receiver. A run that queued
    // nothing leaves retries to the once-a-second tick: a look at the outbox per run costs more than the run.
    if ((await alerts.onRun(run, tags.get(run.probe) ?? [])) > 0) void alerts.outbox.pump();
  });
  const timer = setInterval(
    () => void alerts.tick().catch((error: unknown) => logger.error({ err: error }, 'alert tick failed')),
    TICK_MS,
  );
  // The daemon owns the configuration: only it expires rows of channels that configuration does not have.
  const housekeeping = setInterval(() => void expireUnconfigured(alerts, logger), HOUSEKEEPING_MS);
  // Whatever was pending when the last process died goes out now, its leases freed if that process is gone.
  const started = (async () => {
    await removed;
    const freed = await alerts.outbox.releaseOrphanedLeases();
    if (freed > 0) logger.info({ rows: freed }, 'alert notifications claimed by a process that is gone are free again');
    await expireUnconfigured(alerts, logger);
    await alerts.outbox.pump();
  })().catch((error: unknown) => logger.error({ err: error }, 'alerting could not start its outbox'));
  return {
    alerts,
    started,
    async stop() {
      clearInterval(timer);
      clearInterval(housekeeping);
      await started;
      await alerts.outbox.stop();
    },
  };
}
