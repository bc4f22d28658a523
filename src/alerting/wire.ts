import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ConfigError, locateSectionIssues, type LoadedConfig } from '../config/load.ts';
import type { Store } from '../store/store.ts';
import type { Engine } from '../runner/engine.ts';
import type { Router } from '../server/router.ts';
import type { Clock } from '../util/clock.ts';
import { IndicatorService, parseIndicatorsSection } from '../indicators/service.ts';
import type { IndicatorsConfig } from '../indicators/thresholds.ts';
import { parseAlertsSection, type AlertsConfig } from './config.ts';
import { AlertService } from './service.ts';
import type { Transport } from './outbox.ts';

const TICK_MS = 1000;
const HOUSEKEEPING_MS = 30_000;

function expireUnconfigured(alerts: AlertService, logger: Logger): void {
  try {
    const expired = alerts.outbox.expireUnconfigured();
    if (expired > 0) logger.error({ rows: expired }, 'alert notifications for channels not in this configuration expired');
  } catch (error) {
    logger.error({ err: error }, 'outbox housekeeping failed');
  }
}

/** Validates `alerts:` and `indicators:`; throws one ConfigError with the problems of both, naming the file and key path. Call before opening anything. */
export function readAlertingSections(config: LoadedConfig): { alerts: AlertsConfig; indicators: IndicatorsConfig } {
  const alerts = parseAlertsSection(config.sections.alerts);
  const indicators = parseIndicatorsSection(config.sections.indicators);
  if (alerts.config && indicators.config) return { alerts: alerts.config, indicators: indicators.config };
  throw new ConfigError([...locateSectionIssues(config.files, 'alerts', alerts.issues), ...locateSectionIssues(config.files, 'indicators', indicators.issues)]);
}

/** Indicators on /metrics and the API, alerts fed by every run and a timer. */
export function startAlerting(
  sections: { alerts: AlertsConfig; indicators: IndicatorsConfig },
  deps: { store: Store; clock: Clock; logger: Logger; registry: Registry; router: Router; engine: Engine; transport?: Transport },
): { alerts: AlertService; indicators: IndicatorService; stop(): Promise<void> } {
  const logger = deps.logger.child({ part: 'alerts' });
  const indicators = new IndicatorService({ store: deps.store, clock: deps.clock, config: sections.indicators });
  indicators.registerMetrics(deps.registry);
  indicators.registerApi(deps.router);
  const alerts = new AlertService({ store: deps.store, clock: deps.clock, logger, config: sections.alerts, indicators: () => indicators.current(), ...(deps.transport ? { transport: deps.transport } : {}) });
  alerts.registerApi(deps.router);
  alerts.resolveRemovedProbes(deps.store.removedProbes());
  const tags = new Map(deps.engine.specs().map((spec) => [spec.name, spec.tags]));
  deps.engine.onRun((run) => {
    // Each channel's lane takes what is due; nothing here waits for a receiver. A run that queued
    // nothing leaves retries to the once-a-second tick: a look at the outbox per run costs more than the run.
    if (alerts.onRun(run, tags.get(run.probe) ?? []) > 0) alerts.outbox.pump();
  });
  const timer = setInterval(() => void alerts.tick().catch((error: unknown) => logger.error({ err: error }, 'alert tick failed')), TICK_MS);
  // The daemon owns the configuration: only it expires rows of channels that configuration does not have.
  const housekeeping = setInterval(() => expireUnconfigured(alerts, logger), HOUSEKEEPING_MS);
  // Whatever was pending when the last process died goes out now, its leases freed if that process is gone.
  const freed = alerts.outbox.releaseOrphanedLeases();
  if (freed > 0) logger.info({ rows: freed }, 'alert notifications claimed by a process that is gone are free again');
  expireUnconfigured(alerts, logger);
  alerts.outbox.pump();
  return {
    alerts,
    indicators,
    async stop() {
      clearInterval(timer);
      clearInterval(housekeeping);
      await alerts.outbox.stop();
    },
  };
}
