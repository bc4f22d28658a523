import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, ConfigError } from '../config/load.ts';
import { Store } from '../store/store.ts';
import { systemClock } from '../util/clock.ts';
import { readAlertingSections } from './wire.ts';
import { AlertService } from './service.ts';

export const ALERT_USAGE = 'scaiprobe alert test <channel> [--config FILE|DIR] [--lab]   send a test notification through the outbox\n';

/** `scaiprobe alert test <channel>`: queues a test notification in the store's outbox and waits for its fate. */
export async function runAlertCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { config: { type: 'string', default: 'probes' }, lab: { type: 'boolean', default: false }, timeout: { type: 'string', default: '20' } }, allowPositionals: true, strict: true });
  const [sub, channelName] = positionals;
  if (sub !== 'test' || !channelName) {
    out.write(ALERT_USAGE);
    return 2;
  }
  if (values.lab) {
    const { LAB_ENV } = await import('../lab/lab.ts');
    for (const [name, value] of Object.entries(LAB_ENV)) process.env[name] ??= value;
  }
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
  const store = new Store(config.store.path, systemClock);
  try {
    const alerts = new AlertService({ store, clock: systemClock, logger: pino({ level: 'silent' }), config: sections.alerts });
    const key = alerts.sendTest(channelName);
    await alerts.outbox.flush(Number(values.timeout) * 1000);
    const row = alerts.outbox.rows({ limit: 50 }).find((r) => r.key === key && r.channel === channelName);
    if (row?.status === 'delivered') {
      out.write(`delivered to ${channelName} (HTTP ${row.lastStatus}, ${row.attempts} attempt${row.attempts === 1 ? '' : 's'}); idempotency key ${key}\n`);
      return 0;
    }
    out.write(`not delivered to ${channelName} yet: ${row?.lastError ?? 'no attempt'} after ${row?.attempts ?? 0} attempt(s); it stays in the outbox (${row?.status ?? 'unknown'}) and the daemon keeps retrying\n`);
    return 1;
  } finally {
    store.close();
  }
}
