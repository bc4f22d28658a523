import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';

/**
 * A probe removed from the configuration (or disabled) between two starts of
 * the daemon: it leaves the status page, the API listings and the indicators;
 * its firing alerts resolve once, with the reason; its history stays.
 */
const servers: Server[] = [];
const received: Array<{ type: string; target: string; summary: string }> = [];
let dir: string;
let target: string;
let hook: string;

function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scaiprobe-removed-'));
  target = await listen((req, res) =>
    res.writeHead(req.url === '/ready' ? 503 : 200, { 'content-type': 'application/json' }).end('{}'),
  );
  hook = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      received.push({ type: body.type, target: body.alert.target, summary: body.alert.summary });
      res.writeHead(204).end();
    });
  });
});
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

function config(port: number, probes: string): string {
  const file = join(dir, `probes-${port}-${probes.length}.yaml`);
  writeFileSync(
    file,
    `server: { listen: "127.0.0.1:${port}" }
store: { path: "${join(dir, 'scaiprobe.db')}" }
indicators: { thresholds: { readinessFailing: 300ms } }
alerts:
  channels: [{ name: hook, type: webhook, url: "${hook}/hook" }]
  rules:
    - { name: probe-failing, probes: ['*'], successes: 1 }
    - { name: readiness, indicators: ['readiness:*'], successes: 1 }
probes:
${probes}`,
  );
  return file;
}

async function withDaemon<T>(file: string, api: string, body: () => Promise<T>): Promise<T> {
  const daemon = startCli(['run', '--config', file]);
  try {
    await waitFor('the daemon to be ready', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined));
    return await body();
  } finally {
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0, daemon.output());
  }
}

const getJson = async <T>(url: string): Promise<T> => {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return (await response.json()) as T;
};
const firing = () => [...new Set(received.filter((e) => e.type === 'alert.firing').map((e) => e.target))].sort();
const sorted = (events: typeof received, type: string) =>
  events
    .filter((e) => e.type === type)
    .map((e) => `${e.target}: ${e.summary}`)
    .sort();

test('removed and disabled probes leave the listings and indicators, resolve their alerts once, keep their history', async () => {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const live = `  - { name: live, kind: http, url: "${target}/live", every: 200ms }\n`;
  const ready = (name: string, extra = '') =>
    `  - { name: ${name}, kind: http, url: "${target}/ready", every: 200ms${extra} }\n`;

  await withDaemon(config(port, live + ready('stale-ready') + ready('paused')), api, async () => {
    await waitFor('both failing probes and their readiness indicators to fire', async () =>
      firing().length === 4 ? true : undefined,
    );
  });
  assert.deepEqual(firing(), ['paused', 'readiness:paused', 'readiness:stale-ready', 'stale-ready']);
  received.length = 0;

  const second = config(port, live + ready('paused', ', enabled: false'));
  await withDaemon(second, api, async () => {
    await waitFor('four resolutions', async () => (received.length >= 4 ? true : undefined));
    const status = await getJson<{ total: number; probes: Array<{ probe: string }> }>(`${api}/api/v1/status`);
    assert.deepEqual(
      status.probes.map((p) => p.probe),
      ['live'],
    );
    const listed = await getJson<{ total: number; probes: Array<{ probe: string }> }>(`${api}/api/v1/probes`);
    assert.deepEqual(
      listed.probes.map((p) => p.probe),
      ['live'],
    );
    const all = await getJson<{ probes: Array<{ probe: string; removedAt: number | null; status: string }> }>(
      `${api}/api/v1/probes?all=1`,
    );
    assert.deepEqual(
      all.probes.map((p) => [p.probe, p.removedAt !== null]),
      [
        ['live', false],
        ['paused', true],
        ['stale-ready', true],
      ],
    );
    const runs = await getJson<{ runs: Array<{ status: string }> }>(`${api}/api/v1/probes/stale-ready/runs`);
    assert.ok(
      runs.runs.length >= 1 && runs.runs.every((r) => r.status === 'fail'),
      "the removed probe's runs are still there",
    );
    assert.equal((await fetch(`${api}/api/v1/probes/paused`)).status, 200);
    const indicators = await getJson<{ indicators: Array<{ id: string }> }>(`${api}/api/v1/indicators`);
    assert.deepEqual(
      indicators.indicators.map((i) => i.id).filter((id) => id.startsWith('readiness:')),
      [],
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });
  assert.deepEqual(
    received.map((e) => e.type),
    ['alert.resolved', 'alert.resolved', 'alert.resolved', 'alert.resolved'],
  );
  assert.deepEqual(sorted(received, 'alert.resolved'), [
    'paused: probe removed from the configuration',
    'readiness:paused: probe removed from the configuration',
    'readiness:stale-ready: probe removed from the configuration',
    'stale-ready: probe removed from the configuration',
  ]);
  received.length = 0;

  await withDaemon(second, api, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });
  assert.deepEqual(received, [], 'resolved once: a later start sends nothing more');
});
