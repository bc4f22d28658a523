/**
 * kill -9 under load: the daemon (a child process, as run by operators) is
 * killed with SIGKILL again and again while its targets flap, its alerts fire
 * and resolve, and one webhook receiver fails every third request (429 with
 * Retry-After, or 503). After each kill the database must pass
 * `PRAGMA integrity_check` and keep every run that was committed before the
 * kill. At the end the targets settle, the last daemon drains and stops
 * cleanly, and every queued notification must have been delivered at least
 * once, duplicates only under the same Idempotency-Key (same bytes), every
 * signature valid, and no resolution before its firing.
 *
 *   node --import tsx bench/kill9.bench.ts [--kills 20] [--probes 30] [--up 3s-7s] [--keep DIR]
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parseDuration } from '../src/core/duration.ts';
import { freePort } from '../src/lab/processes.ts';
import { DAEMON_V8_FLAGS } from '../bin/daemon-v8-flags.js';
import { deliveryVerdict, receiver, SECRETS, type ChannelName, type Received } from './webhook-receivers.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    probes: { type: 'string', default: '30' },
    up: { type: 'string', default: '3s-7s' },
    keep: { type: 'string' },
  },
});
const KILLS = Number(values.kills);
const PROBES = Number(values.probes);
const [UP_MIN, UP_MAX] = (values.up ?? '3s-7s').split('-').map((d) => parseDuration(d) ?? 5000) as [number, number];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- targets: each probe's endpoint flips between 200 and 503 on its own period ---------------
let flapping = true;
const target = createServer((req, res) => {
  const i = Number((req.url ?? '').split('/').pop());
  const period = 2000 + ((i * 137) % 1500);
  const down = flapping && Math.floor((Date.now() + i * 311) / period) % 2 === 1;
  res.writeHead(down ? 503 : 200).end(down ? 'down' : 'ok');
});

const received: Received[] = [];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

// --- the daemon ------------------------------------------------------------------------------------
const dir = values.keep ?? mkdtempSync(join(tmpdir(), 'scaiprobe-kill9-'));
const dbPath = join(dir, 'kill9.db');
const servers = { target, flaky: receiver('flaky', received), steady: receiver('steady', received) };
const targetPort = await listen(servers.target);
const flakyPort = await listen(servers.flaky);
const steadyPort = await listen(servers.steady);
const apiPort = await freePort();
const configFile = join(dir, 'kill9.yaml');
writeFileSync(
  configFile,
  `server: { listen: "127.0.0.1:${apiPort}" }
store: { path: "${dbPath}" }
log: { level: warn }
probes:
${Array.from({ length: PROBES }, (_, i) => `  - { name: flap-${i}, kind: http, url: "http://127.0.0.1:${targetPort}/flap/${i}", every: 1s, timeout: 1s }`).join('\n')}
alerts:
  channels:
    - { name: flaky, type: webhook, url: "http://127.0.0.1:${flakyPort}/hook", secret: "\${KILL9_FLAKY_SECRET}" }
    - { name: steady, type: webhook, url: "http://127.0.0.1:${steadyPort}/hook", secret: "\${KILL9_STEADY_SECRET}" }
  rules:
    - { name: down, probes: ["*"], failures: 1, successes: 1, repeat: 5s }
  delivery: { initialBackoff: 200ms, maxBackoff: 2s }
`,
);

interface RunningDaemon {
  child: ChildProcess;
  exited: Promise<void>;
  stderr: () => string;
}

function startDaemon(): RunningDaemon {
  const child = spawn(
    process.execPath,
    [...DAEMON_V8_FLAGS, '--import', 'tsx', 'src/cli/main.ts', 'run', '--config', configFile],
    {
      env: { ...process.env, KILL9_FLAKY_SECRET: SECRETS.flaky, KILL9_STEADY_SECRET: SECRETS.steady },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return { child, exited: new Promise((resolve) => child.once('exit', () => resolve())), stderr: () => stderr };
}

/** Milliseconds from start to a healthy /health. */
async function healthy(daemon: RunningDaemon, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs && daemon.child.exitCode === null) {
    const ok = await fetch(`http://127.0.0.1:${apiPort}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return Date.now() - started;
    await sleep(50);
  }
  throw new Error(`the daemon did not come up:\n${daemon.stderr()}`);
}

/** A fresh connection for each look: nothing of ours stays open across a kill. */
function withDb<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 5000');
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const runIds = (db: Database.Database) =>
  new Set((db.prepare('SELECT id FROM runs').all() as Array<{ id: number }>).map((r) => r.id));

// --- the kills ---------------------------------------------------------------------------------------
interface KillRow {
  kill: number;
  'restart ms': number;
  'up s': string;
  'runs committed': number;
  'runs lost': number;
  integrity: string;
  'outbox rows': number;
  'pending at kill': number;
  'in flight at kill': number;
}
const table: KillRow[] = [];
const committed = new Set<number>();
let totalLost = 0;
for (let kill = 1; kill <= KILLS; kill++) {
  const daemon = startDaemon();
  const restartMs = await healthy(daemon);
  // Runs committed before this start must all still be there (the previous kill lost none, the restart deleted none).
  const afterRestart = withDb(runIds);
  const lostOnRestart = [...committed].filter((id) => !afterRestart.has(id)).length;
  const up = randomInt(UP_MIN, UP_MAX + 1);
  await sleep(up);
  const before = withDb((db) => ({
    ids: runIds(db),
    pending: (db.prepare(`SELECT count(*) AS n FROM alert_outbox WHERE status = 'pending'`).get() as { n: number }).n,
    leased: (
      db
        .prepare(`SELECT count(*) AS n FROM alert_outbox WHERE status = 'pending' AND lease_until IS NOT NULL`)
        .get() as { n: number }
    ).n,
    rows: (db.prepare('SELECT count(*) AS n FROM alert_outbox').get() as { n: number }).n,
  }));
  daemon.child.kill('SIGKILL');
  await daemon.exited;
  const after = withDb((db) => ({
    integrity: (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
      .map((r) => r.integrity_check)
      .join('; '),
    ids: runIds(db),
  }));
  const lost = [...before.ids].filter((id) => !after.ids.has(id)).length + lostOnRestart;
  totalLost += lost;
  for (const id of before.ids) committed.add(id);
  table.push({
    kill,
    'restart ms': restartMs,
    'up s': (up / 1000).toFixed(1),
    'runs committed': before.ids.size,
    'runs lost': lost,
    integrity: after.integrity,
    'outbox rows': before.rows,
    'pending at kill': before.pending,
    'in flight at kill': before.leased,
  });
  process.stderr.write(
    `kill ${kill}/${KILLS}: ${before.ids.size} runs, ${before.pending} notifications pending, integrity ${after.integrity}\n`,
  );
}

// --- settle, drain, stop cleanly -------------------------------------------------------------------------
flapping = false;
const last = startDaemon();
await healthy(last);
const settleStarted = Date.now();
for (;;) {
  const open = withDb((db) => ({
    pending: (db.prepare(`SELECT count(*) AS n FROM alert_outbox WHERE status = 'pending'`).get() as { n: number }).n,
    firing: (db.prepare(`SELECT count(*) AS n FROM alerts WHERE status != 'ok'`).get() as { n: number }).n,
  }));
  if (open.pending === 0 && open.firing === 0) break;
  if (Date.now() - settleStarted > 180_000) throw new Error(`did not settle: ${JSON.stringify(open)}`);
  await sleep(500);
}
const settleMs = Date.now() - settleStarted;
last.child.kill('SIGTERM');
await last.exited;

// --- the verdict ------------------------------------------------------------------------------------------
const final = withDb((db) => ({
  integrity: (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
    .map((r) => r.integrity_check)
    .join('; '),
  ids: runIds(db),
  outbox: db.prepare('SELECT idempotency_key AS key, channel, event, status FROM alert_outbox').all() as Array<{
    key: string;
    channel: ChannelName;
    event: string;
    status: string;
  }>,
}));
const finalLost = [...committed].filter((id) => !final.ids.has(id)).length;
const verdict = deliveryVerdict(received, final.outbox);

console.table(table);
console.table([
  {
    kills: KILLS,
    probes: PROBES,
    'runs committed': final.ids.size,
    'runs lost': totalLost + finalLost,
    'integrity ok': `${table.filter((row) => row.integrity === 'ok').length + (final.integrity === 'ok' ? 1 : 0)}/${KILLS + 1}`,
    'notifications queued': final.outbox.length,
    'not delivered': verdict.undelivered,
    requests: received.length,
    'failed answers (429/503)': received.filter((r) => r.status >= 400).length,
    'duplicate deliveries': verdict.duplicateCopies,
    'duplicates with other bytes': verdict.differentBytes,
    'one notification, two keys': verdict.underTwoKeys,
    'invalid signatures': verdict.invalidSignatures,
    'resolutions before firing': verdict.resolutionsFirst,
    'final drain s': (settleMs / 1000).toFixed(1),
  },
]);
const byEvent: Record<string, number> = {};
for (const row of final.outbox)
  byEvent[`${row.channel} ${row.event}`] = (byEvent[`${row.channel} ${row.event}`] ?? 0) + 1;
console.table([byEvent]);

for (const server of Object.values(servers)) {
  server.closeAllConnections();
  server.close();
}
if (!values.keep) rmSync(dir, { recursive: true, force: true });
const ok =
  totalLost + finalLost === 0 &&
  final.integrity === 'ok' &&
  table.every((row) => row.integrity === 'ok') &&
  verdict.undelivered === 0 &&
  verdict.differentBytes === 0 &&
  verdict.underTwoKeys === 0 &&
  verdict.invalidSignatures === 0 &&
  verdict.resolutionsFirst === 0;
process.exitCode = ok ? 0 : 1;
