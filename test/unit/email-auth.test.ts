import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { evaluateSpf } from '../../src/protocols/mail-auth/spf.ts';
import { worldResolver } from '../helpers/spf-world.ts';
import { dkimKeyBits } from '../../src/protocols/mail-auth/dkim.ts';
import { parseDmarc } from '../../src/protocols/mail-auth/dmarc.ts';
import { reverseName } from '../../src/protocols/dns/records.ts';

const spf = (ip: string, domain: string, world: Parameters<typeof worldResolver>[0], helo?: string) =>
  evaluateSpf({ ip, mailFrom: `postmaster@${domain}`, ...(helo ? { helo } : {}) }, worldResolver(world));

test('SPF: include chains, a and mx, -all and ~all, none', async () => {
  const world = {
    txt: {
      'd.test': ['v=spf1 mx include:_spf.d.test -all'],
      '_spf.d.test': ['v=spf1 include:_spf2.d.test ~all'],
      '_spf2.d.test': ['v=spf1 ip4:198.51.100.0/24 a:host.d.test -all'],
      'soft.test': ['v=spf1 ip4:192.0.2.1 ~all'],
    },
    a: { 'mx.d.test': ['192.0.2.25'], 'host.d.test': ['203.0.113.9'] },
    mx: { 'd.test': ['mx.d.test'] },
  };
  assert.equal((await spf('192.0.2.25', 'd.test', world)).result, 'pass');
  const deep = await spf('198.51.100.7', 'd.test', world);
  assert.deepEqual([deep.result, deep.reason, deep.record], ['pass', 'matched', 'v=spf1 mx include:_spf.d.test -all']);
  assert.equal((await spf('203.0.113.9', 'd.test', world)).result, 'pass');
  // Not matched inside the includes: the outer -all decides (an include's ~all is "no match" outside).
  const fail = await spf('10.0.0.1', 'd.test', world);
  assert.equal(fail.result, 'fail');
  assert.equal(fail.lookups, 4);
  assert.equal((await spf('10.0.0.1', 'soft.test', world)).result, 'softfail');
  const none = await spf('10.0.0.1', 'none.test', world);
  assert.deepEqual([none.result, none.reason], ['none', 'no-record']);
});

test('SPF: limits and record count are permerrors, each with its reason', async () => {
  const txt: Record<string, string[]> = {
    'many.test': [`v=spf1 ${Array.from({ length: 11 }, (_, i) => `include:i${i}.test`).join(' ')} -all`],
    'two.test': ['v=spf1 -all', 'v=spf1 +all'],
    'loop.test': ['v=spf1 include:loop.test -all'],
    'void.test': ['v=spf1 a:nx1.test a:nx2.test a:nx3.test -all'],
  };
  for (let i = 0; i < 11; i++) txt[`i${i}.test`] = ['v=spf1 ip4:10.9.9.9 -all'];
  const many = await spf('192.0.2.1', 'many.test', { txt });
  assert.deepEqual([many.result, many.reason], ['permerror', 'too-many-lookups']);
  const two = await spf('192.0.2.1', 'two.test', { txt });
  assert.deepEqual([two.result, two.reason], ['permerror', 'multiple-records']);
  assert.equal((await spf('192.0.2.1', 'loop.test', { txt })).result, 'permerror');
  const voids = await spf('192.0.2.1', 'void.test', { txt });
  assert.deepEqual([voids.result, voids.reason], ['permerror', 'too-many-void-lookups']);
});

test('SPF: the reasons a report explains (newline, syntax, CIDR, DNS failure)', async () => {
  const txt = {
    'nl.test': ['v=spf1 ip4:192.0.2.5\n include:x.test ~all'],
    'syntax.test': ['v=spf1 ip4:192.0.2.5 bogus:x -all'],
    'cidr.test': ['v=spf1 ip4:192.0.2.0/33 -all'],
    'inc.test': ['v=spf1 include:missing.test -all'],
    'broken.test': ['v=spf1 include:servfail.test -all'],
  };
  const reason = async (domain: string) => {
    const outcome = await spf('192.0.2.5', domain, { txt, failing: ['servfail.test'] });
    return `${outcome.result}/${outcome.reason}`;
  };
  assert.equal(await reason('nl.test'), 'permerror/newline-in-record');
  assert.equal(await reason('syntax.test'), 'permerror/syntax-error');
  assert.equal(await reason('cidr.test'), 'permerror/invalid-cidr');
  assert.equal(await reason('inc.test'), 'permerror/include-without-record');
  assert.equal(await reason('broken.test'), 'temperror/dns-error');
});

test('SPF macros use the MAIL FROM local part and the HELO name', async () => {
  const world = {
    txt: { 'm.test': ['v=spf1 exists:%{l}.%{h}.ok.m.test -all'] },
    a: { 'postmaster.relay.test.ok.m.test': ['127.0.0.2'] },
  };
  assert.equal((await spf('192.0.2.1', 'm.test', world, 'relay.test')).result, 'pass');
  assert.equal((await spf('192.0.2.1', 'm.test', world, 'other.test')).result, 'fail');
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
