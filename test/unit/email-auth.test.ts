import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { evaluateSpf, parseSpf, type SpfDns } from '../../src/protocols/mail-auth/spf.ts';
import { dkimKeyBits } from '../../src/protocols/mail-auth/dkim.ts';
import { parseDmarc } from '../../src/protocols/mail-auth/dmarc.ts';
import { reverseName } from '../../src/protocols/dns/records.ts';

/** A DNS of plain maps, for SPF cases. */
function fakeDns(
  txt: Record<string, string[]>,
  a: Record<string, string[]> = {},
  mx: Record<string, string[]> = {},
): SpfDns {
  return {
    txt: async (name) => txt[name] ?? [],
    a: async (name) => a[name] ?? [],
    aaaa: async () => [],
    mx: async (name) => mx[name] ?? [],
  };
}

test('SPF parse: qualifiers, cidrs, ip6 with colons, redirect', () => {
  const parsed = parseSpf(
    'v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a/28 mx:mail.test ~include:x.test redirect=r.test -all',
  );
  assert.deepEqual(
    parsed.terms.map((t) => `${t.qualifier}${t.mechanism}`),
    ['+ip4', '+ip6', '+a', '+mx', '~include', '-all'],
  );
  assert.equal(parsed.terms[1]?.value, '2001:db8::');
  assert.equal(parsed.terms[1]?.cidr6, 32);
  assert.equal(parsed.terms[2]?.cidr4, 28);
  assert.equal(parsed.redirect, 'r.test');
  assert.deepEqual(parseSpf('v=spf1 bogus:x -all').errors, ['unknown term "bogus:x"']);
});

test('SPF: include chains, a and mx, -all and ~all', async () => {
  const dns = fakeDns(
    {
      'd.test': ['v=spf1 mx include:_spf.d.test -all'],
      '_spf.d.test': ['v=spf1 include:_spf2.d.test ~all'],
      '_spf2.d.test': ['v=spf1 ip4:198.51.100.0/24 a:host.d.test -all'],
      'soft.test': ['v=spf1 ip4:192.0.2.1 ~all'],
    },
    { 'mx.d.test': ['192.0.2.25'], 'host.d.test': ['203.0.113.9'] },
    { 'd.test': ['mx.d.test'] },
  );
  assert.equal((await evaluateSpf('192.0.2.25', 'd.test', dns)).result, 'pass');
  const deep = await evaluateSpf('198.51.100.7', 'd.test', dns);
  assert.equal(deep.result, 'pass');
  assert.equal(deep.matched, 'include:_spf.d.test -> include:_spf2.d.test -> ip4:198.51.100.0');
  assert.equal((await evaluateSpf('203.0.113.9', 'd.test', dns)).result, 'pass');
  // Not matched inside the includes: the outer -all decides (an include's ~all is "no match" outside).
  const fail = await evaluateSpf('10.0.0.1', 'd.test', dns);
  assert.equal(fail.result, 'fail');
  assert.equal(fail.lookups, 4);
  assert.equal((await evaluateSpf('10.0.0.1', 'soft.test', dns)).result, 'softfail');
  assert.equal((await evaluateSpf('10.0.0.1', 'none.test', dns)).result, 'none');
});

test('SPF: more than 10 DNS lookups is a permerror; two records are a permerror', async () => {
  const txt: Record<string, string[]> = {
    'many.test': [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `include:i${i}.test`).join(' ')} -all`],
  };
  for (let i = 0; i < 11; i++) txt[`i${i}.test`] = ['v=spf1 ip4:10.9.9.9 -all'];
  const result = await evaluateSpf('192.0.2.1', 'many.test', fakeDns(txt));
  assert.equal(result.result, 'permerror');
  assert.match(result.reason ?? '', /more than 10 DNS lookups/);
  assert.equal(
    (await evaluateSpf('192.0.2.1', 'two.test', fakeDns({ 'two.test': ['v=spf1 -all', 'v=spf1 +all'] }))).result,
    'permerror',
  );
  const loop = await evaluateSpf('192.0.2.1', 'loop.test', fakeDns({ 'loop.test': ['v=spf1 include:loop.test -all'] }));
  assert.equal(loop.result, 'permerror');
});

test('DKIM key size', () => {
  const key = (bits: number) =>
    generateKeyPairSync('rsa', { modulusLength: bits })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');
  assert.equal(dkimKeyBits(`v=DKIM1; k=rsa; p=${key(2048)}`).bits, 2048);
  assert.equal(dkimKeyBits(`v=DKIM1; p=${key(512)}`).bits, 512);
  assert.equal(dkimKeyBits('v=DKIM1; k=rsa; p=').revoked, true);
  assert.ok(dkimKeyBits('v=DKIM1; k=rsa; p=bm90IGEga2V5').error);
});

test('DMARC parse', () => {
  const dmarc = parseDmarc('v=DMARC1; p=reject; adkim=s; rua=mailto:a@x.test, mailto:b@y.test; pct=50');
  assert.equal(dmarc.p, 'reject');
  assert.equal(dmarc.adkim, 's');
  assert.equal(dmarc.aspf, 'r');
  assert.deepEqual(dmarc.rua, ['mailto:a@x.test', 'mailto:b@y.test']);
  assert.equal(dmarc.pct, 50);
  assert.deepEqual(dmarc.errors, []);
  assert.equal(parseDmarc('v=DMARC1; p=maybe').errors.length, 1);
  assert.equal(reverseName('192.0.2.25'), '25.2.0.192.in-addr.arpa');
  assert.match(reverseName('2001:db8::1'), /^1(\.0){23}\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa$/);
});
