import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { ImapFlow } from 'imapflow';
import { loadConfig } from '../../src/config/load.ts';
import { startDaemon, type Daemon } from '../../src/cli/commands/daemon.ts';
import { systemClock } from '../../src/util/clock.ts';
import { freePort, makeTempDir, startProcess, waitForPort, type ManagedProcess } from '../../src/lab/processes.ts';
import { createZone, labZoneRrsets, LAB_ZONE, setRrset, startPdns, type PdnsInstance } from '../../src/lab/pdns.ts';
import type { ErrorCode } from '../../src/core/probe.ts';
import type { FinishedRun } from '../../src/runner/engine.ts';
import type { RunStatus } from '../../src/store/types.ts';
import { startTestMailLab, USERS, type TestMailLab } from '../helpers/mail-lab.ts';
import {
  blackholePort,
  chromiumChildren,
  closedPort,
  fakeDns,
  fakeImapCuttingIdle,
  httpServer,
  httpsServer,
  selfSignedCertificate,
  silentTcp,
  smtpRefusingRecipients,
  type Running,
} from '../helpers/fault-servers.ts';
import { FAULT_MATRIX, type Env, type FaultRow } from '../helpers/fault-matrix.ts';

/**
 * The fault matrix: every row is a fault a target, a seed mailbox, a DNS
 * server, a queue, Chromium or an alert receiver can throw at scaiprobe, the
 * probe that meets it, and the status and error code the run must end with
 * (test/helpers/fault-matrix.ts; the "Fault matrix" table in docs/troubleshooting.md is the same
 * list). All rows run through one daemon started in this process (real
 * config loader, engine, store, HTTP side and alert outbox); after every row
 * the daemon must still be alive: /health answers, a healthy canary probe
 * passes, the faulty run was stored as judged, and nothing escaped as an
 * uncaught exception or unhandled rejection.
 */

const NEVER = '0 0 1 1 *'; // runs only when the test asks: the scheduler must not race the rows
const TLS_FIXTURES = new URL('../fixtures/tls/', import.meta.url);

describe('fault matrix', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let daemon: Daemon;
  let env: Env;
  const servers: Running[] = [];
  const processes: ManagedProcess[] = [];
  let mailLab: TestMailLab | undefined;
  let pdns: PdnsInstance | undefined;
  const escaped: string[] = [];
  const onUncaught = (error: unknown) =>
    escaped.push(`uncaught exception: ${String((error as Error)?.stack ?? error)}`);
  const onUnhandled = (error: unknown) =>
    escaped.push(`unhandled rejection: ${String((error as Error)?.stack ?? error)}`);

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUnhandled);
    temp = await makeTempDir('scaiprobe-faults-');
    const keep = <T extends Running>(server: T): T => {
      servers.push(server);
      return server;
    };
    const fixture = (name: string) => readFile(new URL(name, TLS_FIXTURES), 'utf8');
    const [testCa, key, validCert, expiredCert] = (await Promise.all(
      ['test-ca.pem', 'server-key.pem', 'valid-cert.pem', 'expired-cert.pem'].map(fixture),
    )) as [string, string, string, string];

    // Real servers: Dovecot + SMTP ingress + the ScaiSend stand-in, PowerDNS, Redis.
    mailLab = await startTestMailLab();
    const dnsPort = await freePort();
    const apiPort = await freePort();
    pdns = await startPdns({
      dir: join(temp.dir, 'pdns'),
      name: 'pdns-faults',
      dnsPort,
      apiPort,
      apiKey: 'faults-pdns-key',
    });
    await createZone(pdns, 'faults-pdns-key', LAB_ZONE, labZoneRrsets('token', 'AAAA').forward);
    await setRrset(pdns, 'faults-pdns-key', LAB_ZONE, {
      name: 'big.example.test.',
      type: 'TXT',
      ttl: 60,
      records: Array.from({ length: 30 }, (_, i) => `"record ${i} ${'x'.repeat(80)}"`),
    });
    const redis = async (extra: string[]) => {
      const port = await freePort();
      const proc = startProcess({
        name: 'redis-server',
        command: 'redis-server',
        args: [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          temp.dir,
          ...extra,
        ],
      });
      processes.push(proc);
      await waitForPort(port, '127.0.0.1', 10_000, proc);
      return port;
    };
    const redisPort = await redis([]);
    const redisAuthPort = await redis(['--requirepass', 'faults-redis-password']);
    const { Redis } = await import('ioredis');
    const client = new Redis({ host: '127.0.0.1', port: redisPort, lazyConnect: true });
    await client.connect();
    await client.set('email:process', 'a string, not a list');
    await client.rpush('smtp:deliver', 'job-1', 'job-2');
    client.disconnect();

    // Node servers that fail the way broken targets do.
    const json = (status: number, body: string) =>
      httpServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
    const pageArrived: Array<() => void> = [];
    env = {
      temp: temp.dir,
      testCa,
      mail: mailLab,
      pdns: { dns: `127.0.0.1:${dnsPort}`, api: pdns.apiUrl, apiKey: 'faults-pdns-key' },
      redis: { plain: redisPort, auth: redisAuthPort },
      closed: await closedPort(),
      blackhole: keep(await blackholePort()).port,
      silent: keep(await silentTcp()).port,
      healthy: keep(await json(200, '{"status":"ok"}')).url,
      resetMidBody: keep(
        await httpServer((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
          res.write('{"status":"ok",');
          setTimeout(() => req.socket.resetAndDestroy(), 50);
        }),
      ).url,
      resetMidChunked: keep(
        await httpServer((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"status":"ok",');
          setTimeout(() => req.socket.resetAndDestroy(), 50);
        }),
      ).url,
      stallMidBody: keep(
        await httpServer((_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
          res.write('{"status":');
        }),
      ).url,
      status503: keep(await json(503, '{"error":"service unavailable"}')).url,
      degraded200: keep(
        await json(200, '{"status":"degraded","checks":{"database":"ok","redis":"ok","pdns":"connection refused"}}'),
      ).url,
      malformedJson: keep(await json(200, '{"status": ok}')).url,
      truncatedJson: keep(await json(200, '{"status": "ok", "checks": {')).url,
      tlsExpired: keep(await httpsServer({ cert: expiredCert, key }, (_req, res) => res.end('ok'))).port,
      // Its certificate names localhost and 127.0.0.1; it is asked as 127.0.0.2.
      tlsValid: keep(await httpsServer({ cert: validCert, key }, (_req, res) => res.end('ok'), '127.0.0.2')).port,
      tlsSelfSigned: keep(await httpsServer(selfSignedCertificate(temp.dir), (_req, res) => res.end('ok'))).port,
      dnsFake: `127.0.0.1:${keep(await fakeDns()).port}`,
      imapGone: keep(await fakeImapCuttingIdle({ cutAfterMs: 400, refuseAfterCut: true })).port,
      imapFlapping: keep(await fakeImapCuttingIdle({ cutAfterMs: 300, refuseAfterCut: false })).port,
      smtp451: keep(await smtpRefusingRecipients(451, '4.3.0 Mailbox temporarily unavailable, try again later')).port,
      smtp550: keep(await smtpRefusingRecipients(550, '5.1.1 No such user here')).port,
      api413: keep(
        await json(
          413,
          '{"errors":[{"message":"The request body is larger than the 30 MB limit.","field":null,"help":null}]}',
        ),
      ).url,
      promGarbage: keep(
        await httpServer((_req, res) =>
          res
            .writeHead(200, { 'content-type': 'text/plain' })
            .end('# TYPE x_total counter\nx_total 12\nx_total{path="/a" 3\n<html>Bad gateway</html>\n'),
        ),
      ).url,
      prom500: keep(await json(500, '{"error":"internal"}')).url,
      statsOdd: keep(
        await httpServer((req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(req.url?.startsWith('/v3/stats/sum') ? '{"metrics":{"requests":10,"delivered":10}}' : '[null]');
        }),
      ).url,
      slowPage: keep(
        await httpServer((req, res) => {
          if (req.url?.startsWith('/slow')) for (const arrived of pageArrived.splice(0)) arrived();
          setTimeout(
            () => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>Welcome</h1></body></html>'),
            req.url?.startsWith('/slow') ? 3000 : 0,
          );
        }),
      ).url,
      slowPageRequested: () => new Promise<void>((resolve) => pageArrived.push(resolve)),
      hook: {
        status500: keep(await httpServer((_req, res) => res.writeHead(500).end('receiver broken'))).url,
        status429: keep(await httpServer((_req, res) => res.writeHead(429, { 'retry-after': '7' }).end('slow down')))
          .url,
        silent: keep(await httpServer(() => undefined)).url,
        redirect: '',
        redirectTarget: '',
        redirectTargetHits: 0,
      },
      run: (name) => daemon.engine.run(name),
      deleteFolder: async (user, folder) => {
        const admin = new ImapFlow({
          host: '127.0.0.1',
          port: mailLab?.imapPort ?? 0,
          secure: false,
          auth: { user, pass: USERS[user as keyof typeof USERS] },
          logger: false,
        });
        await admin.connect();
        try {
          await admin.mailboxDelete(folder);
        } finally {
          await admin.logout();
        }
      },
      createFolder: async (user, folder) => {
        const admin = new ImapFlow({
          host: '127.0.0.1',
          port: mailLab?.imapPort ?? 0,
          secure: false,
          auth: { user, pass: USERS[user as keyof typeof USERS] },
          logger: false,
        });
        await admin.connect();
        try {
          await admin.mailboxCreate(folder);
        } finally {
          await admin.logout();
        }
      },
      killChromium: () => {
        const pids = chromiumChildren();
        for (const pid of pids) process.kill(pid, 'SIGKILL');
        return pids;
      },
      outbox: async (channel) => {
        const body = (await (await fetch(`${daemon.url}/api/v1/alerts/outbox`)).json()) as {
          rows: Array<{
            channel: string;
            attempts: number;
            status: string;
            lastStatus: number | null;
            lastError: string | null;
            createdAt: number;
            nextAttemptAt: number;
          }>;
        };
        return body.rows.find((row) => row.channel === channel && row.attempts > 0);
      },
    };
    const target = keep(
      await httpServer((_req, res) => {
        env.hook.redirectTargetHits++;
        res.writeHead(200).end('ok');
      }),
    );
    env.hook.redirectTarget = `${target.url}/hook`;
    env.hook.redirect = keep(
      await httpServer((_req, res) => res.writeHead(302, { location: env.hook.redirectTarget }).end()),
    ).url;

    // One configuration as an operator would write it, loaded by the real loader.
    const probes = [
      { name: 'canary', kind: 'http', url: env.healthy, cron: NEVER, timeout: '5s' },
      ...FAULT_MATRIX.flatMap((row) => row.probes(env).map((probe) => ({ cron: NEVER, ...probe }))),
    ];
    const webhooks = FAULT_MATRIX.filter((row) => row.webhook);
    const config = {
      server: { listen: `127.0.0.1:${await freePort()}` },
      store: { path: join(temp.dir, 'scaiprobe.db') },
      probes,
      alerts: {
        channels: webhooks.map((row) => ({
          name: row.webhook?.channel ?? '',
          type: 'webhook',
          url: row.webhook?.url(env) ?? '',
          secret: '${FAULTS_WEBHOOK_SECRET}',
          timeout: row.webhook?.timeout ?? '5s',
        })),
        rules: webhooks.map((row) => ({
          name: `alert-${row.webhook?.channel}`,
          probes: [row.name],
          failures: 1,
          channels: [row.webhook?.channel ?? ''],
        })),
        // One attempt per notification during the test: the next is an hour away (unless a Retry-After says otherwise).
        delivery: { initialBackoff: '1h', maxBackoff: '1h' },
      },
    };
    const file = join(temp.dir, 'faults.yaml');
    await writeFile(file, stringify(config));
    const loaded = loadConfig(file, {
      FAULTS_ALICE_PASS: USERS.alice,
      FAULTS_BOB_PASS: USERS.bob,
      FAULTS_WRONG_PASS: 'not-the-password',
      FAULTS_FAKE_PASS: 'fake-imap-password',
      FAULTS_API_KEY: 'SG.lab-tenant-a.key',
      FAULTS_WRONG_API_KEY: 'SG.revoked-key',
      FAULTS_PDNS_KEY: 'faults-pdns-key',
      FAULTS_WRONG_PDNS_KEY: 'not-the-pdns-key',
      FAULTS_REDIS_PASSWORD: 'not-the-redis-password',
      FAULTS_WEBHOOK_SECRET: 'faults-webhook-secret',
    });
    daemon = await startDaemon(loaded, { clock: systemClock, logger: pino({ level: 'silent' }) });
  });

  after(async () => {
    await daemon?.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    for (const proc of processes) await proc.stop();
    await pdns?.stop();
    await mailLab?.stop();
    await temp?.remove();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUnhandled);
  });

  /** The daemon answers, still runs a healthy probe, stored the faulty run as judged, and nothing escaped. */
  const assertAlive = async (row: FaultRow, run: FinishedRun | undefined) => {
    const health = await fetch(`${daemon.url}/health`);
    assert.equal(health.status, 200, 'the daemon answers /health');
    const canary = await daemon.engine.run('canary');
    assert.equal(canary.status, 'pass', `the canary passes after the fault: ${canary.message}`);
    if (run) {
      const { runs } = (await (
        await fetch(`${daemon.url}/api/v1/probes/${encodeURIComponent(row.name)}/runs?limit=10`)
      ).json()) as { runs: Array<{ uid: string; status: RunStatus; error: { code: ErrorCode } | null }> };
      const stored = runs.find((candidate) => candidate.uid === run.uid);
      assert.deepEqual(
        { status: stored?.status, code: stored?.error?.code ?? null },
        { status: run.status, code: run.error?.code ?? null },
        'the run is stored as judged',
      );
    }
    assert.deepEqual(escaped, [], 'nothing escaped as an uncaught exception or unhandled rejection');
  };

  for (const row of FAULT_MATRIX) {
    const expected = row.webhook
      ? `outbox ${row.expect.status}`
      : `${row.expect.status}, ${row.expect.code ?? 'no error code'}`;
    test(`${row.kind}: ${row.fault} → ${expected}`, { timeout: row.timeoutMs ?? 60_000 }, async () => {
      await row.arrange?.(env);
      let run: FinishedRun | undefined;
      try {
        run = row.act ? await row.act(env) : await daemon.engine.run(row.name);
        await row.check(env, run);
      } finally {
        await row.restore?.(env);
      }
      await assertAlive(row, row.webhook ? undefined : run);
    });
  }
});
