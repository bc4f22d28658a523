import { readFileSync } from 'node:fs';
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mailKind } from '../../src/probers/mail.ts';
import type { Prober } from '../../src/probers/kind.ts';
import type { StoredMessage } from '../../src/lab/smtp-ingress.ts';
import {
  deps,
  mailboxContents,
  mailSpec,
  run,
  seed,
  startTestMailLab,
  SUBMISSION_USER,
  type TestMailLab,
} from '../helpers/mail-lab.ts';

const LAB_CA = readFileSync(new URL('../../src/lab/tls/lab-ca.pem', import.meta.url), 'utf8');

// One private Dovecot + ingress + ScaiSend stand-in for the file; the test that stops Dovecot runs last.
describe('mail kind against real Dovecot', () => {
  let lab: TestMailLab;
  const probers: Prober[] = [];

  before(async () => {
    lab = await startTestMailLab();
  });
  after(async () => {
    await lab?.stop();
  });
  afterEach(async () => {
    lab.clearFaults();
    // Probers keep their IMAP connections across runs: release them as the scheduler does on shutdown.
    for (const prober of probers.splice(0)) await prober.close?.();
  });

  const apiProbe = (
    options: { timeoutMs?: number; expect?: string[]; extra?: Record<string, unknown>; name?: string } = {},
  ) => {
    const spec = mailSpec(
      {
        send: {
          api: lab.apiUrl,
          apiKey: 'SG.lab-tenant-a.key',
          from: 'probe@send.example.test',
          listUnsubscribe: 'https://send.example.test/unsubscribe',
        },
        seeds: [
          seed('seed-a', 'alice', lab.imapPort),
          seed('seed-b', 'bob', lab.imapPort, { junkFolder: 'Junk', authservId: undefined }),
        ],
        resolver: lab.dnsServer,
        ...options.extra,
      },
      {
        timeoutMs: options.timeoutMs ?? 15_000,
        expect: options.expect ?? ['missing == 0', 'spam == 0', 'timeToInboxMs.max < 60s'],
        name: options.name ?? 'mail-api',
      },
    );
    const prober = mailKind.create(spec, deps());
    probers.push(prober);
    return { spec, prober };
  };

  test('the issue example shape: both seeds in the inbox, auth judged, items stored, mailboxes left empty', async () => {
    const { spec, prober } = apiProbe();
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    const o = record.observations;
    assert.equal(o.inbox, 2);
    assert.equal(o.missing, 0);
    assert.equal(o['seed.seed-a.placement'], 'inbox');
    assert.equal(o['seed.seed-b.placement'], 'inbox');
    assert.equal(o['seed.seed-a.spf'], 'pass');
    assert.equal(o['seed.seed-a.dkim'], 'pass');
    assert.equal(o['seed.seed-a.dkimDomain'], 'send.example.test');
    assert.equal(o['seed.seed-a.dkimSelector'], 'scai1');
    assert.equal(o['seed.seed-a.dmarc'], 'pass');
    assert.equal(o['seed.seed-a.dmarcPolicy'], 'none');
    assert.equal(o['seed.seed-a.listUnsubscribe'], true);
    assert.equal(o['seed.seed-a.oneClick'], true);
    assert.equal(o['send.status'], 202);
    assert.equal(typeof o['send.messageId'], 'string');
    assert.ok(
      typeof o['timeToInboxMs.max'] === 'number' && o['timeToInboxMs.max'] < 5000,
      `time to inbox ${String(o['timeToInboxMs.max'])}`,
    );
    assert.equal(record.items.length, 2);
    const item = record.items.find((i) => i.key.startsWith('seed-a:'));
    assert.equal(item?.type, 'mail.message');
    assert.equal(item?.key, `seed-a:${String(o.token)}`);
    assert.equal(item?.data.placement, 'inbox');
    assert.equal(item?.data.folder, 'INBOX');
    assert.equal(item?.data.messageId, o['send.messageId']);
    assert.equal((item?.data.auth as { dkim: string }).dkim, 'pass');
    assert.deepEqual(await mailboxContents(lab.imapPort, 'alice'), []);
    assert.deepEqual(await mailboxContents(lab.imapPort, 'bob'), []);
  });

  test('delivered to Junk: placement spam, the assertion spam == 0 fails', async () => {
    const { spec, prober } = apiProbe();
    lab.setFaults({ mailJunk: true });
    const record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.equal(record.observations.spam, 2);
    assert.equal(record.observations['seed.seed-a.placement'], 'spam');
    assert.equal(record.observations['seed.seed-b.folder'], 'Junk');
    assert.equal(record.observations['timeToInboxMs.max'], null);
    assert.match(record.message, /spam == 0/);
    assert.deepEqual(await mailboxContents(lab.imapPort, 'bob'), []);
  });

  test('dropped with a short deadline: both missing, the run fails on missing == 0', async () => {
    const { spec, prober } = apiProbe({ timeoutMs: 3000 });
    lab.setFaults({ mailDrop: true });
    const started = Date.now();
    const record = await run(spec, prober);
    assert.ok(Date.now() - started < 3500, 'ended before the deadline');
    assert.equal(record.error, null);
    assert.equal(record.observations.missing, 2);
    assert.equal(record.observations['seed.seed-b.placement'], 'missing');
    assert.equal(record.status, 'fail');
    assert.match(record.message, /missing == 0/);
  });

  test('delayed delivery is waited for and its time to inbox measured', async () => {
    const { spec, prober } = apiProbe();
    lab.setFaults({ mailDelaySec: 1.5 });
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    const ms = record.observations['seed.seed-a.timeToInboxMs'] as number;
    assert.ok(ms >= 1500 && ms < 5000, `time to inbox ${ms}`);
  });

  test('DKIM failure and DMARC failure are seen', async () => {
    const { spec, prober } = apiProbe({ expect: ['seed.seed-a.dkim == "pass"'] });
    lab.setFaults({ mailDkimFail: true });
    let record = await run(spec, prober);
    assert.equal(record.observations['seed.seed-a.dkim'], 'fail');
    assert.equal(record.status, 'fail');
    lab.clearFaults();
    lab.setFaults({ mailDmarcFail: true, mailDmarcPolicy: 'reject' });
    record = await run(spec, prober);
    assert.equal(record.observations['seed.seed-a.dkim'], 'pass');
    assert.equal(record.observations['seed.seed-a.dmarc'], 'fail');
    assert.equal(record.observations['seed.seed-a.dmarcPolicy'], 'reject');
  });

  test('a good message: the lab verifier (dkimpy) and our own verdict (mailauth) both pass every signature', async () => {
    const { spec, prober } = apiProbe({
      expect: ['seed.seed-a.own.dkim == "pass"', 'seed.seed-a.own.dmarc == "pass"'],
    });
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    const o = record.observations;
    assert.equal(o['seed.seed-a.dkim'], 'pass');
    assert.equal(o['seed.seed-a.own.dkim'], 'pass');
    assert.equal(o['seed.seed-a.own.dkimSignatures'], 2);
    assert.deepEqual(
      [1, 2].map((n) =>
        ['domain', 'selector', 'algorithm', 'result', 'bodyHash', 'keyBits', 'aligned'].map(
          (key) => o[`seed.seed-a.own.dkim${n}.${key}`],
        ),
      ),
      [
        ['send.example.test', 'scai1', 'rsa-sha256', 'pass', 'ok', 2048, true],
        ['send.example.test', 'scai1-ed', 'ed25519-sha256', 'pass', 'ok', 256, true],
      ],
    );
    assert.equal(o['seed.seed-a.own.dkimAligned'], true);
    assert.equal(o['seed.seed-a.own.dmarc'], 'pass');
    assert.equal(o['seed.seed-a.own.dmarcPolicy'], 'none');
    assert.equal(o['seed.seed-a.own.dmarcDkimAligned'], true);
    // The envelope sender is the stand-in's bounce domain: SPF passes, unaligned (DMARC rests on DKIM).
    assert.equal(o['seed.seed-a.own.dmarcSpfAligned'], false);
    assert.equal(o['seed.seed-a.own.spf'], 'pass');
    assert.equal(o['seed.seed-a.spf'], 'pass');
    assert.equal(o['seed.seed-a.own.spfIp'], '127.0.0.1');
    assert.equal(o['seed.seed-a.own.arc'], 'none');
    assert.equal(o['seed.seed-b.own.dkim'], 'pass');
    assert.doesNotMatch(record.message, /DKIM signature|provider says/);
    const item = record.items.find((i) => i.key.startsWith('seed-a:'));
    assert.equal((item?.data.own as { dkim: string } | null)?.dkim, 'pass');
  });

  test('the body altered in transit after signing: the lab verifier says dkim=fail, our verdict agrees, the run message names the failing signatures', async () => {
    const { spec, prober } = apiProbe({ expect: ['seed.seed-a.own.dkim == "pass"'] });
    lab.setFaults({ mailDkimFail: true });
    const record = await run(spec, prober);
    const o = record.observations;
    assert.equal(record.status, 'fail');
    assert.equal(o['seed.seed-a.dkim'], 'fail', 'the provider-side header: what the lab verifier saw');
    assert.equal(o['seed.seed-a.own.dkim'], 'fail');
    assert.equal(o['seed.seed-a.own.dkim1.bodyHash'], 'mismatch');
    assert.equal(o['seed.seed-a.own.dkim2.bodyHash'], 'mismatch');
    assert.equal(o['seed.seed-a.dmarc'], 'fail');
    assert.equal(o['seed.seed-a.own.dmarc'], 'fail');
    assert.match(
      record.message,
      /seed-a: DKIM signature d=send\.example\.test s=scai1 \(rsa-sha256\) fail: body hash mismatch: the body was altered after signing/,
    );
    assert.match(record.message, /seed-a: DKIM signature d=send\.example\.test s=scai1-ed \(ed25519-sha256\) fail/);
    assert.doesNotMatch(record.message, /provider says/, 'both verdicts agree');
  });

  test('SPF and DMARC switches: both verdicts see a relay not in the SPF record, and a signature not aligned with From', async () => {
    const { spec, prober } = apiProbe();
    lab.setFaults({ mailSpfFail: true });
    let record = await run(spec, prober);
    let o = record.observations;
    assert.deepEqual(
      [o['seed.seed-a.spf'], o['seed.seed-a.own.spf'], o['seed.seed-a.own.spfIp']],
      ['fail', 'fail', '127.0.0.2'],
    );
    assert.deepEqual([o['seed.seed-a.dmarc'], o['seed.seed-a.own.dmarc']], ['pass', 'pass']);
    lab.clearFaults();
    lab.setFaults({ mailDmarcFail: true, mailDmarcPolicy: 'quarantine' });
    record = await run(spec, prober);
    o = record.observations;
    assert.deepEqual([o['seed.seed-a.dkim'], o['seed.seed-a.own.dkim']], ['pass', 'pass']);
    assert.equal(o['seed.seed-a.own.dkim1.domain'], 'scaisend.test');
    assert.equal(o['seed.seed-a.own.dkimAligned'], false);
    assert.deepEqual([o['seed.seed-a.dmarc'], o['seed.seed-a.own.dmarc']], ['fail', 'fail']);
    assert.deepEqual([o['seed.seed-a.dmarcPolicy'], o['seed.seed-a.own.dmarcPolicy']], ['quarantine', 'quarantine']);
  });

  test('a forged Authentication-Results below the trusted one is ignored', async () => {
    const forged =
      'mx.example.test; spf=pass smtp.mailfrom=send.example.test; dkim=pass header.d=send.example.test header.s=forged; dmarc=pass (p=reject)';
    const { spec, prober } = apiProbe({
      extra: {
        send: {
          api: lab.apiUrl,
          apiKey: 'SG.lab-tenant-a.key',
          from: 'probe@send.example.test',
          headers: { 'Authentication-Results': forged },
        },
      },
    });
    lab.setFaults({ mailDkimFail: true });
    const record = await run(spec, prober);
    assert.equal(record.observations['seed.seed-a.dkim'], 'fail');
    assert.equal(record.observations['seed.seed-a.dkimSelector'], 'scai1');
    assert.equal(record.observations['seed.seed-a.dmarcPolicy'], 'none');
  });

  test('429 and 5xx on send fail the run with the API error text; 401 is AUTH', async () => {
    const { spec, prober } = apiProbe();
    lab.setFaults({ send429: true });
    let record = await run(spec, prober);
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'PROTOCOL');
    assert.match(record.error?.message ?? '', /429: too many requests/);
    lab.clearFaults();
    lab.setFaults({ send5xx: 503 });
    record = await run(spec, prober);
    assert.match(record.error?.message ?? '', /503: internal error \(lab fault: 503\)/);
    lab.clearFaults();
    const bad = apiProbe({ extra: { send: { api: lab.apiUrl, apiKey: 'SG.wrong', from: 'probe@send.example.test' } } });
    record = await run(bad.spec, bad.prober);
    assert.equal(record.error?.code, 'AUTH');
    assert.match(record.error?.message ?? '', /401: The provided authorization grant is invalid/);
  });

  test('stale probe messages of an interrupted run are swept; cleanup leaves mailboxes empty', async () => {
    const { spec, prober } = apiProbe({ name: 'mail-sweep' });
    const stale = Buffer.from(
      'From: probe@send.example.test\r\nTo: alice@example.test\r\nSubject: [scaiprobe] mail-sweep sp-00112233445566aa\r\n\r\nleft over\r\n',
    );
    await lab.lab.dovecot.deliver('alice', 'INBOX', stale, 'probe@send.example.test');
    await lab.lab.dovecot.deliver('bob', 'Junk', stale, 'probe@send.example.test');
    const other = Buffer.from('From: someone@else.test\r\nSubject: a real message\r\n\r\nkeep me\r\n');
    await lab.lab.dovecot.deliver('alice', 'INBOX', other, 'someone@else.test');
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    assert.equal(record.observations['cleanup.swept'], 2);
    assert.deepEqual(await mailboxContents(lab.imapPort, 'alice'), [{ folder: 'INBOX', subject: 'a real message' }]);
    assert.deepEqual(await mailboxContents(lab.imapPort, 'bob'), []);
  });

  test('a message filed in another folder is found there at the deadline and removed', async () => {
    const { spec, prober } = apiProbe({ timeoutMs: 3000, expect: ['missing == 0', 'other == 2'] });
    lab.setFaults({ mailFolder: 'Trash' });
    const record = await run(spec, prober);
    assert.equal(record.observations.other, 2);
    assert.equal(record.observations['seed.seed-a.placement'], 'other:Trash');
    assert.equal(record.observations['seed.seed-a.dkim'], 'pass');
    assert.equal(record.status, 'pass', record.message);
    const left = await mailboxContents(lab.imapPort, 'alice');
    assert.deepEqual(
      left.filter((m) => m.subject.includes('[scaiprobe]')),
      [],
    );
  });

  test('SMTP send path (nodemailer to the ingress)', async () => {
    const spec = mailSpec(
      {
        // The ingress offers STARTTLS under the lab's CA, as an MX does: the sender trusts that CA.
        send: {
          via: 'smtp',
          smtp: { host: '127.0.0.1', port: lab.smtpPort, tls: { ca: LAB_CA } },
          from: 'probe@send.example.test',
        },
        seeds: [seed('seed-c', 'carol', lab.imapPort)],
      },
      { name: 'mail-smtp', expect: ['inbox == 1'] },
    );
    const prober = mailKind.create(spec, deps());
    probers.push(prober);
    const record = await run(spec, prober);
    assert.equal(record.status, 'pass', record.message);
    assert.equal(record.observations['send.status'], 250);
    assert.equal(record.observations['seed.seed-c.placement'], 'inbox');
    assert.equal(record.observations['seed.seed-c.spf'], 'pass');
    assert.equal(record.observations['seed.seed-c.dkim'], 'none');
    assert.deepEqual(await mailboxContents(lab.imapPort, 'carol'), []);
  });

  const submissionProbe = (smtp: Record<string, unknown>, name: string) => {
    const spec = mailSpec(
      {
        send: {
          via: 'smtp',
          smtp: { host: '127.0.0.1', port: lab.submissionPort, ...smtp },
          from: 'probe@send.example.test',
        },
        seeds: [seed('seed-c', 'carol', lab.imapPort)],
      },
      { name, expect: ['inbox == 1'] },
    );
    const prober = mailKind.create(spec, deps());
    probers.push(prober);
    return { spec, prober };
  };
  /** Runs `body` while recording how the submission ingress saw each stored message. */
  const watchSubmission = async <T>(body: () => Promise<T>): Promise<{ result: T; stored: StoredMessage[] }> => {
    const stored: StoredMessage[] = [];
    const events = lab.lab.submission!.events;
    const listener = (event: StoredMessage) => stored.push(event);
    events.on('stored', listener);
    try {
      return { result: await body(), stored };
    } finally {
      events.off('stored', listener);
    }
  };

  test('SMTP submission: EHLO, STARTTLS when offered (trusting a CA), AUTH when configured', async () => {
    const { spec, prober } = submissionProbe(
      { user: SUBMISSION_USER.user, pass: SUBMISSION_USER.pass, tls: { ca: lab.testCa } },
      'mail-submission',
    );
    const { result: record, stored } = await watchSubmission(() => run(spec, prober));
    assert.equal(record.status, 'pass', record.message);
    assert.equal(record.observations['seed.seed-c.placement'], 'inbox');
    assert.equal(stored.length, 1);
    assert.deepEqual(
      { greeting: stored[0]?.greeting, tls: stored[0]?.tls, authUser: stored[0]?.authUser },
      { greeting: 'EHLO', tls: true, authUser: 'submit' },
    );
    assert.deepEqual(await mailboxContents(lab.imapPort, 'carol'), []);
  });

  test('SMTP submission: tls.insecure skips verification; without it an untrusted certificate is a TLS error', async () => {
    const insecure = submissionProbe(
      { user: SUBMISSION_USER.user, pass: SUBMISSION_USER.pass, tls: { insecure: true } },
      'mail-submission-insecure',
    );
    const { result: record, stored } = await watchSubmission(() => run(insecure.spec, insecure.prober));
    assert.equal(record.status, 'pass', record.message);
    assert.equal(stored[0]?.tls, true);

    const strict = submissionProbe(
      { user: SUBMISSION_USER.user, pass: SUBMISSION_USER.pass },
      'mail-submission-strict',
    );
    const refused = await watchSubmission(() => run(strict.spec, strict.prober));
    assert.equal(refused.result.status, 'fail');
    assert.equal(refused.result.error?.code, 'TLS', refused.result.error?.message);
    assert.equal(refused.stored.length, 0);
  });

  test('SMTP submission: a wrong password is an AUTH error; no AUTH where the server requires it is refused', async () => {
    const wrong = submissionProbe(
      { user: SUBMISSION_USER.user, pass: 'not-the-password', tls: { ca: lab.testCa } },
      'mail-submission-badpass',
    );
    const { result: record, stored } = await watchSubmission(() => run(wrong.spec, wrong.prober));
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'AUTH');
    assert.match(
      record.error?.message ?? '',
      /SMTP 127\.0\.0\.1:\d+ refused the login: 535 5\.7\.8 Authentication credentials invalid/,
    );
    assert.equal(stored.length, 0);

    const anonymous = submissionProbe({ tls: { ca: lab.testCa } }, 'mail-submission-noauth');
    const noAuth = await run(anonymous.spec, anonymous.prober);
    assert.equal(noAuth.status, 'fail');
    assert.equal(noAuth.error?.code, 'PROTOCOL');
    assert.match(noAuth.error?.message ?? '', /send refused: SMTP .* answered 530/);
  });

  test('/v3/stats and /v3/stats/sum count what the stand-in handled, per tenant', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const get = async (path: string, key = 'SG.lab-tenant-a.key') => {
      const response = await fetch(`${lab.apiUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: response.status, body: (await response.json()) as unknown };
    };
    const sum = await get('/v3/stats/sum?start_date=today');
    const metrics = (sum.body as { metrics: Record<string, number> }).metrics;
    assert.equal(sum.status, 200);
    assert.ok((metrics.requests ?? 0) >= 10, `requests ${metrics.requests}`);
    assert.ok(
      (metrics.delivered ?? 0) >= 8 && (metrics.delivered ?? 0) < (metrics.requests ?? 0),
      `delivered ${metrics.delivered}`,
    );
    const daily = await get(`/v3/stats?start_date=${today}&aggregated_by=day`);
    assert.deepEqual(daily.body, [{ date: today, stats: [{ metrics }] }]);
    const other = await get('/v3/stats/sum?start_date=today', 'SG.lab-tenant-b.key');
    assert.equal((other.body as { metrics: Record<string, number> }).metrics.requests, 0);
    assert.equal((await get('/v3/stats/sum')).status, 400);
    assert.equal((await get('/v3/stats/sum?start_date=today', 'nope')).status, 401);
  });

  test('Dovecot stopped mid-wait: a failed run with a clear reason, and the next run fails cleanly too', async () => {
    const { spec, prober } = apiProbe({ timeoutMs: 8000 });
    lab.setFaults({ mailDelaySec: 5 });
    const pending = run(spec, prober);
    await new Promise((r) => setTimeout(r, 700));
    await lab.lab.dovecot.stop();
    const record = await pending;
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'CONNECT');
    assert.match(
      record.error?.message ?? '',
      /seed seed-[ab]: IMAP connection to .* closed while waiting for the probe message; reconnecting failed/,
    );
    const again = await run(spec, prober);
    assert.equal(again.error?.code, 'CONNECT');
    assert.match(
      again.error?.message ?? '',
      /seed seed-[ab]: IMAP (alice|bob)@127\.0\.0\.1:\d+: .*ECONNREFUSED|refused/,
    );
    console.log(`mid-wait: ${record.message}\nnext run: ${again.message}`);
  });
});
