// `scaiprobe alert test <channel>`: one test notification through the outbox, and what became of it.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, ConfigError } from '../../config/load.ts';
import { SqliteStore } from '../../store/sqlite/store.ts';
import { systemClock } from '../../util/clock.ts';
import { readAlertingSections } from '../../alerting/wire.ts';
import { AlertService } from '../../alerting/service.ts';
import { exportLabEnv } from './lab.ts';

export const ALERT_USAGE = 'scaiprobe alert test <channel> [--config FILE|DIR] [--lab]   send a test notification through the outbox\n';

/** `scaiprobe alert test <channel>`: queues a test notification in the store's outbox and waits for its fate. */
export async function runAlertCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string', default: 'probes' }, lab: { type: 'boolean', default: false }, timeout: { type: 'string', default: '20' } }, allowPositionals: true, strict: true });
  const [sub, channelName] = positionals;
  if (sub !== 'test' || !channelName) {
    out.write(ALERT_USAGE);
    return 2;
  }
  if (values.lab) await exportLabEnv();
  let sections;
  let config;
  try {
    config = loadConfig(values.config ?? 'probes');
    sections = readAlertingSections(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      out.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (!sections.alerts.channels.some((c) => c.name === channelName)) {
    out.write(`no channel named "${channelName}" (configured: ${sections.alerts.channels.map((c) => c.name).join(', ') || 'none'})\n`);
    return 2;
  }
  const store = new SqliteStore(config.store.path, systemClock);
  try {
    const alerts = new AlertService({ store, clock: systemClock, logger: pino({ level: 'silent' }), config: sections.alerts });
    const key = alerts.sendTest(channelName);
    const queued = alerts.outbox.find(key, channelName);
    // Only this notification: the daemon's rows are the daemon's to send.
    const row = queued ? await alerts.outbox.deliverOwn(queued.id, Number(values.timeout) * 1000) : undefined;
    const attempts = `${row?.attempts ?? 0} attempt${row?.attempts === 1 ? '' : 's'}`;
    if (row?.status === 'delivered') {
      out.write(`delivered to ${channelName} (HTTP ${row.lastStatus}, ${attempts}); idempotency key ${key}\n`);
      return 0;
    }
    if (row?.status === 'failed' || row?.status === 'expired') {
      out.write(`not delivered to ${channelName}: ${row.lastError ?? row.status} after ${attempts}${row.lastResponse ? `, the receiver answered: ${row.lastResponse}` : ''}; it is marked ${row.status} and not retried\n`);
      return 1;
    }
    out.write(`not delivered to ${channelName} yet: ${row?.lastError ?? 'no attempt'} after ${attempts}; it stays in the outbox (${row?.status ?? 'unknown'}) and the daemon keeps retrying\n`);
    return 1;
  } finally {
    store.close();
  }
}
