// email-auth's MTA-STS, TLS-RPT and BIMI checks against the lab's PowerDNS and its HTTPS posture host (the lab's CA).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { emailAuthKind } from '../../src/probers/email-auth.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { LAB_ZONE, setRrset, type PdnsLab } from '../../src/lab/pdns.ts';
import { startPostureHost } from '../../src/lab/posture.ts';
import { specFor, makeProber, probeOnce, proberDeps } from '../helpers/probe-run.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

const LAB_CA = readFileSync(new URL('../../src/lab/tls/lab-ca.pem', import.meta.url), 'utf8');
const txt = (text: string) => `"${text}"`;

describe('email-auth: MTA-STS, TLS-RPT and BIMI', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let host: Server;
  let port: number;

  before(async () => {
    temp = await makeTempDir('scaiprobe-posture-');
    lab = await startTestPdnsPair({ dir: temp.dir });
    port = await freePort();
    host = await startPostureHost(port);
    await change('default._bimi.example.test.', 'TXT', [txt(`v=BIMI1; l=https://bimi.example.test:${port}/logo.svg`)]);
  });

  after(async () => {
    await new Promise<void>((resolve) => host?.close(() => resolve()));
    await lab?.stop();
    await temp?.remove();
  });

  /** The same change at both servers, through the API. */
  async function change(name: string, type: string, records: string[]): Promise<void> {
    for (const server of lab.servers) await setRrset(server, lab.apiKey, LAB_ZONE, { name, type, ttl: 300, records });
  }

  const spec = (extra: Record<string, unknown> = {}) =>
    specFor(emailAuthKind, {
      domain: 'example.test',
      resolver: `127.0.0.1:${lab.servers[0]?.dnsPort}`,
      mtaSts: { port },
      tlsRpt: true,
      bimi: true,
      tls: { ca: LAB_CA },
      ...extra,
    });
  const run = (extra: Record<string, unknown> = {}) => probeOnce(makeProber(emailAuthKind, spec(extra)));

  test('all in order: the policy is fetched and covers every MX, reports have a place, the logo is SVG Tiny PS', async () => {
    const m = await run();
    assert.equal(m.error ?? null, null, m.message);
    assert.equal(m.observations['mtaSts.id'], '20261129000000');
    assert.equal(m.observations['mtaSts.mode'], 'enforce');
    assert.equal(m.observations['mtaSts.maxAge'], 86400);
    assert.equal(m.observations['mtaSts.mxCovered'], true);
    assert.deepEqual(m.observations['tlsRpt.rua'], ['mailto:tlsrpt@example.test']);
    assert.equal(m.observations['bimi.svgTinyPs'], true);
    assert.equal(m.observations['bimi.dmarcEnforced'], true);
    assert.match(m.message ?? '', /MTA-STS, TLS-RPT, BIMI in order/);
  });

  test("a fleet agent's policy and logo requests say its location, as its http probes do", async () => {
    const seen: Array<{ path: string | undefined; location: unknown }> = [];
    const record = (req: IncomingMessage) =>
      seen.push({ path: req.url, location: req.headers['x-scaiprobe-location'] });
    host.on('request', record);
    try {
      const agent = emailAuthKind.create(spec(), { ...proberDeps(), location: 'eu-west' });
      const m = await probeOnce(agent);
      assert.equal(m.error ?? null, null, m.message);
      assert.deepEqual(
        seen.map((s) => s.path),
        ['/.well-known/mta-sts.txt', '/logo.svg'],
      );
      assert.deepEqual(new Set(seen.map((s) => s.location)), new Set(['eu-west']));
      seen.splice(0);
      await run();
      assert.deepEqual(new Set(seen.map((s) => s.location)), new Set([undefined]), 'a single daemon says no location');
    } finally {
      host.off('request', record);
    }
  });

  test('a policy host whose certificate the probe does not trust is named, as senders would refuse it', async () => {
    const m = await run({ tls: undefined });
    assert.equal(m.observations['mtaSts.policy'], false);
    assert.match(
      m.message ?? '',
      /MTA-STS: MTA-STS policy https:\/\/mta-sts\.example\.test:\d+\/\.well-known\/mta-sts\.txt could not be fetched: /,
    );
  });

  test('an MX the policy does not cover, DMARC without enforcement, and no TLS-RPT record are each named', async () => {
    await change('example.test.', 'MX', ['10 mx.example.test.', '20 backup.example.net.']);
    await change('_dmarc.example.test.', 'TXT', [txt('v=DMARC1; p=none')]);
    await change('_smtp._tls.example.test.', 'TXT', []);
    const m = await run();
    assert.equal(m.observations['mtaSts.mxCovered'], false);
    assert.equal(m.error?.code, 'DNS');
    const message = m.message ?? '';
    assert.match(
      message,
      /MTA-STS: MX backup\.example\.net\. is not covered by the policy \(inbound\.example\.test, mx\.example\.test\)/,
    );
    assert.match(message, /BIMI: DMARC p=none is not at enforcement \(quarantine or reject\)/);
    assert.match(message, /TLS-RPT: no _smtp\._tls TXT record starting v=TLSRPTv1/);
  });
});
