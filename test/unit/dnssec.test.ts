// DNSSEC building blocks against the RFCs' own examples: key tags, DS digests, canonical order, NSEC and NSEC3 proofs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dsDigest, keyTag, withinValidity, type Rrsig } from '../../src/protocols/dns/dnssec.ts';
import { canonicalCompare, nsec3Hash, nsecCovers, nsecDenialProblem } from '../../src/protocols/dns/denial.ts';
import { rdataText } from '../../src/protocols/dns/records.ts';

// RFC 4034 §5.4: dskey.example.com's DNSKEY, key id 60485, and its SHA-1 DS digest.
const RFC4034_KEY = {
  flags: 256,
  algorithm: 5,
  key: Buffer.from(
    'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
    'base64',
  ),
};

test("key tag and DS digest of RFC 4034's example key", () => {
  assert.equal(keyTag(RFC4034_KEY), 60485);
  assert.equal(
    dsDigest('dskey.example.com.', RFC4034_KEY, 1)?.toString('hex').toUpperCase(),
    '2BB183AF5F22588179A53B0A98631FAD1A292118',
  );
  assert.equal(dsDigest('dskey.example.com.', RFC4034_KEY, 3), undefined, 'an unknown digest type');
});

test("canonical order is RFC 4034 §6.1's example order", () => {
  const ordered = ['example.', 'a.example.', 'yljkjljk.a.example.', 'Z.a.example.', 'zABC.a.EXAMPLE.', 'z.example.'];
  const shuffled = [...ordered].reverse();
  assert.deepEqual(shuffled.sort(canonicalCompare), ordered);
  assert.equal(canonicalCompare('*.z.example.', 'z.example.') > 0, true);
});

test("NSEC3 hashes are RFC 5155 Appendix A's (salt aabbccdd, 12 iterations)", () => {
  const salt = Buffer.from('aabbccdd', 'hex');
  assert.equal(nsec3Hash('example.', salt, 12), '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom');
  assert.equal(nsec3Hash('a.example.', salt, 12), '35mthgpgcu1qg68fab165klnsnk3dpvl');
  assert.equal(nsec3Hash('ns1.example.', salt, 12), '2t7b4g4vsa5smi47k61mv5bv1a22bojr');
});

test('an NSEC proof needs the name and the wildcard covered; the last NSEC wraps to the apex', () => {
  const chain = [
    { owner: 'example.', nextDomain: 'a.example.' },
    { owner: 'a.example.', nextDomain: 'z.example.' },
    { owner: 'z.example.', nextDomain: 'example.' },
  ];
  assert.equal(nsecCovers(chain[1]!, 'b.example.'), true);
  assert.equal(nsecCovers(chain[2]!, 'zz.example.'), true, 'after the last name, up to the apex');
  assert.equal(nsecCovers(chain[1]!, 'a.example.'), false, 'an existing name is not covered');
  assert.equal(nsecDenialProblem('b.example.', 'example.', chain), undefined);
  assert.equal(nsecDenialProblem('b.example.', 'example.', [chain[1]!]), 'no NSEC covers the wildcard *.example.');
  assert.equal(nsecDenialProblem('b.example.', 'example.', [chain[0]!]), 'no NSEC covers b.example.');
});

test('signature validity uses serial arithmetic, so it holds across the 2106 wrap of 32-bit seconds', () => {
  const sig = (inception: number, expiration: number) => ({ inception, expiration }) as Rrsig;
  assert.equal(withinValidity(sig(100, 200), 150).valid, true);
  assert.match(withinValidity(sig(100, 200), 201).why ?? '', /^expired/);
  assert.match(withinValidity(sig(100, 200), 99).why ?? '', /^not valid before/);
  const wrap = 2 ** 32;
  assert.equal(withinValidity(sig(wrap - 100, 100), wrap + 50).valid, true, 'a window over the wrap');
});

test('DS and DNSKEY records read as PowerDNS writes them, so a zone comparison sees them equal', () => {
  const digest = Buffer.from('2BB183AF5F22588179A53B0A98631FAD1A292118', 'hex');
  const ds = { name: 'dskey.example.com', type: 'DS', data: { keyTag: 60485, algorithm: 5, digestType: 1, digest } };
  assert.equal(rdataText(ds as never), '60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118');
  const dnskey = { name: 'dskey.example.com', type: 'DNSKEY', data: RFC4034_KEY };
  assert.equal(rdataText(dnskey as never), `256 3 5 ${RFC4034_KEY.key.toString('base64')}`);
});
