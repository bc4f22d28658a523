import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock, systemClock } from '../../src/util/clock.ts';
import { buildReport } from '../../src/reports/model.ts';
import { renderReport } from '../../src/reports/render.ts';
import { loadChartJs, renderReportHtml } from '../../src/reports/html.ts';
import { parseReportsConfig } from '../../src/reports/config.ts';
import { ConfigError } from '../../src/config/load.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SharedBrowser } from '../../src/util/chromium.ts';
import { startDaemon, type Daemon } from '../../src/cli/commands/daemon.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { mailItem, run, seedKnownAnswers } from '../helpers/report-seed.ts';

const DAY = 86_400_000;
const NOW = Date.parse('2025-06-30T00:00:00Z');

describe('report model against a seeded database with known answers', () => {
  const store = new SqliteStore(':memory:', new ManualClock(NOW));
  seedKnownAnswers(store, NOW);
  const model = buildReport(store, { tenant: 'acme', since: NOW - 7 * DAY, until: NOW }, {}, NOW);
  after(() => store.close());

  test('placement by seed provider and overall', () => {
    assert.deepEqual(model.placement.overall, { total: 20, inbox: 13, spam: 4, other: 1, missing: 2, inboxRate: 0.65 });
    const byProvider = Object.fromEntries(
      model.placement.providers.map((p) => [p.provider, [p.total, p.inbox, p.spam, p.other, p.missing]]),
    );
    assert.deepEqual(byProvider, { gmail: [10, 8, 1, 0, 1], outlook: [10, 5, 3, 1, 1] });
    assert.equal(model.placement.trend.length, 7, 'one bucket per day of a 7-day period');
    assert.equal(
      model.placement.trend.reduce((sum, b) => sum + b.total, 0),
      20,
    );
    // Runs are 12 h apart starting at day 0: two runs (4 messages) a day.
    assert.deepEqual(
      model.placement.trend.map((b) => b.total),
      [4, 4, 4, 4, 4, 0, 0],
    );
  });

  test('time to inbox p50/p95 (nearest rank)', () => {
    assert.equal(model.timeToInbox.count, 13);
    assert.equal(model.timeToInbox.p50, 7000);
    assert.equal(model.timeToInbox.p95, 50_000);
    assert.deepEqual(
      model.timeToInbox.series.slice(0, 2).map((b) => [b.count, b.p50, b.p95]),
      [
        [4, 2000, 20_000],
        [4, 4000, 40_000],
      ],
    );
  });

  test('SPF/DKIM/DMARC pass rates and latest failures, newest first', () => {
    assert.equal(model.authentication.checked, 18);
    assert.deepEqual(
      [model.authentication.spf.pass, model.authentication.dkim.pass, model.authentication.dmarc.pass],
      [16, 17, 16],
    );
    assert.deepEqual(
      model.authentication.latestFailures.map((f) => `${f.seed}:${f.method}:${f.result}`),
      ['gmail:dmarc:fail', 'gmail:dkim:fail', 'gmail:dmarc:fail', 'outlook:spf:softfail', 'gmail:spf:fail'],
    );
  });

  test('blocklist current state and listing history', () => {
    assert.deepEqual(
      model.blocklists.current.map((c) => [c.key, c.state]),
      [['192.0.2.10@bl.test', 'clean']],
    );
    assert.deepEqual(
      model.blocklists.history.map((h) => `${h.from}->${h.to}`),
      ['null->clean', 'clean->listed', 'listed->clean'],
    );
  });

  test('rates against the 2 % and 0.1 % lines', () => {
    assert.equal(model.rates.bounceRate, 0.025);
    assert.equal(model.rates.spamReportRate, 0.002);
    assert.equal(model.rates.bounceLimit, 0.02);
    assert.equal(model.rates.spamReportLimit, 0.001);
  });

  test('sources that do not exist say no-data; probe failures are incidents', () => {
    assert.equal(model.indicators.status, 'no-data');
    assert.equal(model.incidents.alerts.status, 'no-data');
    assert.equal(model.dnsAuth.status, 'no-data');
    assert.equal(model.incidents.outages.length, 1);
    assert.equal(model.incidents.outages[0]?.probe, 'acme-mail');
    assert.notEqual(model.incidents.outages[0]?.to, null);
  });

  test('indicators from a source get a meaning and an action', () => {
    const withSources = buildReport(
      store,
      { tenant: 'acme', since: NOW - 7 * DAY, until: NOW },
      { indicators: () => [{ name: 'seed spam-folder rate', value: 0.2, state: 'warn', reason: 'up from 5 %' }] },
      NOW,
    );
    assert.equal(withSources.indicators.status, 'ok');
    assert.match(withSources.indicators.items[0]?.meaning ?? '', /spam/);
  });

  test("another tenant's data never enters the report", () => {
    const beta = buildReport(store, { tenant: 'beta', since: NOW - 7 * DAY, until: NOW }, {}, NOW);
    assert.deepEqual([beta.placement.overall.total, beta.placement.overall.spam], [5, 5]);
    assert.equal(beta.blocklists.status, 'no-data');
    assert.equal(beta.rates.status, 'no-data');
  });
});

describe('report of a fleet: placement and time to inbox per location', () => {
  const store = new SqliteStore(':memory:', new ManualClock(NOW));
  after(() => store.close());
  store.probes.sync([{ name: 'acme-mail', kind: 'mail', tenant: 'acme', tags: [] }]);
  const start = NOW - 2 * DAY;
  // eu-west: 3 inbox (1, 2, 3 s) and 1 spam; us-east: 1 inbox (40 s), 1 spam, 2 missing: the same seeds, another route.
  const sent: Array<[string, string, number | null]> = [
    ['eu-west', 'inbox', 1000],
    ['us-east', 'inbox', 40_000],
    ['eu-west', 'inbox', 2000],
    ['us-east', 'spam', null],
    ['eu-west', 'spam', null],
    ['us-east', 'missing', null],
    ['eu-west', 'inbox', 3000],
    ['us-east', 'missing', null],
  ];
  sent.forEach(([location, placement, tti], i) =>
    store.runs.record(
      run('acme-mail', 'mail', 'acme', start + i * 3_600_000, {
        location,
        agent: `${location}-1`,
        items: [mailItem('gmail', placement, tti, null)],
      }),
    ),
  );
  const model = buildReport(store, { tenant: 'acme', since: NOW - 7 * DAY, until: NOW }, {}, NOW);

  test("a probe failing from one location is that location's outage; the other location's runs do not end it", () => {
    store.probes.sync([
      { name: 'acme-mail', kind: 'mail', tenant: 'acme', tags: [] },
      { name: 'acme-api', kind: 'http', tenant: 'acme', tags: [] },
    ]);
    const at = NOW - DAY;
    const steps: Array<[string, 'pass' | 'fail']> = [
      ['eu-west', 'pass'],
      ['us-east', 'fail'],
      ['eu-west', 'pass'],
      ['us-east', 'fail'],
      ['us-east', 'pass'],
    ];
    steps.forEach(([location, status], i) =>
      store.runs.record(
        run('acme-api', 'http', 'acme', at + i * 60_000, { location, agent: `${location}-1`, status, message: status }),
      ),
    );
    const fleet = buildReport(store, { tenant: 'acme', since: NOW - 7 * DAY, until: NOW }, {}, NOW);
    assert.deepEqual(
      fleet.incidents.outages.map((o) => [o.probe, o.location, o.from, o.to]),
      // A change is dated at the end of the run that made it (each run here lasts a second).
      [['acme-api', 'us-east', at + 60_000 + 1000, at + 4 * 60_000 + 1000]],
    );
    assert.match(renderReportHtml(fleet, ''), /acme-api \(from us-east\)/);
  });

  test('each location counted on its own, with its time to inbox', () => {
    assert.equal(model.locations.status, 'ok');
    assert.deepEqual(
      model.locations.locations.map((l) => [l.location, l.total, l.inbox, l.spam, l.missing, l.ttiP50, l.ttiP95]),
      [
        ['eu-west', 4, 3, 1, 0, 2000, 3000],
        ['us-east', 4, 1, 1, 2, 40_000, 40_000],
      ],
    );
    assert.equal(model.placement.overall.total, 8, 'the overall numbers still count every location');
  });

  test('the HTML has a section per location; a single location has none', async () => {
    const html = renderReportHtml(model, '');
    assert.match(html, /<section id="locations">/);
    assert.match(html, /<td>us-east<\/td><td>4<\/td><td>1 \(25\.0 %\)<\/td>/);
    const single = new SqliteStore(':memory:', new ManualClock(NOW));
    try {
      seedKnownAnswers(single, NOW);
      const plain = buildReport(single, { tenant: 'acme', since: NOW - 7 * DAY, until: NOW }, {}, NOW);
      assert.deepEqual(plain.locations, { status: 'no-data', locations: [] });
      assert.doesNotMatch(renderReportHtml(plain, ''), /id="locations"/);
    } finally {
      single.close();
    }
  });
});

describe('reports config', () => {
  test('errors name the file and key path', () => {
    assert.throws(
      () => parseReportsConfig({ tenants: { acme: { token: 'short', colour: 'red' } } }, ['/nonexistent/probes.yaml']),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const text = error.message;
        assert.match(text, /\/nonexistent\/probes\.yaml: reports\.tenants\.acme(\.token)?: /);
        assert.match(text, /unknown key "colour"/);
        return true;
      },
    );
  });
});

describe('HTML and PDF', () => {
  const store = new SqliteStore(':memory:', new ManualClock(NOW));
  seedKnownAnswers(store, NOW);
  const browser = new SharedBrowser();
  const dir = makeTempDir('scaiprobe-report-');
  after(async () => {
    await browser.close();
    store.close();
    await (await dir).remove();
  });

  test('the HTML is self-contained (chart.js inline, no URLs to fetch)', async () => {
    const html = (
      await renderReport(
        { store, sources: {}, chartJs: loadChartJs(), now: NOW },
        { tenant: 'acme', since: NOW - 7 * DAY, until: NOW },
        'html',
      )
    ).body.toString();
    assert.match(html, /Chart\.js v4/);
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i);
    assert.match(html, /Inbox placement by seed provider/);
  });

  test('the PDF has the pages and the text people read', async () => {
    const { dir: path } = await dir;
    const pdf = (
      await renderReport(
        { store, sources: {}, chartJs: loadChartJs(), now: NOW, browser },
        { tenant: 'acme', since: NOW - 7 * DAY, until: NOW },
        'pdf',
      )
    ).body;
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const file = join(path, 'acme.pdf');
    writeFileSync(file, pdf);
    const pages = Number(/Pages:\s+(\d+)/.exec(execFileSync('pdfinfo', [file]).toString())?.[1]);
    assert.ok(pages >= 2 && pages <= 5, `expected 2-5 pages, got ${pages}`);
    const text = execFileSync('pdftotext', ['-layout', file, '-']).toString();
    for (const expected of [
      'Deliverability report: acme',
      'Inbox placement by seed provider',
      '13 (65.0 %)',
      'Time to inbox',
      '16 of 18',
      '192.0.2.10@bl.test',
      'clean → listed',
      'Bounce and spam-report rates',
      'Leading indicators',
      'No data: leading indicators are not set up',
      'Incidents',
      `page 1 of ${pages}`,
    ]) {
      assert.ok(text.includes(expected), `PDF text lacks "${expected}"`);
    }
  });
});

describe('report API and CLI', () => {
  let daemon: Daemon;
  let dir: { dir: string; remove: () => Promise<void> };
  let configFile: string;
  const tokens = {
    ADMIN_TOKEN_T7: 'admin-token-123456',
    ACME_REPORT_TOKEN_T7: 'acme-token-123456',
    BETA_REPORT_TOKEN_T7: 'beta-token-123456',
  };

  before(async () => {
    dir = await makeTempDir('scaiprobe-report-api-');
    Object.assign(process.env, tokens);
    const db = join(dir.dir, 'probe.db');
    const seeded = new SqliteStore(db, systemClock);
    seedKnownAnswers(seeded, Date.now());
    seeded.close();
    const port = await freePort();
    configFile = join(dir.dir, 'config.yaml');
    writeFileSync(
      configFile,
      `server: { listen: 127.0.0.1:${port}, token: "\${ADMIN_TOKEN_T7}" }
store: { path: ${db} }
reports:
  tenants:
    acme: { token: "\${ACME_REPORT_TOKEN_T7}", name: Acme Corp }
    beta: { token: "\${BETA_REPORT_TOKEN_T7}" }
probes:
  - { name: self-health, kind: http, url: "http://127.0.0.1:${port}/health", every: 1h, tenant: acme }
`,
    );
    daemon = await startDaemon(loadConfig(configFile), { clock: systemClock, logger: pino({ level: 'silent' }) });
  });
  after(async () => {
    await daemon?.stop();
    await dir?.remove();
  });

  const get = (path: string, token?: string) =>
    fetch(`${daemon.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  test("tenant A's token cannot read B's report (403); its own and the admin token can", async () => {
    assert.equal((await get('/api/v1/tenants/beta/report?format=json', tokens.ACME_REPORT_TOKEN_T7)).status, 403);
    assert.equal((await get('/api/v1/tenants/acme/report?format=json')).status, 401);
    const own = await get('/api/v1/tenants/acme/report?format=json&since=30d', tokens.ACME_REPORT_TOKEN_T7);
    assert.equal(own.status, 200);
    const model = (await own.json()) as { tenantName: string; placement: { overall: { total: number } } };
    assert.equal(model.tenantName, 'Acme Corp');
    assert.equal(model.placement.overall.total, 20);
    assert.equal((await get('/api/v1/tenants/beta/report?format=json', tokens.ADMIN_TOKEN_T7)).status, 200);
    // A tenant token is not an admin token: it lists its own probes only, and the operator's endpoints stay closed.
    const listed = (await (await get('/api/v1/probes', tokens.ACME_REPORT_TOKEN_T7)).json()) as {
      probes: Array<{ tenant: string }>;
    };
    assert.ok(listed.probes.every((p) => p.tenant === 'acme'));
    assert.equal((await get('/metrics', tokens.ACME_REPORT_TOKEN_T7)).status, 403);
  });

  test('HTML and PDF over the API', async () => {
    const html = await get('/api/v1/tenants/acme/report?format=html', tokens.ADMIN_TOKEN_T7);
    assert.equal(html.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
    assert.match(
      html.headers.get('content-security-policy') ?? '',
      /default-src 'none'; script-src 'sha256-[^']+' 'sha256-[^']+';/,
    );
    assert.match(await html.text(), /Deliverability report: Acme Corp/);
    const pdf = await get('/api/v1/tenants/acme/report?format=pdf', tokens.ACME_REPORT_TOKEN_T7);
    assert.equal(pdf.status, 200);
    assert.equal(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
      '%PDF-',
    );
    assert.equal((await get('/api/v1/tenants/acme/report?format=doc', tokens.ADMIN_TOKEN_T7)).status, 400);
  });

  test('scaiprobe report --out FILE.json writes the same numbers', () => {
    const out = join(dir.dir, 'acme.json');
    const result = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'report',
        '--config',
        configFile,
        '--tenant',
        'acme',
        '--since',
        '30d',
        '--out',
        out,
      ],
      { encoding: 'utf8', env: process.env },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /20 probe messages, inbox 65\.0 %/);
    const model = JSON.parse(readFileSync(out, 'utf8')) as { timeToInbox: { p95: number } };
    assert.equal(model.timeToInbox.p95, 50_000);
    const unknown = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'report', '--config', configFile, '--tenant', 'nobody', '--out', out],
      { encoding: 'utf8', env: process.env },
    );
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no tenant named nobody; known: acme, beta/);
  });
});
