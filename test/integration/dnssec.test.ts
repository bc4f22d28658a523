// The dnssec kind against a zone PowerDNS really signs, at two servers, with its DS in a parent zone; each broken state named.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dnssecKind } from '../../src/probers/dnssec.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { LAB_ZONE, type PdnsLab } from '../../src/lab/pdns.ts';
import { signLabZone, type SignedZone } from '../../src/lab/dnssec.ts';
import { systemClock, type Clock } from '../../src/util/clock.ts';
import { specFor, makeProber, probeOnce } from '../helpers/probe-run.ts';
import { startUnbound } from '../helpers/unbound.ts';
import { startTestPdnsPair } from '../helpers/pdns-pair.ts';

const DAY = 86_400_000;

/** The system's clock read as if it were `at` now: the probe judges signatures at that time; waits stay real. */
const clockAt = (at: number): Clock => {
  const offset = at - Date.now();
  return { ...systemClock, now: () => Date.now() + offset };
};

describe('dnssec against a zone signed by PowerDNS at two servers', () => {
  let temp: { dir: string; remove(): Promise<void> };
  let lab: PdnsLab;
  let signed: SignedZone;
  let raw: Record<string, unknown>;
  const label = (i: number) => `127.0.0.1:${lab.servers[i]?.dnsPort}`;

  before(async () => {
    temp = await makeTempDir('scaiprobe-dnssec-');
    lab = await startTestPdnsPair({ dir: temp.dir });
    signed = await signLabZone(lab, LAB_ZONE, temp.dir);
    raw = {
      zone: LAB_ZONE,
      servers: [label(0), label(1)],
      parent: { server: label(0) },
      rrsets: ['www.example.test A', 'example.test MX'],
    };
  });

  after(async () => {
    await lab?.stop();
    await temp?.remove();
  });

  /** What unbound, validating from `anchor` and asking only server `stub`, answers for www (at `at`, if given). */
  const unboundSays = async (stub: number, anchor: string[], at?: number) => {
    const unbound = await startUnbound({
      dir: temp.dir,
      zone: LAB_ZONE,
      anchor,
      stub: label(stub),
      ...(at === undefined ? {} : { at: new Date(at) }),
    });
    try {
      return await unbound.rcodeOf('www.example.test.', 'A');
    } finally {
      await unbound.stop();
    }
  };

  const run = (at?: number) => {
    const clock = at === undefined ? undefined : clockAt(at);
    return probeOnce(makeProber(dnssecKind, specFor(dnssecKind, raw), clock), clock ? { clock } : {});
  };

  test('signed and valid: keys, signatures at both servers, NSEC denial, and the DS at the parent', async () => {
    const m = await run();
    assert.equal(m.error ?? null, null, m.message);
    assert.equal(m.observations.valid, true, String(m.observations.problems));
    assert.equal(m.observations.dnskeys, 1);
    assert.deepEqual(m.observations.algorithms, ['ECDSAP256SHA256']);
    assert.equal(m.observations['ds.match'], true);
    assert.equal(m.observations.denial, 'NSEC');
    assert.equal(m.observations[`valid.${label(1)}`], true);
    assert.ok(Number(m.observations['rrsig.daysLeft']) > 7, `days left ${String(m.observations['rrsig.daysLeft'])}`);
    assert.equal(m.warnings?.length ?? 0, 0);
    assert.equal(await unboundSays(0, signed.ds), 'NOERROR', 'unbound validates it at the first server');
    assert.equal(await unboundSays(1, signed.ds), 'NOERROR', 'and at the second');
  });

  test('signatures near their expiry warn, and fail once under the critical days, and after it', async () => {
    const first = await run();
    const expiresAt = Date.now() + Number(first.observations['rrsig.daysLeft']) * DAY;
    const warn = await run(expiresAt - 5 * DAY);
    assert.equal(warn.error ?? null, null, warn.message);
    assert.match(warn.warnings?.join() ?? '', /expires in 5 days \(under 7\)/);
    const critical = await run(expiresAt - DAY);
    assert.match(critical.error?.message ?? '', /expires in 1 days \(under 2\): re-sign the zone now/);
    assert.equal(await unboundSays(0, signed.ds, expiresAt - DAY), 'NOERROR', 'still valid for unbound');
    // unbound forgives signatures up to a day past their expiry (val-sig-skew-max): three days past, neither does.
    const expired = await run(expiresAt + 3 * DAY);
    assert.equal(expired.observations.valid, false);
    assert.match(expired.error?.message ?? '', /DNSSEC is broken: .*expired/);
    assert.equal(await unboundSays(0, signed.ds, expiresAt + 3 * DAY), 'SERVFAIL', 'bogus for unbound too');
  });

  test('NSEC3 denial is proven too, as unbound finds it', async () => {
    signed.useNsec3();
    const m = await run();
    assert.equal(m.error ?? null, null, m.message);
    assert.equal(m.observations.denial, 'NSEC3');
    const unbound = await startUnbound({ dir: temp.dir, zone: LAB_ZONE, anchor: signed.ds, stub: label(1) });
    try {
      assert.equal(await unbound.rcodeOf('missing.example.test.', 'A'), 'NXDOMAIN', 'a validated NXDOMAIN');
    } finally {
      await unbound.stop();
    }
  });

  test('a DS at the parent that matches no key breaks the chain, and the run says so', async () => {
    await signed.breakDs();
    const m = await run();
    assert.equal(m.observations['ds.match'], false);
    assert.match(
      m.error?.message ?? '',
      /the DS at the parent \(\d+\/ECDSAP256SHA256.*\) matches no SEP key of the zone/,
    );
  });

  test('a server that lost the key serves the zone unsigned, and is named', async () => {
    signed.removeKeyAtSecond();
    const m = await run();
    assert.equal(m.observations[`valid.${label(0)}`], true);
    assert.equal(m.observations[`valid.${label(1)}`], false);
    assert.match(m.error?.message ?? '', new RegExp(`${label(1)}: example\\.test\\. DNSKEY: none published`));
    assert.equal(await unboundSays(0, signed.ds), 'NOERROR', 'unbound asking the first server is content');
    assert.equal(await unboundSays(1, signed.ds), 'SERVFAIL', 'and asking the second calls the unsigned answer bogus');
  });
});
