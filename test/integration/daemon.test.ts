import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';

let scaidns: LabApp;
let dir: string;
let config: string;
let api: string;
const TOKEN = 'daemon-test-token-4242';

before(async () => {
  scaidns = createScaiDnsStandIn();
  const { url } = await scaidns.listen(0);
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  dir = mkdtempSync(join(tmpdir(), 'scaiprobe-daemon-'));
  config = join(dir, 'probes.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}", token: "\${DAEMON_TOKEN}" }
store: { path: "${join(dir, 'data', 'scaiprobe.db')}" }
probes:
  - { name: dns-ready, kind: http, url: "${url}/health/ready", every: 300ms, expect: [status == 200, json.checks.pdns == "ok"] }
  - { name: dns-live, kind: http, url: "${url}/health/live", every: 300ms }
`,
  );
});
after(() => scaidns.close());

const auth = { authorization: `Bearer ${TOKEN}` };
async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(`${api}${path}`, { headers: auth });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return (await response.json()) as T;
}

interface ProbesResponse {
  total: number;
  probes: Array<{ probe: string; status: string | null; message: string | null }>;
}

test('the daemon stores runs, serves /metrics and the API, stops on SIGTERM and keeps its runs across a restart', async () => {
  const first = startCli(['run', '--config', config], { DAEMON_TOKEN: TOKEN });
  let firstRunIds: number[];
  try {
    await waitFor('the daemon to be ready', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined));
    const probes = await waitFor('both probes to have run', async () => {
      const body = await getJson<ProbesResponse>('/api/v1/probes');
      return body.probes.every((p) => p.status === 'pass') ? body : undefined;
    });
    assert.equal(probes.total, 2);

    const unauthorised = await fetch(`${api}/api/v1/probes`);
    assert.equal(unauthorised.status, 401, 'the API needs the bearer token when server.token is set');
    assert.equal((await fetch(`${api}/health`)).status, 200, '/health stays public');

    const metrics = await (await fetch(`${api}/metrics`, { headers: auth })).text();
    assert.match(metrics, /scaiprobe_probe_success\{probe="dns-ready",kind="http"\} 1/);
    assert.match(metrics, /scaiprobe_probe_runs_total\{probe="dns-ready",kind="http",status="pass"\} \d+/);
    assert.match(metrics, /scaiprobe_probe_duration_seconds_bucket\{le="0.1",probe="dns-ready",kind="http"\} \d+/);

    scaidns.faults.failChecks = { pdns: 'connection refused' };
    const failing = await waitFor('the degraded check to show', async () => {
      const body = await getJson<ProbesResponse>('/api/v1/probes?status=fail');
      return body.probes.length === 1 ? body.probes[0] : undefined;
    });
    assert.equal(failing?.probe, 'dns-ready');
    assert.match(failing?.message ?? '', /pdns: connection refused/);
    delete scaidns.faults.failChecks;

    const runs = await getJson<{ runs: Array<{ id: number; status: string; assertions: unknown[] }> }>(
      '/api/v1/probes/dns-ready/runs?since=10m',
    );
    assert.ok(runs.runs.some((r) => r.status === 'fail') && runs.runs.some((r) => r.status === 'pass'));
    firstRunIds = runs.runs.map((r) => r.id);
    const summaries = await getJson<{ runs: Array<Record<string, unknown>> }>(
      '/api/v1/probes/dns-ready/runs?since=10m&fields=summary',
    );
    assert.deepEqual(
      summaries.runs.map((r) => [r.id, r.status]),
      runs.runs.map((r) => [r.id, r.status]),
      'the same runs, in the same order',
    );
    assert.ok(
      summaries.runs.every((r) => !('observations' in r) && !('message' in r) && typeof r.durationMs === 'number'),
    );
    assert.equal((await fetch(`${api}/api/v1/probes/dns-ready/runs?fields=everything`, { headers: auth })).status, 400);
    const changes = await getJson<{ changes: Array<{ probe: string; from: string | null; to: string }> }>(
      '/api/v1/state-changes?probe=dns-ready',
    );
    assert.ok(changes.changes.some((c) => c.from === 'pass' && c.to === 'fail'));
  } finally {
    first.child.kill('SIGTERM');
  }
  assert.equal(await first.exited, 0, first.output());
  assert.match(first.output(), /scaiprobe stopped/);
  assert.ok(!first.output().includes(TOKEN), 'the token never reaches the logs');
  assert.ok(existsSync(join(dir, 'data', 'scaiprobe.db')));

  const before = await (async () => {
    const second = startCli(['run', '--config', config], { DAEMON_TOKEN: TOKEN });
    try {
      await waitFor('the restarted daemon', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined));
      return await getJson<{ runs: Array<{ id: number }> }>('/api/v1/probes/dns-ready/runs?limit=10000');
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    }
  })();
  const kept = new Set(before.runs.map((r) => r.id));
  assert.ok(firstRunIds.length >= 2);
  assert.deepEqual(
    firstRunIds.filter((id) => !kept.has(id)),
    [],
    'every run of the first start is still there after the restart',
  );
});

test('SIGTERM lets a run in flight finish at its deadline and stores it', async () => {
  const slow = createScaiDnsStandIn();
  const { url } = await slow.listen(0);
  slow.faults.latencyMs = 1500;
  const port = await freePort();
  const slowDir = mkdtempSync(join(tmpdir(), 'scaiprobe-daemon-slow-'));
  const slowConfig = join(slowDir, 'probes.yaml');
  const db = join(slowDir, 'probe.db');
  writeFileSync(
    slowConfig,
    `server: { listen: "127.0.0.1:${port}" }\nstore: { path: "${db}" }\nprobes:\n  - { name: slow, kind: http, url: "${url}/health/live", every: 100ms, timeout: 1s }\n`,
  );
  const daemon = startCli(['run', '--config', slowConfig]);
  try {
    await waitFor('the daemon', async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).ok ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    daemon.child.kill('SIGTERM');
  }
  const stoppedAt = Date.now();
  assert.equal(await daemon.exited, 0, daemon.output());
  assert.ok(Date.now() - stoppedAt < 2500, 'the daemon did not wait longer than the run deadline');
  await slow.close();
  const { default: Database } = await import('better-sqlite3');
  const rows = new Database(db, { readonly: true })
    .prepare('SELECT status, error_code FROM runs WHERE probe = ?')
    .all('slow') as Array<{ status: string; error_code: string }>;
  assert.equal(rows.length, 1, 'the run in flight at SIGTERM was stored');
  assert.equal(rows[0]?.error_code, 'TIMEOUT');
});
