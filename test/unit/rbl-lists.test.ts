import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, loadCatalogue, lookupName, testPoints, type BlocklistZone } from '../../src/protocols/dnsbl/lists.ts';
import { rblKind, resolveZones } from '../../src/probers/rbl.ts';

const catalogue = loadCatalogue();
const zen = catalogue.zones.find((zone) => zone.zone === 'zen.spamhaus.org') as BlocklistZone;
const dbl = catalogue.zones.find((zone) => zone.zone === 'dbl.spamhaus.org') as BlocklistZone;
const surbl = catalogue.zones.find((zone) => zone.zone === 'multi.surbl.org') as BlocklistZone;
const mailspike = catalogue.zones.find((zone) => zone.zone === 'rep.mailspike.net') as BlocklistZone;

test('the catalogue has the major lists, no SORBS, and UCEPROTECT 2/3 informational', () => {
  const names = catalogue.zones.map((zone) => zone.zone);
  for (const name of [
    'zen.spamhaus.org',
    'dbl.spamhaus.org',
    'b.barracudacentral.org',
    'bl.spamcop.net',
    'psbl.surriel.com',
    'multi.surbl.org',
    'multi.uribl.com',
  ])
    assert.ok(names.includes(name), name);
  assert.ok(!names.some((name) => /sorbs/.test(name)));
  assert.equal(catalogue.zones.find((zone) => zone.zone === 'dnsbl-2.uceprotect.net')?.severity, 'info');
  assert.equal(catalogue.zones.find((zone) => zone.zone === 'dnsbl-3.uceprotect.net')?.severity, 'info');
});

test('query names: reversed octets, 32 reversed nibbles, domains as given', () => {
  assert.equal(lookupName('192.0.2.1', 'bl.test'), '1.2.0.192.bl.test');
  assert.equal(
    lookupName('2001:db8::1', 'bl.test'),
    '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test',
  );
  assert.equal(lookupName('2001:db8::1', 'x').split('.').length, 33);
  assert.equal(lookupName('Bad.Example', 'dbl.test'), 'bad.example.dbl.test');
  assert.deepEqual(testPoints(dbl), { listed: 'test', clean: 'invalid' });
});

test('verdicts: listed with meanings, clean on NXDOMAIN', () => {
  const listed = judge(zen, { rcode: 'NOERROR', addresses: ['127.0.0.4'] });
  assert.equal(listed.verdict, 'listed');
  assert.equal(listed.severity, 'alert');
  assert.match(listed.meanings[0] ?? '', /XBL/);
  assert.equal(judge(zen, { rcode: 'NOERROR', addresses: ['127.0.0.10'] }).severity, 'warn');
  assert.equal(judge(zen, { rcode: 'NXDOMAIN', addresses: [] }).verdict, 'clean');
});

test('error codes and odd answers are unknown, never listed', () => {
  for (const code of ['127.255.255.252', '127.255.255.254', '127.255.255.255', '127.0.0.1'])
    assert.equal(judge(zen, { rcode: 'NOERROR', addresses: [code] }).verdict, 'unknown', code);
  assert.equal(judge(dbl, { rcode: 'NOERROR', addresses: ['127.0.1.255'] }).verdict, 'unknown');
  assert.equal(judge(zen, { rcode: 'NOERROR', addresses: ['127.0.0.2', '127.255.255.254'] }).verdict, 'unknown');
  assert.match(judge(zen, { rcode: 'NOERROR', addresses: ['198.51.100.7'] }).why ?? '', /outside 127/);
  assert.equal(judge(zen, { rcode: 'REFUSED', addresses: [] }).verdict, 'unknown');
  assert.equal(judge(zen, { rcode: 'SERVFAIL', addresses: [] }).verdict, 'unknown');
  assert.equal(judge(zen, { addresses: [], error: 'no answer after 3 tries' }).verdict, 'unknown');
  assert.equal(judge(surbl, { rcode: 'NOERROR', addresses: ['127.0.0.1'] }).verdict, 'unknown');
});

test('bitmask lists and graded reputation lists', () => {
  assert.deepEqual(judge(surbl, { rcode: 'NOERROR', addresses: ['127.0.0.24'] }).meanings, [
    'PH: phishing, MW: malware',
  ]);
  assert.equal(judge(mailspike, { rcode: 'NOERROR', addresses: ['127.0.0.10'] }).severity, 'alert');
  assert.equal(judge(mailspike, { rcode: 'NOERROR', addresses: ['127.0.0.13'] }).severity, 'warn');
  assert.equal(judge(mailspike, { rcode: 'NOERROR', addresses: ['127.0.0.18'] }).verdict, 'clean');
});

test('config: catalogue names resolve, unknown names are errors, a public resolver is a warning', () => {
  const spec = rblKind.fields.strict().parse({
    ips: ['192.0.2.1'],
    zones: ['zen.spamhaus.org', { zone: 'bl.test', type: 'ip', severity: 'alert' }, 'nope.example'],
    resolver: '8.8.8.8',
  }) as Parameters<NonNullable<typeof rblKind.check>>[0];
  const problems = rblKind.check?.(spec) ?? [];
  assert.ok(problems.some((p) => /nope.example/.test(p.message) && !(p as { warning?: boolean }).warning));
  assert.ok(problems.some((p) => /public resolver/.test(p.message) && (p as { warning?: boolean }).warning === true));
  assert.deepEqual(
    resolveZones(spec.zones).zones.map((zone) => zone.zone),
    ['zen.spamhaus.org', 'bl.test'],
  );
});
