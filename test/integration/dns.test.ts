import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { dnsKind } from '../../src/probers/dns.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { setRrset, setSerialBehindApi, CHALLENGE_NAME, LAB_ZONE, type PdnsLab } from '../../src/lab/pdns.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { specFor, proberDeps, probeOnce } from '../helpers/probe-run.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

describe('dns kind against two real PowerDNS servers', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let s1: string;
  let s2: string;
  let silent: dgram.Socket;
  let silentServer: string;

  before(async () => {
    temp = await makeTempDir('scaiprobe-dns-');
    lab = await startTestPdnsPair({ dir: temp.dir, challengeToken: 'tok-123' });
    s1 = `127.0.0.1:${lab.servers[0]?.dnsPort}`;
    s2 = `127.0.0.1:${lab.servers[1]?.dnsPort}`;
    // A server that receives and never answers.
    silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    silentServer = `127.0.0.1:${silent.address().port}`;
  });

  after(async () => {
    silent?.close();
    await lab?.stop();
    await temp?.remove();
  });

  const probe = (raw: Record<string, unknown>, expect: string[] = [], previousState?: unknown, clock?: ManualClock) =>
    probeOnce(dnsKind.create(specFor(dnsKind, raw, expect), proberDeps(clock)), {
      previousState,
      ...(clock ? { clock } : {}),
    });

  test('answers: every record, rcode, AA, TTL, agreeing serials', async () => {
    const m = await probe({ query: { name: 'www.example.test', type: 'A' }, servers: [s1, s2] });
    assert.equal(m.error ?? null, null);
    assert.equal(m.observations.rcode, 'NOERROR');
    assert.equal(m.observations.aa, true);
    assert.deepEqual(m.observations.answers, ['192.0.2.10', '192.0.2.11']);
    assert.equal(m.observations['answers.count'], 2);
    assert.equal(m.observations.ttl, 60);
    assert.equal(m.observations['servers.agree'], true);
    assert.equal(m.observations['serial.agree'], true);
    assert.equal(typeof m.observations[`serial.${s1}`], 'number');
    assert.equal(typeof m.observations[`latency.${s2}`], 'number');
  });

  test('NXDOMAIN', async () => {
    const m = await probe({ query: { name: 'nope.example.test', type: 'A' }, servers: [s1] });
    assert.equal(m.observations.rcode, 'NXDOMAIN');
    assert.equal(m.observations['answers.count'], 0);
  });

  test('authoritative mode finds the NS set through a resolver', async () => {
    const port = Number(s1.split(':')[1]);
    const m = await probe({
      query: { name: 'mx.example.test', type: 'A' },
      authoritative: 'example.test',
      resolver: s1,
      port,
    });
    assert.deepEqual(m.observations.answers, ['192.0.2.25']);
    assert.equal(m.observations['servers.count'], 1);
    assert.equal(m.observations[`rcode.${s1}`], 'NOERROR');
  });

  test('a challenge present at one server and missing at the other, with how long', async () => {
    const clock = new ManualClock(Date.now());
    const spec = { challenge: { name: CHALLENGE_NAME, token: 'tok-123' }, servers: [s1, s2] };
    const ok = await probe(spec, [], undefined, clock);
    assert.equal(ok.observations['challenge.present'], true);
    assert.equal(ok.error ?? null, null);
    await setRrset(lab.servers[1]!, lab.apiKey, LAB_ZONE, { name: CHALLENGE_NAME, type: 'TXT', ttl: 60, records: [] });
    try {
      const first = await probe(spec, [], ok.state, clock);
      assert.equal(first.observations['challenge.present'], false);
      assert.deepEqual(first.observations['challenge.missingAt'], [s2]);
      assert.equal(first.observations[`challenge.present.${s1}`], true);
      assert.equal(first.error?.code, 'DNS');
      assert.match(first.message ?? '', new RegExp(`missing at ${s2}`));
      clock.advance(120_000);
      const later = await probe(spec, [], first.state, clock);
      assert.equal(later.observations['challenge.missingFor'], 120_000);
      assert.match(later.message ?? '', /missing for 2m/);
    } finally {
      await setRrset(lab.servers[1]!, lab.apiKey, LAB_ZONE, {
        name: CHALLENGE_NAME,
        type: 'TXT',
        ttl: 60,
        records: ['"tok-123"'],
      });
    }
  });

  test('serials that disagree', async () => {
    const before = await probe({ query: { name: 'example.test', type: 'SOA' }, servers: [s1, s2] });
    const serial = before.observations[`serial.${s1}`] as number;
    const own = before.observations[`serial.${s2}`] as number;
    setSerialBehindApi(lab.servers[1]!, LAB_ZONE, serial + 5);
    try {
      const m = await probe({ query: { name: 'www.example.test', type: 'A' }, servers: [s1, s2] }, [
        'serial.agree == true',
      ]);
      assert.equal(m.observations['serial.agree'], false);
      assert.equal(m.observations[`serial.${s2}`], serial + 5);
      assert.equal(m.observations[`serial.${s1}`], serial);
      assert.ok(m.warnings?.some((w) => /SOA serials differ/.test(w)));
    } finally {
      setSerialBehindApi(lab.servers[1]!, LAB_ZONE, own);
    }
  });

  test('a truncated UDP reply is repeated over TCP', async () => {
    const records = Array.from({ length: 30 }, (_, i) => `"record ${i} ${'x'.repeat(80)}"`);
    await setRrset(lab.servers[0]!, lab.apiKey, LAB_ZONE, { name: 'big.example.test.', type: 'TXT', ttl: 60, records });
    const m = await probe({ query: { name: 'big.example.test', type: 'TXT' }, servers: [s1] });
    assert.equal(m.observations[`transport.${s1}`], 'tcp');
    assert.equal(m.observations['answers.count'], 30);
  });

  test('a server that never answers: the others are still measured, the timeout is honoured', async () => {
    const started = Date.now();
    const m = await probe({
      query: { name: 'www.example.test' },
      servers: [s1, silentServer],
      queryTimeout: '200ms',
      queryRetries: 1,
    });
    assert.ok(Date.now() - started < 2000);
    assert.equal(m.observations['servers.answered'], 1);
    assert.equal(m.observations['servers.agree'], false);
    assert.match(String(m.observations[`error.${silentServer}`]), /after 2 tries \(first waited 200ms\)/);
    const alone = Date.now();
    await assert.rejects(
      probe({ query: { name: 'www.example.test' }, servers: [silentServer], queryTimeout: '150ms', queryRetries: 1 }),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'TIMEOUT',
    );
    assert.ok(Date.now() - alone < 1500);
  });
});
