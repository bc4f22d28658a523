import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { browserKind } from '../../src/probers/browser.ts';
import { mailboxContents, run } from '../helpers/mail-lab.ts';
import { specFor } from '../helpers/probe-run.ts';
import { startBrowserLab, type BrowserLab } from '../helpers/browser-lab.ts';

// One private Dovecot + SMTP ingress + ScaiSend stand-in (with tracking) for the file, and real Chromium.
describe('browser kind against the lab', () => {
  let h: BrowserLab;
  let lab: BrowserLab['lab'];
  let shots: { dir: string };

  before(async () => {
    h = await startBrowserLab();
    lab = h.lab;
    shots = { dir: h.shotsDir };
  });
  after(async () => {
    await h?.stop();
  });
  afterEach(async () => {
    lab.clearFaults();
    await h.closeProbers();
  });

  const landing = (name: string) => h.landing(name);
  const sendProbeMail = (tracking: boolean, extraHtml = '') => h.sendProbeMail(tracking, extraHtml);
  const browserProbe = (raw: Record<string, unknown>, expect?: string[]) => h.browserProbe(raw, expect);
  const mailMode = (extra: Record<string, unknown> = {}, expect?: string[]) => h.mailMode(extra, expect);

  const statsSum = async () => {
    const today = new Date().toISOString().slice(0, 10);
    const response = await fetch(`${lab.apiUrl}/v3/stats/sum?start_date=${today}`, {
      headers: { authorization: 'Bearer SG.lab-tenant-a.key' },
    });
    return ((await response.json()) as { metrics: Record<string, number> }).metrics;
  };

  test('tracking on: the pixel loads, each link goes through two redirects to its landing page, and the stats count both', async () => {
    const token = await sendProbeMail(true);
    const before = await statsSum();
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    const o = record.observations;
    assert.ok(String(o['message.subject']).includes(token), `opened ${String(o['message.subject'])}, sent ${token}`);
    assert.equal(o['pixel.found'], true);
    assert.equal(o['pixel.loaded'], true);
    assert.equal(o['links.count'], 2);
    assert.equal(o['links.ok'], 2);
    assert.equal(o['links.tracked'], 2);
    assert.match(String(o['link.1.url']), /\/t\/c\?id=/);
    assert.equal(o['link.1.finalUrl'], landing('welcome'));
    // &amp; in the HTML is a plain & in the landing URL the redirect ends at.
    assert.equal(o['link.2.finalUrl'], `${landing('pricing')}?from=mail&t=${token}`);
    assert.equal(o['link.1.status'], 200);
    assert.equal(o['link.1.hops'], 2);
    assert.equal(typeof o['link.1.ms'], 'number');
    assert.equal(o['stats.opensCounted'], true);
    assert.equal(o['stats.clicksCounted'], true);
    assert.equal(o['stats.clicks'], 2);
    assert.equal(o.screenshot, undefined);
    const after = await statsSum();
    assert.equal(after.clicks! - before.clicks!, 2);
    assert.ok(after.opens! > before.opens!);
    assert.ok(after.unique_clicks! >= 1 && after.unique_opens! >= 1);
    assert.match(record.message, /2\/2 links reached their landing page \(2 through a redirect\), open pixel loaded/);
  });

  test('tracking off: links go straight to the landing page, no pixel, nothing counted; keepLatest leaves one probe message', async () => {
    await sendProbeMail(true);
    const token = await sendProbeMail(false);
    const messages = (await mailboxContents(lab.imapPort, 'alice')).filter((m) => m.subject.includes('mail-lab'));
    assert.equal(messages.length, 1, JSON.stringify(messages));
    assert.ok(messages[0]!.subject.includes(token));
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    const o = record.observations;
    assert.equal(o['links.count'], 2);
    assert.equal(o['links.ok'], 2);
    assert.equal(o['links.tracked'], 0);
    assert.equal(o['link.1.hops'], 0);
    assert.equal(o['link.1.url'], landing('welcome'));
    assert.equal(o['pixel.found'], false);
    assert.equal(o['stats.opensCounted'], false);
    assert.equal(o['stats.clicksCounted'], false);
    // Nothing failed in the page; with an assertion on the counters the run fails and says why.
    assert.equal(record.status, 'pass', record.message);
    const strict = mailMode({ stats: { api: lab.apiUrl, apiKey: 'SG.lab-tenant-a.key', wait: '300ms' } }, [
      'failed == 0',
      'stats.opensCounted == true',
    ]);
    const failed = await run(strict.spec, strict.prober);
    assert.equal(failed.status, 'fail');
    assert.match(failed.message, /stats\.opensCounted/);
  });

  test('the lab switch forces tracking on for a send that did not ask for it', async () => {
    lab.setFaults({ trackingForce: true });
    await sendProbeMail(false);
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    assert.equal(record.observations['links.tracked'], 2);
    assert.equal(record.observations['pixel.loaded'], true);
  });

  test('tracking broken (500): the run fails naming the link and status, a screenshot is kept, clicks are not counted', async () => {
    await sendProbeMail(true);
    lab.setFaults({ trackingBroken: true });
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    const o = record.observations;
    assert.equal(o['links.ok'], 0);
    assert.equal(o['link.1.status'], 500);
    assert.equal(o['link.1.ok'], false);
    assert.match(record.message, /link 1 http:.*\/t\/c\?id=\S+: answered 500/);
    assert.equal(o['stats.clicksCounted'], false);
    assert.equal(o['stats.opensCounted'], true);
    const shot = String(o.screenshot);
    assert.ok(shot.startsWith(shots.dir), shot);
    assert.ok(record.message.includes(shot));
    const png = await readFile(shot);
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  test('tracking broken (redirect loop): the run fails with the loop as the reason, not a crash', async () => {
    await sendProbeMail(true);
    lab.setFaults({ trackingBroken: 'loop' });
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.equal(record.error, null, JSON.stringify(record.error));
    assert.match(String(record.observations['link.1.error']), /ERR_TOO_MANY_REDIRECTS/);
    assert.ok(Number(record.observations['link.1.hops']) >= 10, `hops ${String(record.observations['link.1.hops'])}`);
    assert.match(record.message, /ERR_TOO_MANY_REDIRECTS/);
  });

  test('a landing page other than expected fails the link', async () => {
    await sendProbeMail(true);
    const { spec, prober } = mailMode({ landing: ['/landing/welcome$', '/landing/signup'] });
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.equal(record.observations['link.1.ok'], true);
    assert.equal(record.observations['link.2.ok'], false);
    assert.match(record.message, /link 2 .*does not match \/landing\/signup/);
  });

  test('a tracked link redirecting to a host outside allowHosts is blocked before Chromium reaches it', async () => {
    // *.localhost resolves to loopback inside Chromium (no DNS), but is not on the allowed list.
    const outside = lab.apiUrl.replace('127.0.0.1', 'outside.localhost');
    await sendProbeMail(true, ` <a href="${outside}/landing/welcome">Elsewhere</a>`);
    const hosts: string[] = [];
    const onRequest = (req: { headers: { host?: string } }) => hosts.push(req.headers.host ?? '');
    lab.scaisend.server.on('request', onRequest);
    try {
      const { spec, prober } = mailMode();
      const record = await run(spec, prober);
      assert.equal(record.status, 'fail');
      assert.equal(record.observations['links.count'], 3);
      assert.equal(record.observations['links.ok'], 2);
      assert.match(
        String(record.observations['link.3.error']),
        /ERR_BLOCKED_BY_CLIENT/,
        record.message + JSON.stringify(record.observations),
      );
      assert.match(String(record.observations['link.3.finalUrl']), /^http:\/\/127\.0\.0\.1:\d+\/t\//);
      assert.ok(Number(record.observations['requests.blocked']) >= 1);
      assert.match(record.message, /link 3 .*ERR_BLOCKED_BY_CLIENT/);
      assert.ok(hosts.length > 0 && hosts.every((host) => host.startsWith('127.0.0.1')), JSON.stringify(hosts));
    } finally {
      lab.scaisend.server.off('request', onRequest);
    }
  });

  test('no probe message: a clear PROTOCOL error', async () => {
    const { spec, prober } = browserProbe({
      mail: {
        probe: 'no-such-probe',
        imap: { host: '127.0.0.1', port: lab.imapPort, secure: false, user: 'carol', pass: 'carolpw' },
      },
    });
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'PROTOCOL');
    assert.match(record.error?.message ?? '', /no message of mail probe "no-such-probe".*keepLatest/);
  });

  test('config: a probe needs mail or steps; stats applies to mail mode; bad regex rejected', () => {
    assert.throws(() => specFor(browserKind, {}), /set mail .*or steps/);
    assert.throws(
      () =>
        specFor(browserKind, {
          steps: [{ goto: 'http://127.0.0.1:1/' }],
          stats: { api: 'http://127.0.0.1:1', apiKey: 'k' },
        }),
      /mail mode only/,
    );
    assert.throws(() => specFor(browserKind, { steps: [{ goto: 'http://127.0.0.1:1/' }, { expectUrl: '(' }] }));
    assert.throws(() => specFor(browserKind, { steps: [{ goto: 'http://127.0.0.1:1/', click: 'a' }] }));
  });
});
