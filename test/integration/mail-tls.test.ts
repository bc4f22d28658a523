import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { mailKind } from '../../src/probers/mail.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { startSmtpIngress, type RunningIngress, type StoredMessage } from '../../src/lab/smtp-ingress.ts';
import { LAB_AUTHSERV_ID } from '../../src/lab/mail-lab.ts';
import { freePort } from '../../src/lab/processes.ts';
import {
  deps,
  mailSpec,
  run,
  seed,
  startTestMailLab,
  SUBMISSION_USER,
  USERS,
  type TestMailLab,
} from '../helpers/mail-lab.ts';

const fixture = (name: string) => readFileSync(`test/fixtures/tls/${name}`, 'utf8');

// `localhost` is a name, not a loopback address written as one: credentials to it must go encrypted
// unless requireTLS: false says otherwise (127.0.0.1 is the exception, see requiresTls).
describe('STARTTLS where credentials are sent, against real Dovecot and SMTP servers', () => {
  let plain: TestMailLab;
  let encrypted: TestMailLab;
  /** SMTP with AUTH and no STARTTLS, storing into the plain lab's Dovecot. */
  let cleartextSubmission: RunningIngress;
  let cleartextPort: number;
  const probers: Prober[] = [];

  before(async () => {
    [plain, encrypted] = await Promise.all([startTestMailLab(), startTestMailLab(USERS, { imapTls: true })]);
    cleartextPort = await freePort();
    cleartextSubmission = await startSmtpIngress({
      port: cleartextPort,
      authservId: LAB_AUTHSERV_ID,
      authenticate: plain.lab.authenticate,
      deliver: plain.lab.dovecot.deliver,
      faults: () => ({}),
      users: { [SUBMISSION_USER.user]: SUBMISSION_USER.pass },
    });
  });
  after(async () => {
    await cleartextSubmission?.stop();
    await Promise.all([plain?.stop(), encrypted?.stop()]);
  });
  afterEach(async () => {
    for (const prober of probers.splice(0)) await prober.close?.();
  });

  const probe = (
    lab: TestMailLab,
    imap: Record<string, unknown>,
    options: { send?: Record<string, unknown>; name: string },
  ) => {
    const spec = mailSpec(
      {
        send: options.send ?? { api: lab.apiUrl, apiKey: 'SG.lab-tenant-a.key', from: 'probe@send.example.test' },
        seeds: [
          seed('seed-c', 'carol', lab.imapPort, {
            imap: { host: '127.0.0.1', port: lab.imapPort, secure: false, user: 'carol', pass: USERS.carol, ...imap },
          }),
        ],
      },
      { name: options.name, expect: ['inbox == 1'] },
    );
    const prober = mailKind.create(spec, deps());
    probers.push(prober);
    return run(spec, prober);
  };
  const stored = async <T>(
    ingress: RunningIngress,
    body: () => Promise<T>,
  ): Promise<{ result: T; stored: StoredMessage[] }> => {
    const seen: StoredMessage[] = [];
    const listener = (event: StoredMessage) => seen.push(event);
    ingress.events.on('stored', listener);
    try {
      return { result: await body(), stored: seen };
    } finally {
      ingress.events.off('stored', listener);
    }
  };

  test('IMAP without STARTTLS at a network name: no login, a TLS failure that says why', async () => {
    const record = await probe(plain, { host: 'localhost' }, { name: 'imap-required' });
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'TLS', record.message);
    assert.match(
      record.error?.message ?? '',
      /IMAP carol@localhost:\d+: the server offers no STARTTLS, and the password is not sent unencrypted \(requireTLS, the default with a password; set requireTLS: false to send it anyway\)/,
    );
  });

  test('IMAP requireTLS: false logs in without TLS, and the run message says so; so does a loopback address', async () => {
    const allowed = await probe(plain, { host: 'localhost', requireTLS: false }, { name: 'imap-allowed' });
    assert.equal(allowed.status, 'pass', allowed.message);
    assert.match(
      allowed.message,
      new RegExp(
        `IMAP localhost:${plain.imapPort} offers no STARTTLS: the password went unencrypted \\(requireTLS: false\\)`,
      ),
    );
    const loopback = await probe(plain, {}, { name: 'imap-loopback' });
    assert.equal(loopback.status, 'pass', loopback.message);
    assert.match(
      loopback.message,
      new RegExp(
        `IMAP 127\\.0\\.0\\.1:${plain.imapPort} offers no STARTTLS: the password went unencrypted \\(loopback address\\)`,
      ),
    );
  });

  test('IMAP with STARTTLS offered: used, the certificate checked against tls.ca (untrusted without it)', async () => {
    const trusted = await probe(
      encrypted,
      { host: 'localhost', tls: { ca: encrypted.testCa } },
      { name: 'imap-starttls' },
    );
    assert.equal(trusted.status, 'pass', trusted.message);
    assert.doesNotMatch(trusted.message, /unencrypted/);
    const untrusted = await probe(encrypted, { host: 'localhost' }, { name: 'imap-untrusted' });
    assert.equal(untrusted.status, 'fail');
    assert.equal(untrusted.error?.code, 'TLS', untrusted.message);
    const insecure = await probe(encrypted, { host: 'localhost', tls: { insecure: true } }, { name: 'imap-insecure' });
    assert.equal(insecure.status, 'pass', insecure.message);
  });

  test('SMTP AUTH without STARTTLS at a network name: refused before AUTH, nothing sent, a TLS failure that says why', async () => {
    const send = {
      via: 'smtp',
      smtp: { host: 'localhost', port: cleartextPort, ...SUBMISSION_USER },
      from: 'probe@send.example.test',
    };
    const { result: record, stored: seen } = await stored(cleartextSubmission, () =>
      probe(plain, {}, { send, name: 'smtp-required' }),
    );
    assert.equal(record.status, 'fail');
    assert.equal(record.error?.code, 'TLS', record.message);
    assert.match(
      record.error?.message ?? '',
      /SMTP localhost:\d+ offers no STARTTLS \(it answered 5\d\d .*\), and nothing is sent unencrypted \(requireTLS, the default when credentials are sent; set requireTLS: false to send anyway\)/,
    );
    assert.deepEqual(seen, []);
  });

  test('SMTP requireTLS: false logs in without TLS and the message says so; STARTTLS offered at a name is used', async () => {
    const send = {
      via: 'smtp',
      smtp: { host: 'localhost', port: cleartextPort, requireTLS: false, ...SUBMISSION_USER },
      from: 'probe@send.example.test',
    };
    const allowed = await stored(cleartextSubmission, () => probe(plain, {}, { send, name: 'smtp-allowed' }));
    assert.equal(allowed.result.status, 'pass', allowed.result.message);
    assert.deepEqual(
      { tls: allowed.stored[0]?.tls, authUser: allowed.stored[0]?.authUser },
      { tls: false, authUser: 'submit' },
    );
    assert.match(
      allowed.result.message,
      new RegExp(
        `SMTP localhost:${cleartextPort} offers no STARTTLS: the credentials went unencrypted \\(requireTLS: false\\)`,
      ),
    );

    const submission = {
      via: 'smtp',
      smtp: { host: 'localhost', port: plain.submissionPort, tls: { ca: plain.testCa }, ...SUBMISSION_USER },
      from: 'probe@send.example.test',
    };
    const encryptedSend = await stored(plain.lab.submission!, () =>
      probe(plain, {}, { send: submission, name: 'smtp-starttls' }),
    );
    assert.equal(encryptedSend.result.status, 'pass', encryptedSend.result.message);
    assert.deepEqual(
      { tls: encryptedSend.stored[0]?.tls, authUser: encryptedSend.stored[0]?.authUser },
      { tls: true, authUser: 'submit' },
    );
    assert.doesNotMatch(encryptedSend.result.message, /SMTP .* unencrypted/);
  });

  test('a configured tls.ca adds to the trusted roots instead of replacing them (HTTP, SMTP, IMAP)', async () => {
    // The test CA is trusted the way an operator adds one to the whole process (NODE_EXTRA_CA_CERTS);
    // each probe configures an unrelated CA besides. Replacing the roots with it broke all three.
    const https: Server = createHttpsServer(
      { cert: fixture('valid-cert.pem'), key: fixture('server-key.pem') },
      (_req, res) => res.end('{"status":"ok"}'),
    );
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    try {
      const other = JSON.stringify(tls.rootCertificates[0]);
      const yaml = `probes:
  - { name: https, kind: http, url: "https://localhost:${(https.address() as AddressInfo).port}/", tls: { ca: ${other} }, expect: ["json.status == \\"ok\\""] }
  - name: mail
    kind: mail
    timeout: 20s
    send: { via: smtp, smtp: { host: localhost, port: ${encrypted.submissionPort}, user: ${SUBMISSION_USER.user}, pass: "\${SUBMIT_PASS}", tls: { ca: ${other} } }, from: probe@send.example.test }
    seeds:
      - { name: seed-c, address: carol@example.test, imap: { host: localhost, port: ${encrypted.imapPort}, secure: false, user: carol, pass: "\${CAROL_PASS}", tls: { ca: ${other} } } }
    resolver: "${encrypted.dnsServer}"
    expect: ["inbox == 1"]
`;
      const env = {
        ...process.env,
        NODE_EXTRA_CA_CERTS: 'test/fixtures/tls/test-ca.pem',
        SUBMIT_PASS: SUBMISSION_USER.pass,
        CAROL_PASS: USERS.carol,
      };
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'test/helpers/run-yaml-child.ts', yaml],
        { env, timeout: 60_000 },
      );
      const results = JSON.parse(stdout) as Record<string, { status: string; code: string | null; message: string }>;
      assert.equal(results.https?.status, 'pass', results.https?.message);
      assert.equal(results.mail?.status, 'pass', results.mail?.message);
      assert.doesNotMatch(results.mail?.message ?? '', /unencrypted/);
    } finally {
      https.close();
    }
  });
});
