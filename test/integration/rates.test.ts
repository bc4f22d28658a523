import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import pino from 'pino';
import { startLab, type RunningLab } from '../../src/lab/lab.ts';
import { ratesLabComponent, LAB_WEBHOOK_SECRET } from '../../src/lab/rates-lab.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { statsKind } from '../../src/probers/stats.ts';
import { prometheusKind } from '../../src/probers/prometheus.ts';
import { queueKind } from '../../src/probers/queue.ts';
import { evaluateAssertions } from '../../src/core/assertions.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { makeProber, probeOnce, specFor } from '../helpers/probe-run.ts';

let lab: RunningLab;
let temp: { dir: string; remove: () => Promise<void> };

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return response.json();
}

before(async () => {
  temp = await makeTempDir('scaiprobe-rates-');
  const ports = {
    scaisend: await freePort(),
    scaidns: await freePort(),
    redis: await freePort(),
    smtp: await freePort(),
  };
  lab = await startLab({ dir: temp.dir, ports, logger: pino({ level: 'silent' }), components: [ratesLabComponent] });
});

after(async () => {
  await lab?.stop();
  await temp?.remove();
});

describe('stats kind against the ScaiSend stand-in', () => {
  test('rates follow the statsRates switch; the issue assertions fail when rates are high', async () => {
    const expect = ['bounceRate < 2%', 'spamReportRate < 0.1%'];
    const spec = specFor(statsKind, { api: lab.scaisendUrl, apiKey: 'SG.lab-tenant-a.key' }, expect, 'tenant-a');
    const prober = makeProber(statsKind, spec);
    const quiet = await probeOnce(prober);
    assert.equal(quiet.observations.requests, 0);
    assert.equal(quiet.observations.bounceRate, 0);
    assert.match(quiet.message ?? '', /no sends/);

    await post(`${lab.scaisendUrl}/__lab/faults`, { statsRates: { bounceRate: 0.05, spamReportRate: 0.003 } });
    const high = await probeOnce(prober);
    const bounceRate = high.observations.bounceRate as number;
    const spamRate = high.observations.spamReportRate as number;
    assert.ok(Math.abs(bounceRate - 0.05) < 0.002, `bounce ${bounceRate}`);
    assert.ok(Math.abs(spamRate - 0.003) < 0.0005, `spam ${spamRate}`);
    assert.ok(
      Math.abs(bounceRate - (high.observations.bounces as number) / (high.observations.requests as number)) < 1e-6,
      'bounces / requests',
    );
    assert.deepEqual(
      evaluateAssertions(spec.expect, high.observations).map((o) => o.ok),
      [false, false],
    );
    const day = high.items?.[0];
    assert.equal(day?.type, 'stats.day');
    assert.equal(day?.key.startsWith('tenant-a:'), true);

    await post(`${lab.scaisendUrl}/__lab/faults`, { statsRates: { bounceRate: 0.005, spamReportRate: 0.0005 } });
    const healthy = await probeOnce(prober);
    assert.deepEqual(
      evaluateAssertions(spec.expect, healthy.observations).map((o) => o.ok),
      [true, true],
    );
    await post(`${lab.scaisendUrl}/__lab/faults`, { statsRates: null });
  });

  test('a wrong API key is an AUTH failure', async () => {
    const prober = makeProber(statsKind, specFor(statsKind, { api: lab.scaisendUrl, apiKey: 'SG.nope' }));
    await assert.rejects(probeOnce(prober), (error: unknown) => error instanceof ProbeFailure && error.code === 'AUTH');
  });
});

describe('prometheus kind against the ScaiDNS stand-in /metrics', () => {
  const expect = [
    'p99(scaidns_http_request_duration_seconds) < 1s',
    'rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total) < 0.5%',
  ];
  const p99 = 'p99(scaidns_http_request_duration_seconds)';
  const share = 'rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total)';

  test('the issue assertions pass on a healthy stand-in, even on the first run (warm-up scrape)', async () => {
    await post(`${lab.scaidnsUrl}/__lab/faults`, { metricsRps: 500 });
    const prober = makeProber(
      prometheusKind,
      specFor(prometheusKind, { url: `${lab.scaidnsUrl}/metrics`, warmup: '500ms' }, expect),
    );
    const first = await probeOnce(prober);
    assert.equal(typeof first.observations[p99], 'number');
    assert.ok((first.observations[p99] as number) < 1000);
    assert.equal(first.observations[share], 0);
    const second = await probeOnce(prober, { previousState: first.state });
    assert.deepEqual(
      evaluateAssertions(
        specFor(prometheusKind, { url: `${lab.scaidnsUrl}/metrics` }, expect).expect,
        second.observations,
      ).map((o) => o.ok),
      [true, true],
    );
    assert.equal(
      (second.state as { scrapes: unknown[] }).scrapes.length,
      3,
      'two earlier scrapes in the window plus this one',
    );
  });

  test('switching latency and 5xx share makes both assertions fail with the right values', async () => {
    await post(`${lab.scaidnsUrl}/__lab/faults`, { metricsRps: 500, metricsLatencyMs: 400, metrics5xxShare: 0.05 });
    const spec = specFor(prometheusKind, { url: `${lab.scaidnsUrl}/metrics`, warmup: '1s' }, expect);
    const run = await probeOnce(makeProber(prometheusKind, spec));
    assert.ok((run.observations[p99] as number) > 1000, `p99 ${String(run.observations[p99])}`);
    assert.ok(Math.abs((run.observations[share] as number) - 0.05) < 0.01, `share ${String(run.observations[share])}`);
    assert.deepEqual(
      evaluateAssertions(spec.expect, run.observations).map((o) => o.ok),
      [false, false],
    );
    await fetch(`${lab.scaidnsUrl}/__lab/faults`, { method: 'DELETE' });
  });

  test('a page that is not metrics is a PROTOCOL failure', async () => {
    const prober = makeProber(prometheusKind, specFor(prometheusKind, { url: `${lab.scaidnsUrl}/nope` }, expect));
    await assert.rejects(
      probeOnce(prober),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'PROTOCOL',
    );
  });
});

describe('queue kind against real Redis', () => {
  test('LLEN per key and total follow the lab queue control, with a prefix', async () => {
    await post(`${lab.scaisendUrl}/__lab/queues`, {
      depths: { 'email:process': 1500, 'smtp:deliver': 20, 'webhook:deliver': 0 },
    });
    const keys = ['email:process', 'smtp:deliver', 'webhook:deliver'];
    const prober = makeProber(queueKind, specFor(queueKind, { redis: `redis://127.0.0.1:${lab.ports.redis}`, keys }));
    const run = await probeOnce(prober);
    assert.equal(run.observations['depth.email:process'], 1500);
    assert.equal(run.observations['depth.smtp:deliver'], 20);
    assert.equal(run.observations['depth.webhook:deliver'], 0);
    assert.equal(run.observations['depth.total'], 1520);
    await post(`${lab.scaisendUrl}/__lab/queues`, { push: { 'email:process': 250, 'staging:smtp:deliver': 7 } });
    assert.equal((await probeOnce(prober)).observations['depth.email:process'], 1750);
    const prefixed = makeProber(
      queueKind,
      specFor(queueKind, { redis: `redis://127.0.0.1:${lab.ports.redis}`, keys: ['smtp:deliver'], prefix: 'staging:' }),
    );
    assert.equal((await probeOnce(prefixed)).observations['depth.smtp:deliver'], 7);
  });

  test('nothing listening is a CONNECT failure', async () => {
    const prober = makeProber(
      queueKind,
      specFor(queueKind, { redis: `redis://127.0.0.1:${await freePort()}`, keys: ['a'] }),
    );
    await assert.rejects(
      probeOnce(prober),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'CONNECT',
    );
  });
});

describe('lab alert receiver', () => {
  test('records deliveries, checks signatures, and can be switched to 503 with Retry-After', async () => {
    await fetch(`${lab.scaisendUrl}/__lab/receiver`, { method: 'DELETE' });
    const body = JSON.stringify({ hello: 'world' });
    const t = 1_700_000_000;
    const good = `t=${t},v1=${createHmac('sha256', LAB_WEBHOOK_SECRET).update(`${t}.${body}`).digest('hex')}`;
    await fetch(`${lab.scaisendUrl}/__lab/receiver`, {
      method: 'POST',
      body,
      headers: { 'x-scaiprobe-signature': good },
    });
    await fetch(`${lab.scaisendUrl}/__lab/receiver`, {
      method: 'POST',
      body,
      headers: { 'x-scaiprobe-signature': good.replace(/.$/, (c) => (c === '0' ? '1' : '0')) },
    });
    await post(`${lab.scaisendUrl}/__lab/faults`, { receiverStatus: 503, receiverRetryAfter: 7 });
    const refused = await fetch(`${lab.scaisendUrl}/__lab/receiver`, { method: 'POST', body });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '7');
    await post(`${lab.scaisendUrl}/__lab/faults`, { receiverStatus: null, receiverRetryAfter: null });
    const list = (await (await fetch(`${lab.scaisendUrl}/__lab/receiver`)).json()) as {
      received: Array<{ signatureValid: boolean; body: unknown }>;
    };
    assert.equal(list.received.length, 2);
    assert.equal(list.received[0]?.signatureValid, true);
    assert.equal(list.received[1]?.signatureValid, false);
    assert.deepEqual(list.received[0]?.body, { hello: 'world' });
  });
});
