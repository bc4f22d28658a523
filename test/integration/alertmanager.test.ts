import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';
import { ALERTMANAGER_PASSWORD, startAlertmanager, type PrivateAlertmanager } from '../helpers/alertmanager-server.ts';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  status: { state: string };
}
interface Notified {
  status: string;
  groupLabels: Record<string, string>;
  alerts: Array<{ status: string; labels: Record<string, string>; endsAt: string }>;
}
interface OutboxRows {
  rows: Array<{ channel: string; event: string; status: string; lastStatus: number | null }>;
}

const WRONG_PASSWORD = 'not-the-alertmanager-password';
let temp: { dir: string; remove(): Promise<void> };
let alertmanager: PrivateAlertmanager;
let target: Server;
let capture: Server;
let broken = true;
const notified: Notified[] = [];
let daemon: ReturnType<typeof startCli>;
let api: string;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

before(async () => {
  temp = await makeTempDir('scaiprobe-alertmanager-');
  // What the probes check: 500 while `broken`, else 200.
  target = createServer((_req, res) => res.writeHead(broken ? 500 : 200).end(broken ? 'down' : 'ok'));
  // Alertmanager's own receiver: every group notification it sends.
  capture = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      notified.push(JSON.parse(body) as Notified);
      res.writeHead(200).end();
    });
  });
  const targetUrl = await listen(target);
  alertmanager = await startAlertmanager(temp.dir, `${await listen(capture)}/`);
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const config = join(temp.dir, 'probes.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }
store: { path: "${join(temp.dir, 'scaiprobe.db')}" }
probes:
  - { name: web-a, kind: http, tenant: tenant-a, url: "${targetUrl}/a", every: 300ms }
  - { name: web-b, kind: http, tenant: tenant-a, url: "${targetUrl}/b", every: 300ms }
alerts:
  channels:
    - name: am
      type: alertmanager
      url: ${alertmanager.url}
      basicAuth: { username: scaiprobe, password: "\${AM_PASSWORD}" }
      resend: 1s
      labels: { team: mail-ops }
    - { name: am-wrong-password, type: alertmanager, url: "${alertmanager.url}", basicAuth: { username: scaiprobe, password: "\${AM_WRONG_PASSWORD}" } }
  rules:
    - name: web-failing
      probes: ['web-*']
      successes: 1
      severity: warning
      description: The web front answers with errors.
      runbook: https://runbooks.example.com/web-failing
  delivery: { initialBackoff: 200ms, maxBackoff: 1s, clientErrorAttempts: 2 }
`,
  );
  daemon = startCli(['run', '--config', config], {
    AM_PASSWORD: ALERTMANAGER_PASSWORD,
    AM_WRONG_PASSWORD: WRONG_PASSWORD,
  });
  await waitFor('the daemon', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined)).catch(
    (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${daemon.output()}`);
    },
  );
});

after(async () => {
  daemon?.child.kill('SIGTERM');
  await daemon?.exited;
  await alertmanager?.stop();
  await new Promise((done) => target?.close(done));
  await new Promise((done) => capture?.close(done));
  await temp?.remove();
});

const activeAlerts = () => alertmanager.get<AmAlert[]>('/api/v2/alerts?filter=alertname%3D%22web-failing%22');

test('a firing rule appears in Alertmanager with its labels and annotations, grouped, kept alive by re-posts, and resolves', async () => {
  const firing = await waitFor('both probes to fire in Alertmanager', async () => {
    const alerts = await activeAlerts();
    return alerts.length === 2 ? alerts.sort((a, b) => a.labels.probe!.localeCompare(b.labels.probe!)) : undefined;
  });
  assert.deepEqual(firing[0]?.labels, {
    alertname: 'web-failing',
    probe: 'web-a',
    kind: 'http',
    tenant: 'tenant-a',
    severity: 'warning',
    team: 'mail-ops',
  });
  assert.equal(firing[1]?.labels.probe, 'web-b');
  assert.match(firing[0]?.annotations.summary ?? '', /500/, 'the summary is the run message');
  assert.equal(firing[0]?.annotations.description, 'The web front answers with errors.');
  assert.equal(firing[0]?.annotations.runbook_url, 'https://runbooks.example.com/web-failing');
  assert.equal(firing[0]?.status.state, 'active');

  const groups =
    await alertmanager.get<Array<{ labels: Record<string, string>; alerts: AmAlert[] }>>('/api/v2/alerts/groups');
  assert.deepEqual(
    groups.map((group) => [group.labels, group.alerts.length]),
    [[{ alertname: 'web-failing' }, 2]],
    'one group by alertname holds both',
  );
  const grouped = await waitFor('Alertmanager to notify the group with both alerts', async () =>
    notified.find((n) => n.status === 'firing' && n.alerts.length === 2),
  );
  assert.deepEqual(grouped.groupLabels, { alertname: 'web-failing' });

  // Each post is valid for 4 re-post intervals (4 s): without re-posts they would have resolved by now.
  const startedAt = firing[0]?.startsAt;
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const still = await activeAlerts();
  assert.equal(still.length, 2, 'still firing in Alertmanager after more than 4 re-post intervals');
  assert.equal(
    still.find((a) => a.labels.probe === 'web-a')?.startsAt,
    startedAt,
    'a re-post keeps the alert, with its start',
  );
  assert.ok(Date.parse(still[0]?.updatedAt ?? '') > Date.parse(firing[0]?.updatedAt ?? ''), 're-posted since');
  assert.ok(!notified.some((n) => n.status === 'resolved'), 'nothing resolved while firing');
  const refreshes = (await (await fetch(`${api}/api/v1/alerts/outbox?status=delivered`)).json()) as OutboxRows;
  assert.ok(
    refreshes.rows.filter((r) => r.channel === 'am' && r.event === 'refresh').length >= 4,
    're-posts go through the outbox',
  );

  broken = false;
  await waitFor('the alerts to leave Alertmanager', async () =>
    (await activeAlerts()).length === 0 ? true : undefined,
  );
  const resolved = await waitFor('Alertmanager to notify the resolution', async () =>
    notified.find((n) => n.status === 'resolved'),
  );
  assert.deepEqual(resolved.groupLabels, { alertname: 'web-failing' });
  const seen = new Set(
    notified.filter((n) => n.status === 'resolved').flatMap((n) => n.alerts.map((a) => a.labels.probe)),
  );
  assert.deepEqual([...seen].sort(), ['web-a', 'web-b']);
  for (const alert of notified.filter((n) => n.status === 'resolved').flatMap((n) => n.alerts)) {
    assert.equal(alert.status, 'resolved');
    assert.ok(Date.parse(alert.endsAt) <= Date.now(), 'endsAt is in the past');
  }
});

test('a channel with a wrong password fails on its own, and credentials reach neither the database nor the logs', async () => {
  const failed = await waitFor('the wrong-password rows to fail', async () => {
    const body = (await (await fetch(`${api}/api/v1/alerts/outbox?status=failed`)).json()) as OutboxRows;
    const rows = body.rows.filter((r) => r.channel === 'am-wrong-password');
    return rows.length > 0 ? rows : undefined;
  });
  assert.ok(
    failed.every((r) => r.lastStatus === 401),
    'Alertmanager refused the wrong password',
  );
  const delivered = (await (await fetch(`${api}/api/v1/alerts/outbox?status=delivered`)).json()) as OutboxRows;
  assert.ok(
    delivered.rows.some((r) => r.channel === 'am' && r.event === 'resolved'),
    'the other channel delivered its resolutions',
  );

  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0, daemon.output());
  for (const file of readdirSync(temp.dir).filter((name) => name.startsWith('scaiprobe.db'))) {
    const bytes = readFileSync(join(temp.dir, file)).toString('latin1');
    for (const secret of [
      ALERTMANAGER_PASSWORD,
      WRONG_PASSWORD,
      Buffer.from(`scaiprobe:${ALERTMANAGER_PASSWORD}`).toString('base64'),
    ]) {
      assert.ok(!bytes.includes(secret), `${file} holds no credential`);
    }
  }
  assert.ok(
    !daemon.output().includes(ALERTMANAGER_PASSWORD) && !daemon.output().includes(WRONG_PASSWORD),
    'the logs hold no credential',
  );
});
