import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';
import { rawRequest } from '../helpers/raw-http.ts';

const ADMIN = 'hostility-admin-token-0001';
const TENANT = 'hostility-tenant-token-002';

function rssBytes(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
}

/** The hostile requests, each built from a counter so the mix is the same on every run. */
function hostileRequest(i: number, port: number): string | string[] {
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const junk = (n: number) => String.fromCharCode(33 + ((i * 7 + n) % 90)).repeat(1 + (n % 5));
  const kinds: Array<() => string | string[]> = [
    () => `GET /%${junk(1)} HTTP/1.1\r\n${host}\r\n`,
    () => `GET /api/v1/probes/%E0%A4%A${i % 10} HTTP/1.1\r\n${host}\r\n`,
    () => `GET http://[${i} HTTP/1.1\r\n${host}\r\n`,
    () => `GET //evil.example/${i} HTTP/1.1\r\n${host}\r\n`,
    () => `GET /api/v1/probes HTTP/1.1\r\nHost: rebind-${i}.attacker.example\r\n\r\n`,
    () => `GET /api/v1/probes HTTP/1.1\r\n${host}Authorization: Bearer wrong-${i}-token-000000\r\n\r\n`,
    () => `GET /api/v1/alerts HTTP/1.1\r\n${host}Authorization: Bearer ${TENANT}\r\n\r\n`,
    () => `GET /metrics HTTP/1.1\r\n${host}Authorization: Basic ${Buffer.from(`a:${i}`).toString('base64')}\r\n\r\n`,
    () => `GET /health HTTP/1.1\r\n${host}X-Big: ${'h'.repeat(17_000 + (i % 100))}\r\n\r\n`,
    () => `GET /health HTTP/1.1\r\n${host}${Array.from({ length: 300 }, (_, n) => `X-H${n}: ${n}\r\n`).join('')}\r\n`,
    () => `POST /api/v1/probes HTTP/1.1\r\n${host}Content-Length: ${10_000_000 + i}\r\n\r\npartial`,
    () => [
      `POST /health HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\n`,
      ...Array.from({ length: 20 }, () => `400\r\n${'b'.repeat(1024)}\r\n`),
    ],
    () => `GET /health HTTP/1.1\r\n${host}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
    () => `GET /health HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
    () => `${junk(3)} ${junk(4)} ${junk(5)}\r\n\r\n`,
    () =>
      `GET /api/v1/tenants/acme/report?format=pdf&since=${junk(6)} HTTP/1.1\r\n${host}Authorization: Bearer ${TENANT}\r\n\r\n`,
    () => `GET /api/v1/probes/${'%2e%2e%2f'.repeat(50)}etc HTTP/1.1\r\n${host}Authorization: Bearer ${ADMIN}\r\n\r\n`,
    () =>
      `GET /api/v1/probes?limit=${'9'.repeat(400)}&offset=-1&since=${junk(2)} HTTP/1.1\r\n${host}Authorization: Bearer ${ADMIN}\r\n\r\n`,
    () => `GET /api/v1/state-changes?since=%ZZ HTTP/1.1\r\n${host}Authorization: Bearer ${ADMIN}\r\n\r\n`,
    () => `GET /\u00ff\u0000 HTTP/1.1\r\n${host}\r\n`,
    () => `DELETE /api/v1/probes/x HTTP/1.1\r\n${host}Authorization: Bearer ${ADMIN}\r\n\r\n`,
    () => `GET /health HTTP/9.9\r\n${host}\r\n`,
    () => `GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n`,
    () => `GET /health HTTP/1.1\r\n${host}Bad Header Name: x\r\n\r\n`,
  ];
  return kinds[i % kinds.length]!();
}

/** Connections that send a header byte now and then and never finish: each must be closed by the daemon. */
function slowloris(port: number, count: number, everyMs: number, giveUpMs: number): Promise<number> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          const drip = setInterval(() => socket.writable && socket.write('a'), everyMs);
          const end = (closedByServer: boolean) => {
            clearInterval(drip);
            clearTimeout(giveUp);
            socket.destroy();
            resolve(closedByServer);
          };
          const giveUp = setTimeout(() => end(false), giveUpMs);
          socket.on('connect', () => socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `));
          // Read (and drop) the 408, or the socket never sees the server's end.
          socket.resume();
          socket.on('close', () => end(true));
          socket.on('error', () => undefined);
        }),
    ),
  ).then((closed) => closed.filter(Boolean).length);
}

async function barrage(port: number, from: number, count: number, concurrency: number): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < from + count) {
        const i = next;
        next += 1;
        const answer = await rawRequest(port, hostileRequest(i, port), { timeoutMs: 4000 });
        const key = String(answer.status ?? 'closed');
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
      }
    }),
  );
  return statuses;
}

test('10,000 hostile requests: the daemon keeps serving, its memory stays flat, nothing is stored or notified', async (t) => {
  const dir = await makeTempDir('scaiprobe-hostility-');
  const notified: string[] = [];
  const receiver = createServer((req, res) => {
    notified.push(req.url ?? '');
    res.writeHead(200).end();
  });
  const receiverPort = await freePort();
  await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
  const port = await freePort();
  const db = join(dir.dir, 'hostility.db');
  const config = join(dir.dir, 'config.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}", token: "\${H_ADMIN}", headersTimeout: 1s, requestTimeout: 2s, maxEventClients: 5 }
store: { path: "${db}" }
log: { level: warn }
reports:
  tenants:
    acme: { token: "\${H_TENANT}" }
alerts:
  channels:
    - { name: hook, type: webhook, url: "http://127.0.0.1:${receiverPort}/hook", secret: "\${H_SECRET}" }
  rules:
    - { name: any-failure, probes: ['*'], failures: 1, window: 1, channels: [hook] }
probes: []
`,
  );
  const daemon = startCli(['run', '--config', config], {
    H_ADMIN: ADMIN,
    H_TENANT: TENANT,
    H_SECRET: 'hostility-webhook-secret',
  });
  try {
    await waitFor('the daemon', async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).ok ? true : undefined));
    const pid = daemon.child.pid!;
    // Warm up with the same mix, so "before" is the daemon at its working size (V8 grows its heap
    // over the first few thousand requests, then holds), not the size it starts at.
    await barrage(port, 0, 8000, 64);
    const samples: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      await new Promise((r) => setTimeout(r, 250));
      samples.push(rssBytes(pid));
    }
    const before = samples.sort((a, b) => a - b)[2]!;

    const [statuses, slowClosed] = await Promise.all([
      barrage(port, 8000, 10_000, 64),
      slowloris(port, 40, 300, 20_000),
    ]);
    const answered = [...statuses.entries()].reduce((sum, [, n]) => sum + n, 0);
    assert.equal(answered, 10_000);
    assert.equal(slowClosed, 40, 'every slow client was closed by the daemon before the test gave up');
    assert.equal(statuses.get('500') ?? 0, 0, `no request made the daemon fail: ${JSON.stringify([...statuses])}`);
    for (const expected of ['400', '401', '403', '404', '405', '413', '421', '431'])
      assert.ok((statuses.get(expected) ?? 0) > 0, `some requests got ${expected}: ${JSON.stringify([...statuses])}`);

    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    assert.equal(daemon.child.exitCode, null, 'the daemon is still running');
    // The smallest of a few samples: the heap after the barrage, not a collection that has yet to run.
    let after = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 12; i += 1) {
      await new Promise((r) => setTimeout(r, 250));
      after = Math.min(after, rssBytes(pid));
    }
    t.diagnostic(
      `RSS ${(before / 1e6).toFixed(1)} MB before, ${(after / 1e6).toFixed(1)} MB after; answers ${JSON.stringify(Object.fromEntries(statuses))}; slow clients closed ${slowClosed}/40`,
    );
    assert.ok(after <= before * 1.1, `RSS ${Math.round(before / 1e6)} MB before, ${Math.round(after / 1e6)} MB after`);

    const counts = (await (
      await fetch(`http://127.0.0.1:${port}/api/v1/alerts`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { alerts: unknown[]; outbox: { recent: unknown[] } };
    assert.deepEqual(counts.alerts, []);
    assert.deepEqual(counts.outbox.recent, []);
    const runs = (await (
      await fetch(`http://127.0.0.1:${port}/api/v1/state-changes`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { changes: unknown[] };
    assert.deepEqual(runs.changes, []);
    assert.deepEqual(notified, []);
    assert.ok(!daemon.output().includes(ADMIN) && !daemon.output().includes(TENANT), 'no token reached the logs');
  } finally {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await new Promise((resolve) => receiver.close(resolve));
  }
  try {
    const { default: Database } = await import('better-sqlite3');
    const stored = new Database(db, { readonly: true });
    for (const table of ['runs', 'state_changes', 'alert_outbox', 'alerts', 'run_items']) {
      assert.equal(
        (stored.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
        0,
        `nothing was stored in ${table}`,
      );
    }
    stored.close();
  } finally {
    await dir.remove();
  }
});
