import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { browserKind, type BrowserSpec } from '../../src/probers/browser.ts';
import type { CommonProbeSpec } from '../../src/core/probe.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import { mountTracking } from '../../src/lab/tracking.ts';
import { createSendCounters } from '../../src/lab/mail-send.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { deps, run } from '../helpers/mail-lab.ts';
import { specFor } from '../helpers/probe-run.ts';

/** A loopback HTTP server answering `page` (HTML) at every path, recording what it was asked for. */
async function startServer(
  page = 'reached',
): Promise<{ server: Server; url: string; hits: string[]; locations: unknown[] }> {
  const hits: string[] = [];
  const locations: unknown[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    locations.push(req.headers['x-scaiprobe-location']);
    res.setHeader('content-type', 'text/html');
    res.end(page);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, locations };
}

// Scripted steps need no mail: the ScaiSend stand-in's landing pages, loopback servers and real Chromium.
describe('browser kind, scripted steps', () => {
  let scaisend: LabApp;
  let apiUrl: string;
  let shots: { dir: string; remove: () => Promise<void> };
  let other: Awaited<ReturnType<typeof startServer>>;
  const probers: Prober[] = [];

  before(async () => {
    scaisend = createScaiSendStandIn();
    // The landing pages only: no mail is sent here.
    mountTracking(scaisend, createSendCounters());
    apiUrl = (await scaisend.listen(0)).url;
    shots = await makeTempDir('scaiprobe-shots-');
    other = await startServer();
  });
  after(async () => {
    await scaisend?.close();
    await shots?.remove();
    other?.server.close();
  });
  afterEach(async () => {
    other.hits.splice(0);
    for (const prober of probers.splice(0)) await prober.close?.();
  });

  const landing = (name: string) => `${apiUrl}/landing/${name}`;
  const browserProbe = (raw: Record<string, unknown>, expect: string[] = ['failed == 0'], location?: string) => {
    const spec = {
      ...specFor(browserKind, { screenshots: { dir: shots.dir }, ...raw }, expect),
      name: 'browser-test',
      timeout: 30_000,
    } as BrowserSpec & CommonProbeSpec;
    const prober = browserKind.create(spec, { ...deps(), ...(location !== undefined ? { location } : {}) });
    probers.push(prober);
    return { spec, prober };
  };

  test('scripted steps pass: goto, fill, click, expect text / selector / URL', async () => {
    const { spec, prober } = browserProbe({
      steps: [
        { goto: landing('welcome') },
        { expectText: 'Welcome to ScaiSend' },
        { click: '#next' },
        { expectUrl: '/landing/signup$' },
        { fill: { selector: '#email', value: 'pat@example.test' } },
        { click: '#go' },
        { expectText: 'Thanks, pat@example.test' },
        { expectSelector: '#result' },
      ],
    });
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    assert.equal(record.observations['steps.passed'], 8);
    assert.equal(record.observations['step.3.action'], 'click');
    assert.equal(record.observations['page.title'], 'Sign up for ScaiSend');
    assert.equal(record.observations.screenshot, undefined);
  });

  test('a failing step fails the run with the step and reason, and keeps a PNG screenshot', async () => {
    const { spec, prober } = browserProbe({
      steps: [{ goto: landing('pricing') }, { expectText: 'Free forever' }, { click: '#never' }],
      // Every step gets this long, the page load too: on a busy machine Chromium's first load of a
      // page has taken over a second, which failed step 1 instead of step 2.
      stepTimeout: '4s',
    });
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.match(record.message, /step 2 \(expectText "Free forever"\) failed: text not on the page/);
    assert.equal(record.observations['steps.passed'], 1);
    assert.equal(record.observations['step.2.ok'], false);
    assert.equal(record.observations['step.3.ok'], undefined);
    const shot = String(record.observations.screenshot);
    assert.ok(shot.endsWith('.png') && shot.includes('browser-test'), shot);
    assert.ok((await stat(shot)).size > 1000);
  });

  test('a goto answering 404 is a failed step', async () => {
    const { spec, prober } = browserProbe({ steps: [{ goto: landing('missing') }] });
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.match(record.message, /step 1 \(goto .*\) failed: answered 404/);
  });

  test("a page reaches only the goto steps' hosts and allowHosts: another loopback server receives nothing", async () => {
    const target = await startServer(
      `<html><body><h1>Status</h1><img src="${other.url}/image.gif"><script>fetch('${other.url}/script-fetch')</script></body></html>`,
    );
    try {
      const { spec, prober } = browserProbe({ steps: [{ goto: `${target.url}/status` }, { expectText: 'Status' }] });
      const record = await run(spec, prober);
      assert.deepEqual(other.hits, [], 'the other loopback server was reached');
      assert.equal(record.status, 'warn', record.message);
      assert.ok(Number(record.observations['requests.blocked']) >= 2, JSON.stringify(record.observations));
      assert.match(record.message, /blocked requests to hosts the probe does not allow/);
      const allowed = browserProbe({
        steps: [{ goto: `${target.url}/status` }, { expectText: 'Status' }],
        allowHosts: [new URL(other.url).host],
      });
      const reached = await run(allowed.spec, allowed.prober);
      assert.equal(reached.status, 'pass', reached.message);
      assert.deepEqual([...other.hits].sort(), ['/image.gif', '/script-fetch']);
    } finally {
      target.server.close();
    }
  });

  test("a fleet agent's pages say its location on every request, as its http probes do", async () => {
    const target = await startServer(`<html><body><h1>Status</h1><img src="/pixel.gif"></body></html>`);
    try {
      const steps = [{ goto: `${target.url}/status` }, { expectText: 'Status' }];
      const agent = browserProbe({ steps }, undefined, 'eu-west');
      assert.equal((await run(agent.spec, agent.prober)).status, 'pass');
      assert.ok(target.hits.includes('/status') && target.hits.includes('/pixel.gif'), target.hits.join(' '));
      assert.deepEqual(new Set(target.locations), new Set(['eu-west']), 'every request of the page');
      target.locations.splice(0);
      const single = browserProbe({ steps });
      assert.equal((await run(single.spec, single.prober)).status, 'pass');
      assert.ok(target.locations.length > 0, 'the single daemon reached the page');
      assert.deepEqual(new Set(target.locations), new Set([undefined]), 'a single daemon says no location');
    } finally {
      target.server.close();
    }
  });
});
