// `scaiprobe alert test <channel>`: one test notification through the outbox, and what became of it.
import pino from 'pino';
import { SqliteStore } from '../../store/sqlite/store.ts';
import { openPostgresStore } from '../../store/postgres/open.ts';
import { systemClock } from '../../util/clock.ts';
import { readAlertingSections } from '../../alerting/wire.ts';
import { AlertService } from '../../alerting/service.ts';
import { defineCommand, type CommandGroup } from '../command.ts';
import { CONFIG_OPTION, loadForCommand } from '../config.ts';
import { UsageError } from '../usage-error.ts';
import { exportLabEnv, LAB_CREDENTIALS_OPTION } from './lab.ts';

/** Queues a test notification in the store's outbox for one channel and waits (up to `timeoutMs`) for its fate; returns the exit code. */
export async function sendTestNotification(
  configPath: string,
  channelName: string,
  timeoutMs: number,
  out: NodeJS.WritableStream,
): Promise<number> {
  const config = loadForCommand(configPath);
  const sections = readAlertingSections(config);
  if (!sections.alerts.channels.some((c) => c.name === channelName)) {
    throw new UsageError(
      `no channel named "${channelName}" (configured: ${sections.alerts.channels.map((c) => c.name).join(', ') || 'none'})`,
    );
  }
  // In a fleet the outbox is PostgreSQL's, which every agent drains; otherwise the daemon's database file.
  const store = config.store.url
    ? await openPostgresStore({
        url: config.store.url,
        ...(config.store.tls !== undefined ? { tls: config.store.tls } : {}),
        clock: systemClock,
        poolSize: 2,
      })
    : new SqliteStore(config.store.path, systemClock);
  try {
    const alerts = new AlertService({
      store,
      clock: systemClock,
      logger: pino({ level: 'silent' }),
      config: sections.alerts,
    });
    const key = await alerts.sendTest(channelName);
    const queued = await alerts.outbox.find(key, channelName);
    // Only this notification: the daemon's rows are the daemon's to send.
    const row = queued ? await alerts.outbox.deliverOwn(queued.id, timeoutMs) : undefined;
    const attempts = `${row?.attempts ?? 0} attempt${row?.attempts === 1 ? '' : 's'}`;
    if (row?.status === 'delivered') {
      out.write(`delivered to ${channelName} (HTTP ${row.lastStatus}, ${attempts}); idempotency key ${key}\n`);
      return 0;
    }
    if (row?.status === 'failed' || row?.status === 'expired') {
      out.write(
        `not delivered to ${channelName}: ${row.lastError ?? row.status} after ${attempts}${row.lastResponse ? `, the receiver answered: ${row.lastResponse}` : ''}; it is marked ${row.status} and not retried\n`,
      );
      return 1;
    }
    out.write(
      `not delivered to ${channelName} yet: ${row?.lastError ?? 'no attempt'} after ${attempts}; it stays in the outbox (${row?.status ?? 'unknown'}) and the daemon keeps retrying\n`,
    );
    return 1;
  } finally {
    await store.close();
  }
}

const alertTestCommand = defineCommand({
  name: 'alert test',
  summary: 'send a test notification to one alert channel, through the outbox',
  synopsis: '<channel> [--config FILE|DIR] [--lab] [--timeout SECONDS]',
  description: [
    "Queues a test notification for one of the configuration's alert channels in the database's outbox, sends it",
    'and says what became of it: exit 0 delivered, 1 refused or not delivered yet (the daemon keeps retrying).',
  ].join('\n'),
  options: {
    config: CONFIG_OPTION,
    lab: LAB_CREDENTIALS_OPTION,
    timeout: { type: 'string', value: 'SECONDS', default: '20', description: 'how long to wait for the delivery' },
  },
  positionals: { min: 1, max: 1, name: '<channel>' },
  examples: ['scaiprobe alert test oncall-webhook'],
  async run({ values, positionals }) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError(`--timeout must be a number of seconds (got ${values.timeout})`);
    if (values.lab) await exportLabEnv();
    return sendTestNotification(values.config, positionals[0] ?? '', seconds * 1000, process.stdout);
  },
});

export const alertCommands: CommandGroup = {
  name: 'alert',
  summary: 'alert channels: send a test notification',
  subcommands: [alertTestCommand],
};
