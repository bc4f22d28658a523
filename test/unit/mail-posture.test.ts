// MTA-STS, TLS-RPT and BIMI records and files read as their specifications say, each problem in words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mxMatches, parsePolicy, parseStsRecords, parseTlsRptRecords } from '../../src/protocols/mail-auth/mta-sts.ts';
import { dmarcEnforcementProblem, parseBimiRecords, svgTinyPsProblems } from '../../src/protocols/mail-auth/bimi.ts';
import { parseDmarc } from '../../src/protocols/mail-auth/dmarc.ts';

test("MTA-STS TXT: one v=STSv1 record with an id (RFC 8461 §3.1's example passes)", () => {
  assert.deepEqual(parseStsRecords(['v=STSv1; id=20160831085700Z;']), { id: '20160831085700Z', problems: [] });
  assert.deepEqual(parseStsRecords(['v=spf1 -all']).problems, ['no _mta-sts TXT record starting v=STSv1']);
  assert.match(parseStsRecords(['v=STSv1; id=a', 'v=STSv1; id=b']).problems[0] ?? '', /2 _mta-sts records/);
  assert.match(parseStsRecords(['v=STSv1; id=not-alnum!']).problems[0] ?? '', /not 1-32 letters and digits/);
});

test("MTA-STS policy: RFC 8461 §3.2's example, and each missing or wrong field named", () => {
  const example =
    'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n';
  assert.deepEqual(parsePolicy(example), {
    mode: 'enforce',
    maxAge: 604800,
    mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'],
    problems: [],
  });
  assert.deepEqual(parsePolicy('version: STSv2\nmode: strict\nmax_age: 99999999999\n').problems, [
    'version is STSv2, not STSv1',
    'mode is strict, not enforce, testing or none',
    'max_age is 99999999999, not a number of seconds up to 31557600',
    'no mx lines: the policy covers no MX',
  ]);
});

test('MX patterns: the exact name, or *. for exactly one label', () => {
  assert.equal(mxMatches('mail.example.com', 'MAIL.example.com.'), true);
  assert.equal(mxMatches('*.example.net', 'mx1.example.net'), true);
  assert.equal(mxMatches('*.example.net', 'a.b.example.net'), false);
  assert.equal(mxMatches('*.example.net', 'example.net'), false);
});

test('TLS-RPT: one v=TLSRPTv1 record whose rua is mailto: or https:', () => {
  assert.deepEqual(
    parseTlsRptRecords(['v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com/v1/tlsrpt']),
    {
      rua: ['mailto:reports@example.com', 'https://reporting.example.com/v1/tlsrpt'],
      problems: [],
    },
  );
  assert.deepEqual(parseTlsRptRecords(['v=TLSRPTv1;']).problems, ['rua is missing: reports go nowhere']);
  assert.deepEqual(parseTlsRptRecords(['v=TLSRPTv1; rua=ftp://x']).problems, [
    'rua ftp://x is neither mailto: nor https:',
  ]);
});

test('BIMI record: l= an https SVG, a= optional', () => {
  assert.deepEqual(parseBimiRecords(['v=BIMI1; l=https://example.com/logo.svg; a=']), {
    logo: 'https://example.com/logo.svg',
    problems: [],
  });
  assert.deepEqual(parseBimiRecords(['v=BIMI1; l=http://example.com/logo.svg']).problems, [
    'l=http://example.com/logo.svg is not an https: URL',
  ]);
});

const GOOD_SVG =
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100"><title>Example</title><circle cx="50" cy="50" r="40"/></svg>';

test('SVG Tiny PS basics: a good logo passes; scripts, outside references, a missing profile or a wide box do not', () => {
  assert.deepEqual(svgTinyPsProblems(GOOD_SVG, GOOD_SVG.length), []);
  const bad =
    '<svg viewBox="0 0 200 100" onload="x()"><script>alert(1)</script><image href="https://evil.example/x.png"/></svg>';
  assert.deepEqual(svgTinyPsProblems(bad, bad.length), [
    'the root lacks baseProfile="tiny-ps"',
    'the viewBox is 200×100, not square',
    'it holds a <script>',
    'it holds an event handler attribute (on…=)',
    'it refers to something outside the file (href)',
    'it embeds an image or foreign object',
    'it has no <title> (the brand name)',
  ]);
  assert.deepEqual(svgTinyPsProblems('<html></html>', 13), ['it is not an SVG document (no <svg> root)']);
});

test('BIMI needs DMARC at enforcement: quarantine or reject, pct=100', () => {
  assert.equal(dmarcEnforcementProblem(parseDmarc('v=DMARC1; p=reject')), undefined);
  assert.match(dmarcEnforcementProblem(parseDmarc('v=DMARC1; p=none')) ?? '', /not at enforcement/);
  assert.match(dmarcEnforcementProblem(parseDmarc('v=DMARC1; p=quarantine; pct=50')) ?? '', /pct=50, not 100/);
  assert.equal(dmarcEnforcementProblem(undefined), 'no DMARC record');
});
