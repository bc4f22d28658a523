import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { browserKind } from '../../src/probers/browser.ts';
import { appendMessage, run } from '../helpers/mail-lab.ts';
import { runYaml } from '../helpers/run.ts';
import { specFor } from '../helpers/probe-run.ts';
import { startBrowserLab, type BrowserLab } from '../helpers/browser-lab.ts';

// Anyone can mail a seed: what the browser probe opens, runs and reaches (its own lab; real Dovecot and Chromium).
describe('browser probe and untrusted mail', () => {
  let h: BrowserLab;
  let lab: BrowserLab['lab'];
  let shots: { dir: string };
  // Another loopback server (as the daemon's API or a lab service would be): no message may reach it.
  let other: { server: Server; url: string; hits: string[] };

  before(async () => {
    h = await startBrowserLab();
    lab = h.lab;
    shots = { dir: h.shotsDir };
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('reached');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    other = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
  });
  after(async () => {
    await h?.stop();
    other?.server.close();
  });
  afterEach(async () => {
    other.hits.splice(0);
    await h.closeProbers();
  });

  const landing = (name: string) => h.landing(name);
  const sendProbeMail = (tracking: boolean, extraHtml = '') => h.sendProbeMail(tracking, extraHtml);
  // No stats: what is opened and reached is the question here, not what ScaiSend counted.
  const mailMode = (extra: Record<string, unknown> = {}, expect?: string[]) =>
    h.mailMode({ stats: undefined, ...extra }, expect);
  const aliceInbox = () => ({ host: '127.0.0.1', port: lab.imapPort, secure: false, user: 'alice', pass: 'alicepw' });

  /** A message anyone could mail a seed: the mail probe's subject marker, a token of the sender's choosing, bait pointing at the other server. */
  const forgedMail = (user: string, subject: string, headerToken: string | undefined, bait: string) =>
    [
      'From: Attacker <attacker@evil.test>',
      `To: ${user}@example.test`,
      `Subject: ${subject}`,
      ...(headerToken ? [`X-Scaiprobe-Id: ${headerToken}`] : []),
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${bait}@evil.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      `<html><body><img src="${other.url}/${bait}.gif" width="1" height="1"><a href="${other.url}/${bait}">Claim</a><script>fetch('${other.url}/${bait}-script')</script></body></html>`,
      '',
    ].join('\r\n');
  const UNKNOWN_TOKEN = 'sp-00000000deadbeef';

  test('only the message whose token the mail probe sent is opened: forged ones with its marker are passed over, never rendered', async () => {
    const token = await sendProbeMail(false);
    // Each arrives after the real one, so "the newest message with the marker" would be a forgery.
    await appendMessage(
      lab.imapPort,
      'alice',
      forgedMail('alice', `[scaiprobe] mail-lab ${UNKNOWN_TOKEN}`, UNKNOWN_TOKEN, 'unknown-token'),
    );
    await appendMessage(
      lab.imapPort,
      'alice',
      forgedMail('alice', `[scaiprobe] mail-lab ${token}`, UNKNOWN_TOKEN, 'subject-token-only'),
    );
    await appendMessage(
      lab.imapPort,
      'alice',
      forgedMail('alice', `[scaiprobe] mail-lab ${UNKNOWN_TOKEN}`, undefined, 'no-header'),
    );
    await appendMessage(
      lab.imapPort,
      'alice',
      forgedMail('alice', `[scaiprobe] mail-lab ${token}`, token, 'copied-token'),
    );
    const { spec, prober } = mailMode();
    const record = await run(spec, prober);
    const o = record.observations;
    assert.deepEqual(other.hits, [], 'a forged message was rendered');
    assert.equal(o['message.token'], token, record.message);
    assert.ok(String(o['message.subject']).endsWith(token));
    assert.equal(o['messages.rejected'], 4);
    assert.equal(o['links.ok'], 2);
    assert.equal(record.error, null);
    // Not a failure of the probe, but the run says what it found.
    assert.equal(record.status, 'warn', record.message);
    assert.match(
      record.message,
      /passed over 4 messages with mail probe "mail-lab"'s subject marker that it did not send, unopened/,
    );
  });

  test('a folder with only forged probe mail: the run fails saying what it passed over, and renders nothing', async () => {
    await sendProbeMail(false);
    await appendMessage(
      lab.imapPort,
      'bob',
      forgedMail('bob', `[scaiprobe] mail-lab ${UNKNOWN_TOKEN}`, UNKNOWN_TOKEN, 'only-forged'),
    );
    const { spec, prober } = mailMode({
      mail: {
        probe: 'mail-lab',
        imap: { host: '127.0.0.1', port: lab.imapPort, secure: false, user: 'bob', pass: 'bobpw' },
      },
    });
    const record = await run(spec, prober);
    assert.deepEqual(other.hits, []);
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'PROTOCOL');
    assert.match(
      record.error?.message ?? '',
      /no message of mail probe "mail-lab" with a token it sent .* in bob's INBOX.*passed over a message .*"\[scaiprobe\] mail-lab sp-00000000deadbeef", a token the mail probe did not send/,
    );
    assert.equal(record.observations['messages.rejected'], 1);
  });

  test("the message renders with JavaScript off and reaches only its own links' hosts: another loopback server receives nothing", async () => {
    const apiRequests: string[] = [];
    const onRequest = (req: { url?: string }) => apiRequests.push(req.url ?? '');
    const script = `<script>new Image().src = '${landing('welcome')}?js=ran'; fetch('${other.url}/script-fetch');</script>`;
    await sendProbeMail(
      false,
      `<img src="${other.url}/image.gif"><link rel="stylesheet" href="${other.url}/style.css"><iframe src="${other.url}/frame"></iframe><script src="${other.url}/script.js"></script>${script}`,
    );
    lab.scaisend.server.on('request', onRequest);
    try {
      const { spec, prober } = mailMode();
      const record = await run(spec, prober);
      const o = record.observations;
      assert.deepEqual(other.hits, [], 'the other loopback server was reached');
      assert.ok(
        !apiRequests.some((url) => url.includes('js=ran')),
        `a script of the message ran: ${apiRequests.join(', ')}`,
      );
      assert.deepEqual(o['requests.allowed'], [new URL(lab.apiUrl).host]);
      assert.ok(Number(o['requests.blocked']) >= 3, JSON.stringify(o));
      assert.equal(o['links.ok'], 2);
      assert.equal(o['browser.sandbox'], process.getuid?.() !== 0);
      assert.equal(record.status, 'warn');
      assert.match(record.message, /blocked requests to hosts the probe does not allow: http:\/\/127\.0\.0\.1:\d+\//);
    } finally {
      lab.scaisend.server.off('request', onRequest);
    }
  });

  test('trackingHost and allowHosts add hosts the message may reach', async () => {
    const extra = `<img src="${other.url}/logo.png">`;
    await sendProbeMail(false, extra);
    const { spec, prober } = mailMode({
      mail: { probe: 'mail-lab', imap: aliceInbox(), trackingHost: new URL(other.url).host },
      allowHosts: ['cdn.example.test'],
    });
    const record = await run(spec, prober);
    assert.deepEqual(other.hits, ['/logo.png']);
    assert.deepEqual(record.observations['requests.allowed'], [
      new URL(lab.apiUrl).host,
      new URL(other.url).host,
      'cdn.example.test',
    ]);
    assert.equal(record.observations['requests.blocked'], 0);
    assert.equal(record.status, 'pass', record.message);
    assert.throws(
      () => specFor(browserKind, { steps: [{ goto: 'http://127.0.0.1:1/' }], allowHosts: ['http://cdn.example/'] }),
      /host name or address, optionally with :port/,
    );
  });

  test('through the engine without a store (scaiprobe check), the browser probe opens the message its mail probe sent in the same check', async () => {
    const results = await runYaml(
      `probes:
  - name: mail-roundtrip
    kind: mail
    every: 1m
    timeout: 20s
    send: { api: "${lab.apiUrl}", apiKey: "\${API_KEY}", from: probe@send.example.test, html: '<p>{{token}} <a href="${landing('welcome')}">Welcome</a></p>' }
    seeds: [{ name: seed-a, address: alice@example.test, imap: { host: 127.0.0.1, port: ${lab.imapPort}, secure: false, user: alice, pass: "\${ALICE_PASS}" } }]
    resolver: "${lab.dnsServer}"
    keepLatest: true
  - name: mail-tracking
    kind: browser
    every: 2m
    timeout: 30s
    mail: { probe: mail-roundtrip, imap: { host: 127.0.0.1, port: ${lab.imapPort}, secure: false, user: alice, pass: "\${ALICE_PASS}" }, waitForMessage: 20s }
    screenshots: { dir: "${shots.dir}" }
`,
      { env: { API_KEY: 'SG.lab-tenant-a.key', ALICE_PASS: 'alicepw' } },
    );
    const mail = results.get('mail-roundtrip');
    const browser = results.get('mail-tracking');
    assert.equal(mail?.status, 'pass', mail?.message);
    assert.equal(browser?.status, 'pass', browser?.message);
    assert.equal(browser?.observations['message.token'], mail?.observations.token);
  });
});
