import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { findKind } from '../../src/probers/registry.ts';
import { startLab, type RunningLab } from '../../src/lab/lab.ts';
import { LAB_PDNS_API_KEY, LAB_CHALLENGE_TOKEN } from '../../src/lab/pdns.ts';
import { pdnsComponent } from '../../src/lab/pdns-component.ts';
import { rbldnsdComponent } from '../../src/lab/rbldnsd.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { proberDeps, probeOnce } from '../helpers/probe-run.ts';

/** The example configs of issues 4 and 5, verbatim but for the lab ports (free ones here). */
function examples(p: { dns1: number; dns2: number; api1: number; rbl: number }): string {
  return `
probes:
  - name: www-a
    kind: dns
    query: { name: www.example.test, type: A }
    servers: [127.0.0.1:${p.dns1}]
    expect:
      - rcode == "NOERROR"
      - answers contains "192.0.2.10"
  - name: validation-challenge
    kind: dns
    challenge: { name: _scaidns-challenge.example.test, token: "\${CHALLENGE_TOKEN}" }
    servers: [127.0.0.1:${p.dns1}, 127.0.0.1:${p.dns2}]
  - name: zone-drift
    kind: zone-sync
    powerdns: { api: http://127.0.0.1:${p.api1}, apiKey: "\${PDNS_API_KEY}", zone: example.test. }
    servers: [127.0.0.1:${p.dns1}, 127.0.0.1:${p.dns2}]
    expect:
      - missing == 0
      - extra == 0
      - serial.agree == true
  - name: sending-domain-auth
    kind: email-auth
    domain: example.test
    dkimSelectors: [s1]
    sendingIps: [192.0.2.25]
    resolver: 127.0.0.1:${p.dns1}
  - name: sending-ips
    kind: rbl
    every: 1h
    ips: [192.0.2.1, 203.0.113.7, "2001:db8::1"]
    domains: [bad.example, send.example.test]
    resolver: 127.0.0.1:${p.rbl}
    zones:
      - { zone: bl.test, type: ip, severity: alert }
      - { zone: dbl.test, type: domain, severity: alert }
      - zen.spamhaus.org            # from the shipped catalogue
    expect:
      - listed.alert == 0
`;
}

describe("the issues' example configs against the lab parts", () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: RunningLab;
  let file: string;

  before(async () => {
    temp = await makeTempDir('scaiprobe-dnsex-');
    const ports = {
      pdns1Dns: await freePort(),
      pdns1Api: await freePort(),
      pdns2Dns: await freePort(),
      pdns2Api: await freePort(),
      rbldnsd: await freePort(),
      scaisend: 0,
      scaidns: 0,
    };
    lab = await startLab({
      dir: temp.dir,
      ports,
      logger: pino({ level: 'silent' }),
      components: [pdnsComponent, rbldnsdComponent],
    });
    file = join(temp.dir, 'examples.yaml');
    await writeFile(
      file,
      examples({ dns1: ports.pdns1Dns, dns2: ports.pdns2Dns, api1: ports.pdns1Api, rbl: ports.rbldnsd }),
    );
  });

  after(async () => {
    await lab?.stop();
    await temp?.remove();
  });

  const runAll = async () => {
    const config = loadConfig(file, { CHALLENGE_TOKEN: LAB_CHALLENGE_TOKEN, PDNS_API_KEY: LAB_PDNS_API_KEY });
    const results = new Map<string, Awaited<ReturnType<typeof probeOnce>>>();
    for (const spec of config.probes) {
      const prober = findKind(spec.kind)!.create(spec, proberDeps());
      try {
        results.set(spec.name, await probeOnce(prober));
      } finally {
        await prober.close?.();
      }
    }
    return results;
  };

  test('valid as written, and every probe passes against the lab', async () => {
    const results = await runAll();
    assert.equal(results.size, 5);
    const www = results.get('www-a')!;
    assert.equal(www.observations.rcode, 'NOERROR');
    assert.ok((www.observations.answers as string[]).includes('192.0.2.10'));
    assert.equal(results.get('validation-challenge')!.observations['challenge.present'], true);
    assert.equal(results.get('zone-drift')!.observations.missing, 0);
    const auth = results.get('sending-domain-auth')!;
    assert.equal(auth.error ?? null, null, auth.message);
    assert.equal(auth.observations['spf.192.0.2.25'], 'pass');
    assert.equal(auth.observations['dkim.s1.bits'], 2048);
    assert.equal(auth.observations['dmarc.p'], 'reject');
    assert.equal(auth.observations['fcrdns.192.0.2.25'], true);
    assert.deepEqual(auth.observations.mx, ['mx.example.test.']);
    const rbl = results.get('sending-ips')!;
    assert.equal(rbl.observations['listed.alert'], 0);
    assert.equal(rbl.observations.unknown, 0);
    assert.equal(rbl.observations['listing.2001:db8::1.bl.test'], 'clean');
  });

  test('the lab switches make the same probes fail: challenge at one server, drift, a listing', async () => {
    const post = (url: string, body: unknown = {}) =>
      fetch(url, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
    await post(`${lab.scaidnsUrl}/__lab/dns/challenge`, { servers: ['pdns1'] });
    await post(`${lab.scaidnsUrl}/__lab/dns/drift`);
    await post(`${lab.scaisendUrl}/__lab/rbl/list`, { zone: 'bl.test', entry: '203.0.113.7' });
    const results = await runAll();
    const challenge = results.get('validation-challenge')!;
    assert.equal(challenge.error?.code, 'DNS');
    assert.deepEqual(challenge.observations['challenge.missingAt'], [`127.0.0.1:${lab.ports.pdns2Dns}`]);
    assert.ok((results.get('zone-drift')!.observations.missing as number) >= 1);
    assert.equal(results.get('sending-ips')!.observations['listed.alert'], 1);
    assert.equal(results.get('sending-ips')!.observations['listing.203.0.113.7.bl.test'], 'listed');
  });
});
