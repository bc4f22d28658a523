import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort } from '../../src/lab/processes.ts';
import { runYaml } from '../helpers/run.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { systemClock } from '../../src/util/clock.ts';

let scaisend: LabApp;
let scaidns: LabApp;
let sendUrl: string;
let dnsUrl: string;
const httpsServers: Server[] = [];

before(async () => {
  scaisend = createScaiSendStandIn();
  scaidns = createScaiDnsStandIn();
  sendUrl = (await scaisend.listen(0)).url;
  dnsUrl = (await scaidns.listen(0)).url;
});
after(async () => {
  await scaisend.close();
  await scaidns.close();
  for (const server of httpsServers) server.close();
});
beforeEach(() => {
  for (const app of [scaisend, scaidns]) for (const key of Object.keys(app.faults)) delete app.faults[key];
});

const tls = (name: string) => readFileSync(`test/fixtures/tls/${name}`, 'utf8');

async function httpsServer(cert: string): Promise<string> {
  const server = createHttpsServer({ cert: tls(cert), key: tls('server-key.pem') }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  httpsServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("the foundation issue's example config passes against the healthy stand-ins", async () => {
  const results = await runYaml(`probes:
  - name: scaisend-ready
    kind: http
    url: ${sendUrl}/ready
    every: 30s
    timeout: 5s
    expect:
      - status == 200
      - json.status == "ready"
      - latency < 200ms
  - name: scaidns-ready
    kind: http
    url: ${dnsUrl}/health/ready
    cron: "*/1 * * * *"
    expect:
      - status == 200
      - json.checks.pdns == "ok"
`);
  for (const run of results.values()) {
    assert.equal(run.status, 'pass', run.message);
    assert.equal(
      run.assertions.every((a) => a.ok),
      true,
    );
  }
  const ready = results.get('scaisend-ready');
  assert.equal(ready?.observations['json.status'], 'ready');
  assert.equal(typeof ready?.observations['latency.connect'], 'number');
  assert.equal(typeof ready?.phases.firstByte, 'number');
});

test('503 degraded: the run fails and its message names the failing check and its reason', async () => {
  scaidns.faults.failChecks = { pdns: 'connection refused' };
  const run = (
    await runYaml(
      `probes:\n  - { name: r, kind: http, url: "${dnsUrl}/health/ready", expect: [status == 200, json.checks.pdns == "ok"] }\n`,
    )
  ).get('r');
  assert.equal(run?.status, 'fail');
  assert.equal(run?.observations.status, 503);
  assert.match(run?.message ?? '', /degraded: pdns: connection refused/);
  assert.match(run?.message ?? '', /failed: status == 200 \(actual: 503\)/);
  assert.equal(run?.error, null, 'a degraded answer is a measurement, not a failure to measure');
});

test('connection refused is a CONNECT error', async () => {
  const port = await freePort();
  const run = (await runYaml(`probes:\n  - { name: r, kind: http, url: "http://127.0.0.1:${port}/ready" }\n`)).get('r');
  assert.equal(run?.status, 'fail');
  assert.equal(run?.error?.code, 'CONNECT');
  assert.match(run?.message ?? '', /ECONNREFUSED/);
});

test('a target slower than the timeout is a TIMEOUT that ends at the deadline', async () => {
  scaisend.faults.latencyMs = 3000;
  const started = Date.now();
  const run = (await runYaml(`probes:\n  - { name: r, kind: http, url: "${sendUrl}/ready", timeout: 300ms }\n`)).get(
    'r',
  );
  const elapsed = Date.now() - started;
  assert.equal(run?.error?.code, 'TIMEOUT');
  assert.ok(elapsed < 1500, `the run ended ${elapsed}ms after it started`);
  assert.ok((run?.durationMs ?? 0) >= 290 && (run?.durationMs ?? 0) < 1000, `duration ${run?.durationMs}`);
});

test('malformed JSON: json.* is absent, json.valid is false and the message says why', async () => {
  scaisend.faults.malformedJson = true;
  const run = (
    await runYaml(`probes:\n  - { name: r, kind: http, url: "${sendUrl}/ready", expect: [json.status == "ready"] }\n`)
  ).get('r');
  assert.equal(run?.status, 'fail');
  assert.equal(run?.observations['json.valid'], false);
  assert.match(run?.message ?? '', /body is not valid JSON/);
  assert.match(run?.message ?? '', /json.status == "ready" \(actual: not observed\)/);
});

test('a connection reset is a CONNECT error with the reason', async () => {
  scaisend.faults.reset = true;
  const run = (await runYaml(`probes:\n  - { name: r, kind: http, url: "${sendUrl}/ready" }\n`)).get('r');
  assert.equal(run?.status, 'fail');
  assert.equal(run?.error?.code, 'CONNECT');
  assert.match(run?.error?.message ?? '', /reset|socket|closed/i);
});

test('5xx without assertions fails through the implicit status check', async () => {
  scaisend.faults.status5xx = 502;
  const run = (await runYaml(`probes:\n  - { name: r, kind: http, url: "${sendUrl}/health" }\n`)).get('r');
  assert.equal(run?.status, 'fail');
  assert.match(run?.message ?? '', /status < 400 \(actual: 502\)/);
});

test('soft assertions give warn, not fail', async () => {
  scaisend.faults.latencyMs = 60;
  const run = (
    await runYaml(
      `probes:\n  - name: r\n    kind: http\n    url: "${sendUrl}/ready"\n    expect: [status == 200, { that: "latency < 20ms", soft: true }]\n`,
    )
  ).get('r');
  assert.equal(run?.status, 'warn', run?.message);
  assert.match(run?.message ?? '', /warning: latency < 20ms/);
});

test('retries: a run that fails and then passes counts as passed, with its attempts', async () => {
  scaisend.faults.status5xx = 503;
  setTimeout(() => delete scaisend.faults.status5xx, 150);
  const run = (
    await runYaml(`probes:\n  - { name: r, kind: http, url: "${sendUrl}/ready", retries: 3, retryDelay: 100ms }\n`)
  ).get('r');
  assert.equal(run?.status, 'pass', run?.message);
  assert.ok((run?.attempts ?? 0) >= 2);
});

test('HTTPS with an expired self-signed certificate is a TLS error; insecure reads the certificate', async () => {
  const url = await httpsServer('expired-cert.pem');
  const results = await runYaml(`probes:
  - { name: strict, kind: http, url: "${url}/", tls: { ca: "${tls('test-ca.pem').replace(/\n/g, '\\n')}" } }
  - { name: lenient, kind: http, url: "${url}/", tls: { insecure: true }, expect: ["cert.daysLeft > 0"] }
`);
  const strict = results.get('strict');
  assert.equal(strict?.error?.code, 'TLS');
  assert.match(strict?.error?.message ?? '', /CERT_HAS_EXPIRED|expired/i);
  const lenient = results.get('lenient');
  assert.equal(lenient?.status, 'fail');
  assert.ok(
    (lenient?.observations['cert.daysLeft'] as number) < -2000,
    `daysLeft ${String(lenient?.observations['cert.daysLeft'])}`,
  );
});

test('HTTPS with a trusted certificate reports the TLS phase and days left', async () => {
  const url = await httpsServer('valid-cert.pem');
  const run = (
    await runYaml(
      `probes:\n  - { name: ok, kind: http, url: "${url}/", tls: { ca: "${tls('test-ca.pem').replace(/\n/g, '\\n')}" }, expect: ["cert.daysLeft > 30"] }\n`,
    )
  ).get('ok');
  assert.equal(run?.status, 'pass', run?.message);
  assert.equal(typeof run?.observations['latency.tls'], 'number');
  assert.equal(run?.observations['cert.trusted'], true);
});

test('secrets never reach the stored message or observations', async () => {
  const run = (
    await runYaml(
      `probes:\n  - { name: r, kind: http, url: "${sendUrl}/nope?key=\${PROBE_KEY}", expect: ["url contains \\"nope\\""] }\n`,
      { env: { PROBE_KEY: 'super-secret-key-123' } },
    )
  ).get('r');
  const text = JSON.stringify(run);
  assert.ok(!text.includes('super-secret-key-123'), text);
  assert.match(String(run?.observations.url), /\[redacted\]/);
});

test('a session cookie or auth challenge from the target is never stored as an observation', async () => {
  const server = createHttpServer((_req, res) => {
    res.setHeader('set-cookie', ['session=target-session-cookie-value; HttpOnly; Path=/', 'csrf=target-csrf-value']);
    res.setHeader('www-authenticate', 'Digest realm="probe", nonce="target-nonce-value"');
    res.setHeader('proxy-authenticate', 'Basic realm="target-proxy-realm"');
    res.setHeader('x-request-id', 'visible-request-id');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const store = new SqliteStore(':memory:', systemClock);
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/login`;
    const run = (
      await runYaml(`probes:\n  - { name: login, kind: http, url: "${url}", expect: ["status == 200"] }\n`, { store })
    ).get('login');
    assert.equal(run?.status, 'pass', run?.message);
    const stored = store.runs.list('login');
    assert.equal(stored.length, 1);
    const text = JSON.stringify(stored);
    for (const value of [
      'target-session-cookie-value',
      'target-csrf-value',
      'target-nonce-value',
      'target-proxy-realm',
    ])
      assert.ok(!text.includes(value), `${value} stored: ${text}`);
    const observations = stored[0]?.observations ?? {};
    for (const name of ['set-cookie', 'www-authenticate', 'proxy-authenticate'])
      assert.equal(observations[`headers.${name}`], undefined, name);
    assert.equal(observations['headers.x-request-id'], 'visible-request-id', 'other headers are still observed');
  } finally {
    store.close();
    server.close();
  }
});

test('a body cut at maxBodyBytes yields no body, size or json.* to assert on, and the run says why', async () => {
  // {"status":"ready"} is 18 bytes: 8 of them were once reported as body.size 8, and `body.size < 10` passed.
  const results = await runYaml(`probes:
  - { name: cut, kind: http, url: "${sendUrl}/ready", maxBodyBytes: 8, expect: ["status == 200", "body.size < 10"] }
  - { name: whole, kind: http, url: "${sendUrl}/ready", maxBodyBytes: 18, expect: ["json.status == \\"ready\\"", "body.truncated == false"] }
`);
  const cut = results.get('cut');
  assert.equal(cut?.status, 'fail');
  assert.match(cut?.message ?? '', /body exceeds maxBodyBytes \(8\)/);
  assert.deepEqual(
    cut?.assertions.map((a) => a.ok),
    [true, false],
  );
  assert.equal(cut?.observations['body.truncated'], true);
  for (const name of ['body', 'body.size', 'json.valid', 'json.status'])
    assert.equal(Object.hasOwn(cut?.observations ?? {}, name), false, name);
  const whole = results.get('whole');
  assert.equal(whole?.status, 'pass', whole?.message);
});
