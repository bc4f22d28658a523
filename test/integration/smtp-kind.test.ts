// The smtp kind against real SMTP servers (smtp-server) with certificates from a test CA (openssl), MX names from PowerDNS.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { createServer } from 'node:net';
import { smtpKind } from '../../src/probers/smtp.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { createZone, type PdnsLab } from '../../src/lab/pdns.ts';
import { specFor, makeProber, probeOnce } from '../helpers/probe-run.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

/** A key and a certificate for `name` signed by the CA in `dir`, valid for `days` (negative: expired). */
function issue(dir: string, file: string, name: string, days: number): { key: string; cert: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key`].concat([
      '-out',
      `${file}.csr`,
      '-subj',
      `/CN=${name}`,
    ]),
  );
  writeFileSync(join(dir, `${file}.ext`), `subjectAltName=DNS:${name}\n`);
  run(
    ['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      `${file}.pem`,
      '-days',
      String(days),
      '-extfile',
      `${file}.ext`,
    ]),
  );
  return { key: readFileSync(join(dir, `${file}.key`), 'utf8'), cert: readFileSync(join(dir, `${file}.pem`), 'utf8') };
}

describe('smtp: STARTTLS at each MX', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let ca: string;
  const servers: SMTPServer[] = [];

  /** A real SMTP server on a free port, offering STARTTLS with `tls` unless it is undefined. */
  const smtpServer = async (tlsMaterial?: { key: string; cert: string }) => {
    const server = new SMTPServer({
      ...(tlsMaterial ?? {}),
      disabledCommands: tlsMaterial ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      banner: 'mx test',
      logger: false,
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    servers.push(server);
    return port;
  };

  before(async () => {
    temp = await makeTempDir('scaiprobe-smtp-');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-subj',
        '/CN=scaiprobe test CA',
        '-days',
        '30',
      ]),
      {
        cwd: temp.dir,
        stdio: 'ignore',
      },
    );
    ca = readFileSync(join(temp.dir, 'ca.pem'), 'utf8');
    lab = await startTestPdnsPair({ dir: temp.dir });
    await createZone(lab.servers[0]!, lab.apiKey, 'smtp.test.', [
      { name: 'smtp.test.', type: 'MX', ttl: 300, records: ['10 mx.smtp.test.'] },
      { name: 'mx.smtp.test.', type: 'A', ttl: 300, records: ['127.0.0.1'] },
      { name: 'nowhere.smtp.test.', type: 'TXT', ttl: 300, records: ['"no address"'] },
    ]);
  });

  after(async () => {
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()));
    await lab?.stop();
    await temp?.remove();
  });

  const run = (port: number, extra: Record<string, unknown> = {}) =>
    probeOnce(
      makeProber(
        smtpKind,
        specFor(smtpKind, {
          mx: ['mx.smtp.test'],
          port,
          resolver: `127.0.0.1:${lab.servers[0]?.dnsPort}`,
          tls: { ca },
          ...extra,
        }),
      ),
    );

  test('the MX offers STARTTLS with a certificate valid for its name: the run passes and says so', async () => {
    const port = await smtpServer(issue(temp.dir, 'good', 'mx.smtp.test', 200));
    const m = await run(port);
    assert.equal(m.error ?? null, null, m.message);
    assert.equal(m.observations['mx.mx.smtp.test.starttls'], true);
    assert.equal(m.observations['mx.mx.smtp.test.cert.valid'], true);
    assert.match(String(m.observations['mx.mx.smtp.test.tls.version']), /^TLSv1\.[23]$/);
    assert.ok(Number(m.observations['mx.mx.smtp.test.cert.daysLeft']) > 199);
    assert.equal(typeof m.observations['mx.mx.smtp.test.bannerMs'], 'number');
    assert.match(m.message ?? '', /1 MX with STARTTLS: mx\.smtp\.test \(TLSv1\.[23], certificate until/);
    const fromDomain = await run(port, { mx: undefined, domain: 'smtp.test' });
    assert.equal(fromDomain.error ?? null, null, "the domain's MX records lead to the same host");
    assert.equal(fromDomain.observations.mx, 1);
  });

  test('a certificate for another name, an expired one, and one from an unknown CA each fail, named', async () => {
    const wrong = await run(await smtpServer(issue(temp.dir, 'wrong', 'other.smtp.test', 200)));
    assert.equal(wrong.error?.code, 'TLS');
    assert.match(
      wrong.message ?? '',
      /^mx\.smtp\.test\.: the certificate is not valid for mx\.smtp\.test: .*other\.smtp\.test/,
    );
    const expired = await run(await smtpServer(issue(temp.dir, 'expired', 'mx.smtp.test', -1)));
    assert.match(expired.message ?? '', /the certificate is not valid for mx\.smtp\.test: the certificate has expired/);
    const untrusted = await run(await smtpServer(issue(temp.dir, 'untrusted', 'mx.smtp.test', 200)), {
      tls: undefined,
    });
    assert.match(
      untrusted.message ?? '',
      /the certificate is not valid for mx\.smtp\.test: its issuer is not a trusted CA/,
    );
  });

  test('a certificate near its end warns, and nearer fails', async () => {
    const soon = await run(await smtpServer(issue(temp.dir, 'soon', 'mx.smtp.test', 10)));
    assert.equal(soon.error ?? null, null, soon.message);
    assert.match(soon.warnings?.join() ?? '', /the certificate expires in 10\.0 days \(under 14\)/);
    const sooner = await run(await smtpServer(issue(temp.dir, 'sooner', 'mx.smtp.test', 2)));
    assert.match(sooner.message ?? '', /the certificate expires in 2\.0 days \(under 3\)/);
  });

  test('no STARTTLS fails (or warns, when not required); a name without an address or a closed port is named', async () => {
    const plain = await smtpServer();
    const m = await run(plain);
    assert.equal(m.observations['mx.mx.smtp.test.starttls'], false);
    assert.match(m.message ?? '', /STARTTLS is not offered: mail to it travels unencrypted/);
    const lenient = await run(plain, { requireStarttls: false });
    assert.equal(lenient.error ?? null, null);
    assert.equal(lenient.warnings?.length, 1);
    const nowhere = await run(plain, { mx: ['nowhere.smtp.test'] });
    assert.match(nowhere.message ?? '', /nowhere\.smtp\.test\.: the name has no address/);
    const closed = await run(await freePort());
    assert.match(closed.message ?? '', /mx\.smtp\.test\.: .*ECONNREFUSED/);
  });

  test('a server that talks without end is cut off with a reason (a hand-written server: a real one does not)', async () => {
    // A banner of long continuation lines that never ends: under the line and line-count limits, over the byte limit.
    const flood = createServer((socket) => {
      socket.on('error', () => undefined);
      const line = `220-${'x'.repeat(2000)}\r\n`.repeat(8);
      const more = () => {
        if (!socket.destroyed && socket.write(line)) setImmediate(more);
      };
      more();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => flood.listen(port, '127.0.0.1', resolve));
    try {
      const m = await run(port);
      assert.match(m.message ?? '', /mx\.smtp\.test\.: the server sent over 65536 bytes before TLS/);
      assert.equal(m.error?.code, 'TLS');
    } finally {
      await new Promise<void>((resolve) => flood.close(() => resolve()));
    }
  });

  test('the configuration names a domain or MX hosts', () => {
    assert.throws(() => specFor(smtpKind, { port: 25 }), /either a domain/);
  });
});
