import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { loadConfig } from '../../src/config/load.ts';
import { systemClock } from '../../src/util/clock.ts';
import { SharedBrowser } from '../../src/util/chromium.ts';
import { startDaemon, type Daemon } from '../../src/cli/commands/daemon.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { registerAgentRoutes } from '../../src/server/routes/agents.ts';
import type { RunRecord } from '../../src/store/types.ts';

describe('status page in Chromium', () => {
  let daemon: Daemon;
  let target: Server;
  let dir: { dir: string; remove: () => Promise<void> };
  const browser = new SharedBrowser();
  let context: BrowserContext;
  let page: Page;
  const flappyStatus = { code: 200 };
  const foreignRequests: string[] = [];

  before(async () => {
    dir = await makeTempDir('scaiprobe-status-');
    target = createServer((req, res) => {
      res.writeHead(req.url === '/flappy' ? flappyStatus.code : req.url === '/broken' ? 503 : 200).end('x');
    });
    const targetPort = await freePort();
    await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve));
    process.env.STATUS_TOKEN_T7 = 'status-page-token-1';
    const port = await freePort();
    const file = join(dir.dir, 'config.yaml');
    writeFileSync(
      file,
      `server: { listen: 127.0.0.1:${port}, token: "\${STATUS_TOKEN_T7}" }
store: { path: ${join(dir.dir, 'p.db')} }
probes:
  - { name: site-ok, kind: http, url: "http://127.0.0.1:${targetPort}/ok", every: 2s, tenant: acme }
  - { name: site-broken, kind: http, url: "http://127.0.0.1:${targetPort}/broken", every: 2s }
  - { name: site-flappy, kind: http, url: "http://127.0.0.1:${targetPort}/flappy", every: 1s }
`,
    );
    daemon = await startDaemon(loadConfig(file), { clock: systemClock, logger: pino({ level: 'silent' }) });
    context = await browser.context({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript(() => localStorage.setItem('scaiprobe.token', 'status-page-token-1'));
    page = await context.newPage();
    page.on('request', (request) => {
      if (!request.url().startsWith(daemon.url)) foreignRequests.push(request.url());
    });
  });
  after(async () => {
    await context?.close();
    await browser.close();
    await daemon?.stop();
    await new Promise((resolve) => target?.close(resolve));
    await dir?.remove();
  });

  test('the shell is public, the data is not', async () => {
    const shell = await fetch(`${daemon.url}/`);
    assert.equal(shell.status, 200);
    assert.match(await shell.text(), /scaiprobe status/);
    assert.equal((await fetch(`${daemon.url}/api/v1/status`)).status, 401);
  });

  test('probes appear with their state; the failing one shows failing', async () => {
    await page.goto(`${daemon.url}/`);
    await page.waitForSelector('tr[data-probe="site-broken"] .state.fail', { timeout: 15_000 });
    await page.waitForSelector('tr[data-probe="site-ok"] .state.pass', { timeout: 15_000 });
    assert.equal(await page.textContent('tr[data-probe="site-broken"] .state'), 'fail');
    assert.match((await page.textContent('tr[data-probe="site-broken"] td.msg')) ?? '', /503/);
    // Failing first: the broken probe heads the table.
    assert.equal(await page.getAttribute('#rows tr:first-child', 'data-probe'), 'site-broken');
    assert.match((await page.textContent('#counts')) ?? '', /1 failing/);
    assert.match((await page.textContent('#tenants')) ?? '', /acme/);
    // Alerts and indicators come from issue 6's API when the daemon has it, else "No data": either way, loaded.
    await page.waitForFunction(
      () =>
        !/Loading/.test(document.querySelector('#alerts')?.textContent ?? 'Loading') &&
        !/Loading/.test(document.querySelector('#indicators')?.textContent ?? 'Loading'),
    );
    await page.waitForSelector('#live.on', { timeout: 10_000 });
    await page.screenshot({ path: join(dir.dir, 'status.png') });
  });

  test('the page updates without a reload when a run ends', async () => {
    await page.waitForSelector('tr[data-probe="site-flappy"] .state.pass', { timeout: 15_000 });
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => navigations.push(frame.url()));
    flappyStatus.code = 500;
    await page.waitForSelector('tr[data-probe="site-flappy"] .state.fail', { timeout: 15_000 });
    const strip = await page.$$eval('tr[data-probe="site-flappy"] .strip i', (cells) =>
      cells.map((c) => c.getAttribute('class') ?? '').join(''),
    );
    assert.match(strip, /p+f+$/, `history strip ${strip} should end in passes then fails`);
    assert.deepEqual(navigations, [], 'no reload happened');
    assert.deepEqual(foreignRequests, [], 'the page fetched nothing but the daemon');
  });

  test('a maintenance window started over the API shows in its card and on its probes, and leaves when it ends', async () => {
    const auth = { authorization: 'Bearer status-page-token-1', 'content-type': 'application/json' };
    const started = await fetch(`${daemon.url}/api/v1/maintenance`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ probes: ['site-b*'], for: '20m', reason: 'deploy 7' }),
    });
    const { id } = (await started.json()) as { id: number };
    await page.goto(`${daemon.url}/`);
    await page.waitForSelector(`#maintenance li[data-window="${id}"]`, { timeout: 15_000 });
    assert.match(
      (await page.textContent('#maintenance')) ?? '',
      /site-b\* · deploy 7.*alerts held until .*\((19|20)m left\)/s,
    );
    await page.waitForSelector('tr[data-probe="site-broken"] .maint', { timeout: 15_000 });
    assert.equal(await page.$('tr[data-probe="site-ok"] .maint'), null, 'only the probes it covers');
    await fetch(`${daemon.url}/api/v1/maintenance/${id}`, { method: 'DELETE', headers: auth });
    await page.reload();
    await page.waitForFunction(
      () => /None in force/.test(document.querySelector('#maintenance')?.textContent ?? ''),
      undefined,
      { timeout: 15_000 },
    );
    assert.equal(await page.$('tr[data-probe="site-broken"] .maint'), null);
    assert.deepEqual(foreignRequests, [], 'the page fetched nothing but the daemon');
  });

  test("a fleet's agents show in their card, warned when their configurations differ; a single daemon shows none", async () => {
    const answered = page.waitForResponse((response) => response.url().endsWith('/api/v1/agents'));
    await page.goto(`${daemon.url}/`);
    assert.equal((await answered).status(), 404);
    assert.equal(await page.isHidden('#agents-card'), true, 'no fleet, no card');
    const beat = Date.now() - 1000;
    const agent = (name: string, location: string, live: boolean, configHash: string) => ({
      name,
      location,
      host: `${name}.example.test`,
      pid: 4242,
      version: '0.1.0',
      configHash,
      startedAt: beat - 60_000,
      heartbeatAt: live ? beat : beat - 120_000,
      live,
      probes: live ? 3 : 0,
      self: name === 'west-1',
      leader: name === 'west-1',
    });
    registerAgentRoutes(daemon.server.router, {
      name: 'west-1',
      location: 'eu-west',
      agents: () =>
        Promise.resolve({
          agents: [
            agent('west-1', 'eu-west', true, 'aaaaaaaaaaaaaaaa'),
            agent('east-1', 'us-east', true, 'bbbbbbbbbbbbbbbb'),
            agent('east-2', 'us-east', false, 'aaaaaaaaaaaaaaaa'),
          ],
          configurationsDiffer: true,
          configurations: { aaaaaaaaaaaaaaaa: ['west-1'], bbbbbbbbbbbbbbbb: ['east-1'] },
        }),
    });
    await page.reload();
    await page.waitForSelector('#agents-card:not([hidden]) #agents li', { timeout: 15_000 });
    const text = (await page.textContent('#agents')) ?? '';
    assert.match(
      text,
      /live agents run 2 different configurations: aaaaaaaaaaaaaaaa \(west-1\); bbbbbbbbbbbbbbbb \(east-1\)/,
    );
    assert.match(
      text,
      /livewest-1 eu-west · leader\s*west-1\.example\.test pid 4242 · v0\.1\.0 · config aaaaaaaa · 3 probes · beat \d+s ago/,
    );
    assert.match(text, /downeast-2 us-east/);
    assert.deepEqual(foreignRequests, [], 'the page fetched nothing but the daemon');
  });

  test("a fleet's probe has a dot per location (its status, its name and message on hover); a single daemon's probes have none", async () => {
    const now = Date.now();
    const located = (uid: string, location: string, status: RunRecord['status'], message: string, ago: number) =>
      daemon.store.runs.record({
        uid,
        probe: 'geo-web',
        kind: 'http',
        startedAt: now - ago,
        durationMs: 12,
        status,
        attempts: 1,
        message,
        error: status === 'fail' ? { code: 'http_status', message } : null,
        observations: {},
        assertions: [],
        phases: {},
        items: [],
        location,
        agent: `${location}-1`,
      });
    daemon.store.probes.sync([{ name: 'geo-web', kind: 'http', tags: [] }]);
    located('geo-1', 'us-east', 'pass', 'HTTP 200', 4000);
    located('geo-2', 'eu-west', 'fail', 'HTTP 503 from eu-west', 2000);
    await page.goto(`${daemon.url}/`);
    await page.waitForSelector('tr[data-probe="geo-web"] i.loc', { timeout: 15_000 });
    const dots = await page.$$eval('tr[data-probe="geo-web"] i.loc', (cells) =>
      cells.map((c) => [c.getAttribute('data-location'), c.getAttribute('class'), c.getAttribute('title')]),
    );
    assert.deepEqual(
      dots.map(([location, className]) => [location, className]),
      [
        ['eu-west', 'loc fail'],
        ['us-east', 'loc pass'],
      ],
    );
    assert.match(dots[0]?.[2] ?? '', /^eu-west: fail \d+s ago · HTTP 503 from eu-west$/);
    assert.equal(await page.$('tr[data-probe="site-ok"] i.loc'), null, 'runs without a location: no dots');

    // A run from another location arriving as a live event (as a replica's copies do) moves its dot without a reload.
    const event = {
      probe: 'geo-web',
      kind: 'http',
      tenant: null,
      status: 'pass',
      startedAt: Date.now(),
      durationMs: 9,
      message: 'HTTP 200',
      errorCode: null,
      location: 'eu-west',
    };
    await page.route('**/api/v1/events', (route) =>
      route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: `event: hello\ndata: {}\n\nevent: runs\ndata: ${JSON.stringify([event])}\n\n`,
      }),
    );
    try {
      await page.reload();
      await page.waitForSelector('tr[data-probe="geo-web"] i.loc.pass[data-location="eu-west"]', { timeout: 10_000 });
      assert.equal(await page.textContent('tr[data-probe="geo-web"] .state'), 'pass', 'the newest run overall');
    } finally {
      await page.unroute('**/api/v1/events');
    }
    assert.deepEqual(foreignRequests, [], 'the page fetched nothing but the daemon');
  });

  test('the history API pages and returns last-N strips in one response', async () => {
    const response = await fetch(`${daemon.url}/api/v1/status?limit=2&n=5&status=fail`, {
      headers: { authorization: 'Bearer status-page-token-1' },
    });
    const body = (await response.json()) as {
      total: number;
      counts: { all: number };
      probes: Array<{ probe: string; history: string }>;
    };
    assert.equal(body.counts.all, 4, 'the three configured probes and the fleet one');
    assert.ok(body.probes.length <= 2);
    assert.ok(body.probes.every((p) => p.history.length <= 5 && p.history.endsWith('f')));
  });
});
