// One outbox drainer in its own process, for tests of two processes on one database.
// Usage: node --import tsx test/helpers/outbox-drainer.ts DB_PATH RECEIVER_URL GO_FILE
// Prints "ready", waits for GO_FILE to exist (so both drainers start together),
// drains until nothing is pending, then prints {"attempts":N,"owner":"..."}.
import { existsSync } from 'node:fs';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { systemClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { Outbox } from '../../src/alerting/outbox.ts';

const [dbPath, url, goFile] = process.argv.slice(2);
if (!dbPath || !url || !goFile) throw new Error('usage: outbox-drainer.ts DB_PATH RECEIVER_URL GO_FILE');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const store = new SqliteStore(dbPath, systemClock);
const { config } = parseAlertsSection({
  channels: [{ name: 'hook', type: 'webhook', url, secret: 'drainer-secret' }],
  delivery: { initialBackoff: '50ms', maxBackoff: '200ms', concurrency: 8 },
});
const outbox = new Outbox({
  outbox: store.outbox,
  clock: systemClock,
  logger: pino({ level: 'silent' }),
  channels: config!.channels,
  delivery: config!.delivery,
});
process.stdout.write('ready\n');
while (!existsSync(goFile)) await sleep(5);
const deadline = Date.now() + 60_000;
let attempts = 0;
while ((await outbox.counts()).pending > 0 && Date.now() < deadline) {
  const ended = await outbox.drain();
  attempts += ended;
  if (ended === 0) await sleep(5);
}
process.stdout.write(`${JSON.stringify({ attempts, owner: outbox.owner })}\n`);
store.close();
