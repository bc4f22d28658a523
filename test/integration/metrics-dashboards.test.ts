import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';
import { startTestMailLab, type TestMailLab } from '../helpers/mail-lab.ts';
import { startPrometheus, type PrivatePrometheus } from '../helpers/prometheus-server.ts';
import { dashboardQueries, metricNames, sampledNames } from '../helpers/promql.ts';

const DASHBOARD = resolve('deploy/grafana/scaiprobe.json');
const RULES = resolve('deploy/prometheus/scaiprobe-rules.yml');

let lab: TestMailLab;
let temp: { dir: string; remove(): Promise<void> };
let receiver: Server;
let daemon: ReturnType<typeof startCli> | undefined;
let prometheus: PrivatePrometheus | undefined;
let api: string;

/** A daemon with passing and failing http probes, a mail probe with two seeds, and a webhook channel whose receiver answers 503. */
before(async () => {
  lab = await startTestMailLab();
  temp = await makeTempDir('scaiprobe-metrics-');
  receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(503).end()));
  await new Promise<void>((ready) => receiver.listen(0, '127.0.0.1', ready));
  const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  const port = await freePort();
  const closed = await freePort();
  api = `http://127.0.0.1:${port}`;
  const config = join(temp.dir, 'probes.yaml');
  const seed = (name: string, user: string, variable: string) =>
    `      - { name: ${name}, address: ${user}@example.test, authservId: mx.example.test, imap: { host: 127.0.0.1, port: ${lab.imapPort}, secure: false, user: ${user}, pass: "\${${variable}}" } }`;
  writeFileSync(
    config,
    [
      `server: { listen: "127.0.0.1:${port}" }`,
      `store: { path: "${join(temp.dir, 'scaiprobe.db')}" }`,
      'probes:',
      `  - { name: api-ready, kind: http, url: "${lab.apiUrl}/ready", every: 1s }`,
      `  - { name: closed-port, kind: http, url: "http://127.0.0.1:${closed}/", every: 1s, timeout: 1s }`,
      '  - name: mail-roundtrip',
      '    kind: mail',
      '    tenant: tenant-a',
      '    every: 3s',
      '    timeout: 10s',
      `    send: { api: "${lab.apiUrl}", apiKey: "\${API_KEY}", from: probe@send.example.test }`,
      `    resolver: "${lab.dnsServer}"`,
      '    seeds:',
      seed('seed-a', 'alice', 'ALICE_PASS'),
      seed('seed-b', 'bob', 'BOB_PASS'),
      'alerts:',
      `  channels: [{ name: ops, type: webhook, url: "${hook}" }]`,
      '  rules: [{ name: probe-failing, probes: ["*"], for: 0s }]',
      '  delivery: { initialBackoff: 1s, maxBackoff: 2s }',
      '',
    ].join('\n'),
  );
  daemon = startCli(['run', '--config', config], {
    API_KEY: 'SG.lab-tenant-a.key',
    ALICE_PASS: 'alicepw',
    BOB_PASS: 'bobpw',
  });
  await waitFor(
    'the mail probe and the failing probe to have run',
    async () => {
      const body = (await (await fetch(`${api}/api/v1/probes`)).json()) as {
        probes: Array<{ probe: string; status: string | null }>;
      };
      const status = (name: string) => body.probes.find((p) => p.probe === name)?.status;
      return status('mail-roundtrip') === 'pass' && status('closed-port') === 'fail' ? true : undefined;
    },
    60_000,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${daemon?.output()}`);
  });
});

after(async () => {
  await prometheus?.stop();
  if (daemon) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  await new Promise((done) => receiver?.close(done));
  await lab?.stop();
  await temp?.remove();
});

async function scrape(): Promise<string> {
  const response = await fetch(`${api}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

test('promtool check metrics finds nothing to say about /metrics', async () => {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(), encoding: 'utf8' });
  assert.equal(result.error, undefined, 'promtool runs (Debian package prometheus, installed by npm run setup)');
  assert.equal(`${result.stdout}${result.stderr}`, '', 'promtool prints nothing');
  assert.equal(result.status, 0);
});

test('process and Node.js metrics keep their standard names, labelled series exist for every family of ours', async () => {
  const text = await scrape();
  const names = sampledNames(text);
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
    'nodejs_eventloop_lag_p99_seconds',
    'nodejs_heap_size_used_bytes',
  ])
    assert.ok(names.has(name), `${name} is served`);
  assert.doesNotMatch(text, /scaiprobe_process_/);
  assert.match(
    text,
    /scaiprobe_mail_placement\{probe="mail-roundtrip",seed="seed-a",provider="[^"]+",placement="inbox"\} 1/,
  );
  assert.match(
    text,
    /scaiprobe_mail_time_to_inbox_seconds\{probe="mail-roundtrip",seed="seed-b",provider="[^"]+"\} \d/,
  );
  assert.match(text, /scaiprobe_indicator_threshold\{[^}]*level="critical"\} \d/);
  assert.match(text, /scaiprobe_alert_outbox_pending\{channel="ops"\} \d/);
});

test('every metric the Grafana dashboard queries is served by a running daemon', async () => {
  const queries = dashboardQueries(JSON.parse(readFileSync(DASHBOARD, 'utf8')));
  assert.ok(queries.length >= 20, `the dashboard has its panels (${queries.length} queries)`);
  const served = sampledNames(
    await waitFor('a failed notification attempt to be counted', async () => {
      const text = await scrape();
      return /scaiprobe_alert_outbox_oldest_pending_seconds\{channel="ops"\} [1-9]/.test(text) ? text : undefined;
    }),
  );
  const used = [...new Set(queries.flatMap(metricNames))];
  assert.ok(used.length >= 15, `queries read many metrics: ${used.join(', ')}`);
  assert.deepEqual(
    used.filter((name) => !served.has(name)),
    [],
    'metrics the dashboard reads that the daemon does not serve',
  );
});

test('a real Prometheus answers every dashboard query with data and evaluates the shipped rules', async () => {
  prometheus = await startPrometheus(temp.dir, api.replace('http://', ''), { ruleFiles: [RULES], job: 'scaiprobe' });
  const running = prometheus;
  // Grafana's variables, as "All" and a short rate window.
  const concrete = (expr: string) =>
    expr.replaceAll('$__rate_interval', '20s').replace(/\$(probe|kind|indicator)\b/g, '.*');
  const queries = dashboardQueries(JSON.parse(readFileSync(DASHBOARD, 'utf8'))).map(concrete);
  const empty = await waitFor(
    'every dashboard query to return series',
    async () => {
      const missing: string[] = [];
      for (const query of queries) if ((await running.vector(query, Date.now())).length === 0) missing.push(query);
      return missing.length === 0 ? missing : undefined;
    },
    45_000,
  ).catch(async () => {
    const missing: string[] = [];
    for (const query of queries) if ((await running.vector(query, Date.now())).length === 0) missing.push(query);
    return missing;
  });
  assert.deepEqual(empty, [], 'dashboard queries without data');

  const rules = await waitFor('every rule evaluated', async () => {
    const body = (await (await fetch(`${running.url}/api/v1/rules`)).json()) as {
      data: {
        groups: Array<{
          rules: Array<{
            name: string;
            health: string;
            lastError?: string;
            state?: string;
            alerts?: Array<{ labels: Record<string, string> }>;
          }>;
        }>;
      };
    };
    const all = body.data.groups.flatMap((group) => group.rules);
    return all.length > 0 && all.every((rule) => rule.health !== 'unknown') ? all : undefined;
  });
  assert.deepEqual(
    rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`),
    [],
    'rules that fail to evaluate',
  );
  const failing = rules.find((rule) => rule.name === 'ScaiprobeProbeFailing');
  assert.deepEqual(
    failing?.alerts?.map((alert) => alert.labels.probe),
    ['closed-port'],
    'the failing probe is pending in Prometheus',
  );
  const recorded = await waitFor('a recording rule to produce a series', async () => {
    const series = await running.vector(
      'probe_kind:scaiprobe_probe_runs:success_ratio_rate1h{probe="closed-port"}',
      Date.now(),
    );
    return series.length > 0 ? series : undefined;
  });
  assert.equal(Number(recorded[0]?.value[1]), 0, 'no run of the failing probe passed');
});

test('promtool checks the shipped rules and their unit tests pass', () => {
  const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  assert.match(check.stdout, /SUCCESS: \d+ rules found/);
  const unit = spawnSync('promtool', ['test', 'rules', 'scaiprobe-rules.test.yml'], {
    cwd: resolve('deploy/prometheus'),
    encoding: 'utf8',
  });
  assert.equal(unit.status, 0, `${unit.stdout}${unit.stderr}`);
});
