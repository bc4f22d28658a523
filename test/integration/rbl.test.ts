import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { chmod } from 'node:fs/promises';
import { rblKind } from '../../src/probers/rbl.ts';
import { DnsClient, parseServer } from '../../src/protocols/dns/wire.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { startRbldnsd, type RbldnsdLab } from '../../src/lab/rbldnsd.ts';
import { systemClock } from '../../src/util/clock.ts';
import type { RunItem } from '../../src/core/probe.ts';
import { specFor, proberDeps, probeOnce } from '../helpers/probe-run.ts';

describe('rbl kind against a real rbldnsd', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: RbldnsdLab;
  let resolver: string;
  let silent: dgram.Socket;

  before(async () => {
    temp = await makeTempDir('scaiprobe-rbl-');
    await chmod(temp.dir, 0o711);
    lab = await startRbldnsd({ dir: `${temp.dir}/rbldnsd`, port: await freePort() });
    resolver = `127.0.0.1:${lab.port}`;
    silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  });

  after(async () => {
    silent?.close();
    await lab?.stop();
    await temp?.remove();
  });

  const run = (raw: Record<string, unknown>, previousState?: unknown) =>
    probeOnce(rblKind.create(specFor(rblKind, { resolver, ...raw }), proberDeps()), { previousState });

  test('listed with codes and TXT reason; clean; IPv6 nibble names; domain lists', async () => {
    const m = await run({
      ips: ['203.0.113.8', '192.0.2.1', '2001:db8:1::7', '2001:db8::1', '198.51.100.200'],
      domains: ['x.spammy.example', 'send.example.test', 'www.phish.example'],
      zones: [
        { zone: 'bl.test', type: 'ip', severity: 'alert', codes: { '127.0.0.4': 'spam source' } },
        { zone: 'dbl.test', type: 'domain', severity: 'warn' },
      ],
    });
    assert.equal(m.error ?? null, null);
    const o = m.observations;
    assert.equal(o['listing.203.0.113.8.bl.test'], 'listed');
    assert.equal(o['listing.192.0.2.1.bl.test'], 'clean');
    assert.equal(o['listing.198.51.100.200.bl.test'], 'clean', 'an exclusion is not listed');
    assert.equal(o['listing.2001:db8:1::7.bl.test'], 'listed');
    assert.equal(o['listing.2001:db8::1.bl.test'], 'clean');
    assert.equal(o['listing.x.spammy.example.dbl.test'], 'listed');
    assert.equal(o['listing.www.phish.example.dbl.test'], 'listed');
    assert.equal(o['listing.send.example.test.dbl.test'], 'clean');
    assert.equal(o['listed.alert'], 2);
    assert.equal(o['listed.warn'], 2);
    assert.equal(o.unknown, 0);
    const item = m.items?.find((i) => i.key === '203.0.113.8@bl.test');
    assert.equal(item?.state, 'listed');
    assert.deepEqual(item?.data.codes, ['127.0.0.4']);
    assert.deepEqual(item?.data.meanings, ['spam source']);
    assert.match(String(item?.data.reason), /Listed for spam source, see https:\/\/bl.test\/lookup\?ip=203.0.113.8/);
  });

  test('error codes are unknown (a warning), never listed', async () => {
    const m = await run(
      {
        ips: ['192.0.2.99', '192.0.2.98', '203.0.113.66', '192.0.2.1'],
        domains: ['ipqueried.example', 'malware.example'],
        zones: ['zen.spamhaus.org', 'dbl.spamhaus.org'],
      },
      undefined,
    );
    const o = m.observations;
    assert.equal(o['listing.192.0.2.99.zen.spamhaus.org'], 'unknown');
    assert.equal(o['listing.192.0.2.98.zen.spamhaus.org'], 'unknown');
    assert.equal(o['listing.ipqueried.example.dbl.spamhaus.org'], 'unknown');
    assert.equal(o['listing.203.0.113.66.zen.spamhaus.org'], 'listed');
    assert.equal(o['listing.malware.example.dbl.spamhaus.org'], 'listed');
    assert.equal(o['listing.192.0.2.1.zen.spamhaus.org'], 'clean');
    assert.equal(o.unknown, 3);
    assert.equal(o['listed.alert'], 2);
    assert.equal(m.error ?? null, null);
    assert.ok(m.warnings?.some((w) => /public\/open resolver/.test(w)));
    assert.ok(!m.items?.some((i) => i.key.startsWith('192.0.2.99@')), 'an unknown answer records no listing state');
  });

  test('a zone failing its RFC 5782 test points is unknown, not clean or listed', async () => {
    const m = await run({ ips: ['192.0.2.50', '192.0.2.1'], zones: [{ zone: 'broken.test', type: 'ip' }] });
    assert.equal(m.observations['listing.192.0.2.50.broken.test'], 'unknown');
    assert.equal(m.observations['listing.192.0.2.1.broken.test'], 'unknown');
    assert.deepEqual(m.observations['zones.failingTestPoints'], ['broken.test']);
    assert.ok(m.warnings?.some((w) => /test point 127.0.0.2 should be listed/.test(w)));
  });

  test('a resolver that never answers: every pair unknown, within the budget, no failure', async () => {
    const started = Date.now();
    const m = await run({
      ips: ['192.0.2.1'],
      zones: ['zen.spamhaus.org'],
      resolver: `127.0.0.1:${silent.address().port}`,
      queryTimeout: '100ms',
      queryRetries: 1,
    });
    assert.ok(Date.now() - started < 2000);
    assert.equal(m.observations.unknown, 1);
    assert.equal(m.error ?? null, null);
    assert.ok(m.warnings?.some((w) => /no answer/.test(w)));
  });

  test('a burst in which the server drops packets recovers through retries', async () => {
    // rbldnsd drops datagrams when its socket overflows, but how many depends on the host's load.
    // A relay in front of the real server drops a fifth of the queries at random, so the loss is certain and the
    // answers are still rbldnsd's own.
    const relay = await lossyRelay(parseServer(resolver), 0.2);
    const client = new DnsClient({ clock: systemClock, window: 5000 });
    const names = Array.from({ length: 600 }, (_, i) => `${i % 250}.${Math.floor(i / 250)}.51.198.bl.test`);
    // The retried burst waits longer per try: on a loaded machine a reply can take over a second, and a test of
    // recovery from loss must not fail on slowness.
    const burst = (retries: number, timeoutMs: number) =>
      Promise.allSettled(
        names.map((name) =>
          client.query({
            name,
            type: 'A',
            server: relay.server,
            recursion: true,
            signal: AbortSignal.timeout(90_000),
            timeoutMs,
            retries,
          }),
        ),
      );
    try {
      const lost = (await burst(0, 300)).filter((result) => result.status === 'rejected').length;
      assert.ok(lost >= names.length / 10, `without retries about a fifth of the burst is lost (lost ${lost})`);
      const droppedBefore = relay.dropped();
      // Ten tries: a name lost every time by chance is 0.2^10 per name, not the 0.2^7 that failed once in 600 names.
      const again = await burst(9, 600);
      assert.deepEqual(
        again.filter((result) => result.status === 'rejected').map((result) => String(result.reason)),
        [],
      );
      assert.ok(relay.dropped() - droppedBefore >= names.length / 10, 'the retried burst met dropped packets too');
    } finally {
      await client.close();
      relay.close();
    }
    const ips = Array.from({ length: 1000 }, (_, i) => `198.51.${100 + Math.floor(i / 250)}.${i % 250}`);
    const m = await probeOnce(
      rblKind.create(
        specFor(rblKind, {
          resolver,
          ips,
          zones: [{ zone: 'bl.test', type: 'ip' }],
          concurrency: 1000,
          queryTimeout: '300ms',
          queryRetries: 6,
          reasons: false,
        }),
        proberDeps(),
      ),
      { timeoutMs: 30_000 },
    );
    assert.equal(m.observations.unknown, 0, JSON.stringify(m.warnings));
    assert.equal(m.observations.listed, 250 - 1, 'all of 198.51.100.0/24 but the excluded .200');
  });

  test('listing then delisting are two state changes of one item', async () => {
    const spec = { ips: ['203.0.113.7'], zones: [{ zone: 'bl.test', type: 'ip' }] };
    const states: Array<string | undefined> = [];
    const itemOf = (items: RunItem[] | undefined) => items?.find((item) => item.key === '203.0.113.7@bl.test');
    const first = await run(spec);
    states.push(itemOf(first.items)?.state);
    await lab.list('bl.test', '203.0.113.7', '127.0.0.2', 'listed by the test');
    const second = await run(spec, first.state);
    states.push(itemOf(second.items)?.state);
    assert.equal(itemOf(second.items)?.data.reason, 'listed by the test');
    await lab.delist('bl.test', '203.0.113.7');
    const third = await run(spec, second.state);
    states.push(itemOf(third.items)?.state);
    assert.deepEqual(states, ['clean', 'listed', 'clean']);
    const changes = states.filter((state, i) => i > 0 && state !== states[i - 1]).length;
    assert.equal(changes, 2);
    assert.equal(typeof itemOf(third.items)?.data.delistedAfterMs, 'number');
  });
});

/** A UDP relay to a real DNS server that drops each query it receives with probability `share`. */
async function lossyRelay(target: { host: string; port: number }, share: number) {
  const socket = dgram.createSocket('udp4');
  const clients = new Map<number, { address: string; port: number }>();
  let dropped = 0;
  const upstream = dgram.createSocket('udp4');
  upstream.on('message', (message: Buffer) => {
    const client = clients.get(message.readUInt16BE(0));
    if (client) socket.send(message, client.port, client.address);
  });
  socket.on('message', (message: Buffer, from: dgram.RemoteInfo) => {
    if (Math.random() < share) {
      dropped++;
      return;
    }
    clients.set(message.readUInt16BE(0), { address: from.address, port: from.port });
    upstream.send(message, target.port, target.host);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', resolve));
  return {
    server: { host: '127.0.0.1', port: socket.address().port, label: `lossy relay to ${target.host}:${target.port}` },
    dropped: () => dropped,
    close() {
      socket.close();
      upstream.close();
    },
  };
}
