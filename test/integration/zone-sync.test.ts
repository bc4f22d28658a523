import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { zoneSyncKind } from '../../src/probers/zone-sync.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { mountDnsSwitches, type PdnsLab } from '../../src/lab/pdns.ts';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { specFor, proberDeps, probeOnce } from '../helpers/probe-run.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

describe('zone-sync against two real PowerDNS servers and the ScaiDNS stand-in', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let scaidns: LabApp;
  let scaidnsUrl: string;
  let raw: Record<string, unknown>;

  before(async () => {
    temp = await makeTempDir('scaiprobe-zonesync-');
    lab = await startTestPdnsPair({ dir: temp.dir });
    scaidns = createScaiDnsStandIn();
    mountDnsSwitches(scaidns, lab);
    scaidnsUrl = (await scaidns.listen(0)).url;
    raw = {
      powerdns: { api: `http://127.0.0.1:${lab.servers[0]?.apiPort}`, apiKey: lab.apiKey, zone: 'example.test.' },
      servers: [`127.0.0.1:${lab.servers[0]?.dnsPort}`, `127.0.0.1:${lab.servers[1]?.dnsPort}`],
      intended: { url: `${scaidnsUrl}/api/v1/admin/zones/example.test./records` },
      syncStatus: { url: `${scaidnsUrl}/api/v1/admin/sync-status`, maxAge: '1h' },
    };
  });

  after(async () => {
    await scaidns?.close();
    await lab?.stop();
    await temp?.remove();
  });

  const control = (method: string, path: string, body?: unknown) =>
    fetch(`${scaidnsUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    }).then((r) => r.json());
  const run = (expect: string[] = ['missing == 0', 'extra == 0', 'serial.agree == true']) =>
    probeOnce(zoneSyncKind.create(specFor(zoneSyncKind, raw, expect), proberDeps()));

  test('in sync: nothing missing or extra, serials equal to edited_serial, intended = API, sync-status fine', async () => {
    const m = await run();
    assert.equal(m.error ?? null, null);
    assert.equal(m.observations.missing, 0);
    assert.equal(m.observations.extra, 0);
    assert.equal(m.observations['ttl.mismatch'], 0);
    assert.equal(m.observations['serial.agree'], true);
    assert.ok((m.observations.records as number) >= 12);
    assert.equal(m.observations['intended.missing'], 0);
    assert.equal(m.observations['intended.extra'], 0);
    assert.equal(m.observations['sync.failed'], 0);
  });

  test('drift after an edit behind the API is missing + extra at that server only', async () => {
    await control('POST', '/__lab/dns/drift');
    try {
      const m = await run();
      const s2 = (raw.servers as string[])[1]!;
      assert.equal(m.observations.missing, 1);
      assert.equal(m.observations.extra, 1);
      assert.equal(m.observations[`missing.${s2}`], 1);
      assert.equal(m.observations[`missing.${(raw.servers as string[])[0]}`], 0);
      assert.ok(
        (m.observations.differences as string[]).some((d) => d.includes('www.example.test. A 192.0.2.99 extra')),
      );
      const bare = await run([]);
      assert.equal(bare.error?.code, 'DNS', 'without assertions drift fails the run');
    } finally {
      await control('DELETE', '/__lab/dns/drift');
    }
  });

  test('a serial that differs from edited_serial', async () => {
    await control('POST', '/__lab/dns/serial', { server: 'pdns2', serial: 1 });
    const m = await run();
    assert.equal(m.observations['serial.agree'], false);
    assert.equal(m.observations[`serial.${(raw.servers as string[])[1]}`], 1);
  });

  test('a PowerDNS zone bigger than maxBodyBytes fails the run naming the limit (not "did not answer JSON")', async () => {
    const limited = zoneSyncKind.create(
      specFor(zoneSyncKind, { ...raw, maxBodyBytes: 256 }, ['missing == 0']),
      proberDeps(),
    );
    await assert.rejects(
      probeOnce(limited),
      (error: unknown) =>
        error instanceof ProbeFailure &&
        error.code === 'PROTOCOL' &&
        /^PowerDNS API: body exceeds maxBodyBytes \(256\)$/.test(error.message),
    );
  });

  test('ScaiDNS sync-status: failed and stale zones', async () => {
    await control('POST', '/__lab/faults', { syncFailed: ['example.test.'], syncAgeSeconds: 7200 });
    try {
      const m = await run();
      assert.equal(m.observations['sync.failed'], 1);
      assert.deepEqual(m.observations['sync.failedZones'], ['example.test.']);
      assert.equal(m.observations['sync.stale'], 2);
    } finally {
      await control('DELETE', '/__lab/faults');
    }
  });
});
