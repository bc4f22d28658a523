// zone-sync with `zones`: every zone of two real PowerDNS servers, each broken state found and named.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { zoneSyncKind } from '../../src/probers/zone-sync.ts';
import { ConfigError } from '../../src/config/load.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { createZone, editBehindApi, setSerialBehindApi, type LabRrset, type PdnsLab } from '../../src/lab/pdns.ts';
import { specFor, proberDeps, probeOnce } from '../helpers/probe-run.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

const SWEEP_ZONES = 12;
const zoneName = (i: number) => `z${i}.sweep.test.`;
// The NS set comes from createZone (ns1.example.test.).
const records = (zone: string): LabRrset[] => [{ name: `www.${zone}`, type: 'A', ttl: 300, records: ['192.0.2.10'] }];

describe('zone-sync, zones: all, against two real PowerDNS servers', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let raw: Record<string, unknown>;

  before(async () => {
    temp = await makeTempDir('scaiprobe-zonesweep-');
    lab = await startTestPdnsPair({ dir: temp.dir });
    for (let i = 0; i < SWEEP_ZONES; i++)
      for (const server of lab.servers) await createZone(server, lab.apiKey, zoneName(i), records(zoneName(i)));
    raw = {
      powerdns: { api: `http://127.0.0.1:${lab.servers[0]?.apiPort}`, apiKey: lab.apiKey, zones: 'all' },
      servers: [`127.0.0.1:${lab.servers[0]?.dnsPort}`, `127.0.0.1:${lab.servers[1]?.dnsPort}`],
    };
  });

  after(async () => {
    await lab?.stop();
    await temp?.remove();
  });

  const run = (extra: Record<string, unknown> = {}, previousState?: unknown) =>
    probeOnce(zoneSyncKind.create(specFor(zoneSyncKind, { ...raw, ...extra }), proberDeps()), { previousState });
  const second = () => lab.servers[1]!;
  const label = () => `127.0.0.1:${second().dnsPort}`;

  test('in sync: every zone the API lists is counted, none out of sync, the sample served record for record', async () => {
    const m = await run();
    assert.equal(m.error ?? null, null, m.message);
    assert.equal(m.observations.zones, SWEEP_ZONES + 2, 'the sweep zones and the lab zone with its reverse zone');
    assert.equal(m.observations['zones.outOfSync'], 0);
    assert.equal((m.observations['sample.zones'] as string[]).length, 3);
    assert.match(m.message ?? '', /14 zones at 2 server\(s\): SOA serials and NS sets agree/);
  });

  test('the sample moves on run after run, so every zone is compared record by record in turn', async () => {
    const first = await run({ sample: 5 });
    const next = await run({ sample: 5 }, first.state);
    const one = first.observations['sample.zones'] as string[];
    const two = next.observations['sample.zones'] as string[];
    assert.equal(one.length, 5);
    assert.deepEqual(
      one.filter((zone) => two.includes(zone)),
      [],
    );
  });

  test('globs choose the zones', async () => {
    const m = await run({ powerdns: { ...(raw.powerdns as object), zones: ['z1*.sweep.test', 'example.test'] } });
    assert.equal(m.observations.zones, 4, 'z1, z10, z11 and example.test');
    assert.match(m.message ?? '', /zones matching z1\*\.sweep\.test, example\.test/);
  });

  test('a serial behind the API, a zone the server lacks and a different NS set are each named', async () => {
    setSerialBehindApi(second(), zoneName(3), 7);
    // Behind the API, so only the NS set differs (an edit through the API would also move the serial).
    assert.equal(editBehindApi(second(), zoneName(5), 'NS', 'ns1.example.test', 'ns9.example.test'), 1);
    await createZone(lab.servers[0]!, lab.apiKey, 'only-first.sweep.test.', records('only-first.sweep.test.'));
    const m = await run({ sample: 0 });
    assert.equal(m.observations['zones.outOfSync'], 3, m.message);
    assert.deepEqual(
      [...(m.observations['zones.outOfSyncNames'] as string[])].sort(),
      ['only-first.sweep.test.', zoneName(3), zoneName(5)].sort(),
    );
    assert.equal(m.error?.code, 'DNS', 'without expect, a zone out of sync fails the run');
    const message = m.message ?? '';
    assert.match(message, new RegExp(`${zoneName(3).replace(/\./g, '\\.')} \\(${label()}: serial 7, API \\d+\\)`));
    assert.match(message, new RegExp(`only-first\\.sweep\\.test\\. \\(${label()}: REFUSED\\)`));
    assert.match(message, /NS sets differ: .*ns9\.example\.test\./);
    assert.equal(m.observations[`serial.differs.${label()}`], 1);
    assert.equal(m.observations[`unanswered.${label()}`], 1);
  });

  test('a record changed behind the API shows in the record-by-record sample', async () => {
    assert.equal(editBehindApi(second(), `www.${zoneName(8)}`, 'A', '192.0.2.10', '192.0.2.66'), 1);
    const m = await run({
      powerdns: { ...(raw.powerdns as object), zones: zoneName(8) },
      expect: [],
    });
    assert.equal(m.observations['zones.outOfSync'], 0, 'its SOA and NS agree');
    assert.equal(m.observations['sample.differing'], 1);
    assert.match(m.message ?? '', /1 sampled zone\(s\) differ: .*www\.z8\.sweep\.test\./);
  });

  test('the configuration names one zone or zones, not both, and no intended records with zones', () => {
    const powerdns = raw.powerdns as Record<string, unknown>;
    assert.throws(
      () => specFor(zoneSyncKind, { ...raw, powerdns: { ...powerdns, zone: 'example.test.' } }),
      ConfigError,
    );
    assert.throws(
      () => specFor(zoneSyncKind, { ...raw, powerdns: { api: powerdns.api, apiKey: powerdns.apiKey } }),
      ConfigError,
    );
    assert.throws(() => specFor(zoneSyncKind, { ...raw, intended: { rrsets: [] } }), ConfigError);
  });
});
