import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  judgeAuthentication,
  parseAuthenticationResults,
  parseHeaderBlock,
  trustedAuthResults,
} from '../../src/protocols/mail-auth/auth-results.ts';

// Shapes as delivered by the providers (addresses and keys changed).
const GMAIL = [
  'Delivered-To: seed@gmail.com',
  'ARC-Seal: i=1; a=rsa-sha256; t=1700000000; cv=none;',
  '        d=google.com; s=arc-20160816; b=abc',
  'ARC-Authentication-Results: i=1; mx.google.com;',
  '       dkim=pass header.i=@ex.com header.s=s1 header.b=abc;',
  '       spf=pass (google.com: domain of b@ex.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=b@ex.com;',
  '       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=ex.com',
  'Authentication-Results: mx.google.com;',
  '       dkim=pass header.i=@ex.com header.s=s1 header.b=abc;',
  '       dkim=pass header.i=@esp.example header.s=esp2023 header.b=def;',
  '       spf=pass (google.com: domain of b@ex.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=b@ex.com;',
  '       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=ex.com',
  'Received-SPF: pass (google.com: domain of b@ex.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;',
  'List-Unsubscribe: <https://ex.com/u/1>, <mailto:u@ex.com>',
  'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
  'Subject: hello',
  '',
  'body',
].join('\r\n');

// Outlook.com: authserv-id after each result, compauth with reason, DMARC action.
const OUTLOOK = [
  'Authentication-Results: spf=softfail (sender IP is 198.51.100.7)',
  ' smtp.mailfrom=ex.com; hotmail.com; dkim=fail (signature did not verify)',
  ' header.d=ex.com;hotmail.com; dmarc=fail action=oreject',
  ' header.from=ex.com;compauth=fail reason=000',
  'Received-SPF: SoftFail (protection.outlook.com: domain of transitioning ex.com',
  ' discourages use of 198.51.100.7 as permitted sender)',
  'ARC-Seal: i=2; a=rsa-sha256; s=arcselector; d=microsoft.com; cv=pass; b=x',
  'ARC-Seal: i=1; a=rsa-sha256; s=arcselector; d=microsoft.com; cv=none; b=y',
  'Subject: hi',
  '',
].join('\r\n');

const YAHOO = [
  'Authentication-Results: atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;',
  ' dkim=pass header.i=@gmail.com header.s=20230601;',
  ' spf=pass smtp.mailfrom=gmail.com;',
  ' dmarc=pass(p=NONE,sp=QUARANTINE) header.from=gmail.com;',
  'X-Apparently-To: seed@yahoo.com; Mon, 1 Jan 2024 00:00:00 +0000',
  '',
].join('\r\n');

describe('Authentication-Results parser', () => {
  test('Gmail: DKIM from header.i, a passing signature decides, DMARC policy from the comment', () => {
    const verdict = judgeAuthentication(parseHeaderBlock(GMAIL), 'mx.google.com');
    assert.equal(verdict.authservId, 'mx.google.com');
    assert.equal(verdict.spf, 'pass');
    assert.equal(verdict.dkim, 'pass');
    assert.equal(verdict.dkimDomain, 'ex.com');
    assert.equal(verdict.dkimSelector, 's1');
    assert.equal(verdict.dmarc, 'pass');
    assert.equal(verdict.dmarcPolicy, 'reject');
    assert.equal(verdict.receivedSpf, 'pass');
    assert.equal(verdict.arcSealCv, 'none');
    assert.equal(verdict.listUnsubscribe, true);
    assert.equal(verdict.oneClickUnsubscribe, true);
  });

  test('Outlook.com: authserv-id after each result, compauth and reason, action kept', () => {
    const parsed = parseAuthenticationResults(parseHeaderBlock(OUTLOOK)[0]?.value ?? '');
    assert.equal(parsed.authservId, 'hotmail.com');
    assert.deepEqual(
      parsed.results.map((r) => `${r.method}=${r.result}`),
      ['spf=softfail', 'dkim=fail', 'dmarc=fail', 'compauth=fail'],
    );
    assert.equal(parsed.results[2]?.props.action, 'oreject');
    const verdict = judgeAuthentication(parseHeaderBlock(OUTLOOK), 'hotmail.com');
    assert.equal(verdict.compauth, 'fail');
    assert.equal(verdict.compauthReason, '000');
    assert.equal(verdict.dkimDomain, 'ex.com');
    assert.equal(verdict.receivedSpf, 'softfail');
    assert.equal(verdict.arcSealCv, 'pass');
    assert.equal(verdict.listUnsubscribe, false);
  });

  test('Yahoo: a comment glued to the result, policy in upper case', () => {
    const verdict = judgeAuthentication(parseHeaderBlock(YAHOO), 'atlas-production.v2-mail-prod1-gq1.omega.yahoo.com');
    assert.equal(verdict.dmarc, 'pass');
    assert.equal(verdict.dmarcPolicy, 'none');
    assert.equal(verdict.dkimDomain, 'gmail.com');
    assert.equal(verdict.dkimSelector, '20230601');
    assert.equal(verdict.spf, 'pass');
  });

  test('a forged header below the trusted one is ignored; one with another authserv-id too', () => {
    const block = [
      'Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=ex.com; dkim=fail header.d=ex.com header.s=s1; dmarc=fail (p=reject)',
      'Authentication-Results: mx.example.test; spf=pass; dkim=pass header.d=forged.test header.s=f; dmarc=pass (p=none)',
      'Authentication-Results: evil.test; spf=pass',
      '',
    ].join('\r\n');
    const verdict = judgeAuthentication(parseHeaderBlock(block), 'mx.example.test');
    assert.equal(verdict.spf, 'fail');
    assert.equal(verdict.dkim, 'fail');
    assert.equal(verdict.dmarc, 'fail');
    assert.equal(verdict.dmarcPolicy, 'reject');
    assert.equal(judgeAuthentication(parseHeaderBlock(block), 'other.test').spf, null);
  });

  test('semicolons and parentheses inside quoted strings do not split; nested comments are stripped', () => {
    const parsed = parseAuthenticationResults(
      'mx.a 1; spf=pass reason="ok; (really)" smtp.mailfrom=a@b (nested (comment); here); dkim=none',
    );
    assert.equal(parsed.authservId, 'mx.a');
    assert.equal(parsed.results.length, 2);
    assert.equal(parsed.results[0]?.reason, 'ok; (really)');
    assert.equal(parsed.results[0]?.props['smtp.mailfrom'], 'a@b');
    assert.deepEqual(parsed.results[0]?.comments, ['nested (comment); here']);
    assert.equal(parsed.results[1]?.result, 'none');
  });

  test('`none` header and ARC-Authentication-Results instance tag', () => {
    assert.deepEqual(parseAuthenticationResults('mx.a; none'), { authservId: 'mx.a', results: [] });
    const arc = parseAuthenticationResults('i=1; mx.google.com; arc=pass (i=1); spf=pass');
    assert.equal(arc.authservId, 'mx.google.com');
    assert.deepEqual(
      arc.results.map((r) => r.method),
      ['arc', 'spf'],
    );
  });

  test('without an authserv-id to trust, the topmost header is taken', () => {
    const fields = parseHeaderBlock(
      'Authentication-Results: a.test; spf=neutral\r\nAuthentication-Results: b.test; spf=pass\r\n\r\n',
    );
    assert.equal(trustedAuthResults(fields)?.authservId, 'a.test');
    assert.equal(trustedAuthResults(fields, 'b.test')?.results[0]?.result, 'pass');
  });

  // A seed's sender controls everything below the provider's own header. On the old parser this
  // 5 MiB header (a ~10 minute blocked event loop) ran into the test timeout.
  test('a 5 MiB folded header is unfolded whole, in order, with every statement kept', () => {
    const folded = ' dkim=pass header.d=ex.com header.s=s1;';
    const count = Math.ceil((5 * 1024 * 1024) / (folded.length + 2));
    const block = [
      'Authentication-Results: mx.example.test;',
      ...Array<string>(count).fill(folded),
      ' spf=pass smtp.mailfrom=ex.com',
      'Subject: last',
      '',
      'body',
    ].join('\r\n');
    const fields = parseHeaderBlock(block);
    assert.deepEqual(
      fields.map((field) => field.name),
      ['authentication-results', 'subject'],
    );
    const value = fields[0]?.value ?? '';
    assert.equal(
      value.length,
      'mx.example.test;'.length + count * folded.length + ' spf=pass smtp.mailfrom=ex.com'.length,
    );
    assert.ok(value.startsWith('mx.example.test; dkim=pass header.d=ex.com header.s=s1; dkim=pass'));
    const verdict = judgeAuthentication(fields, 'mx.example.test');
    assert.equal(verdict.dkim, 'pass');
    assert.equal(verdict.spf, 'pass');
  });

  test('folding: blank continuation lines add nothing; a line without a colon is skipped; the value is trimmed', () => {
    const fields = parseHeaderBlock(
      'Subject:\r\n  first\r\n \r\n\tsecond  \r\nnot a field\r\n third\r\nX-A: 1\r\n\r\nX-B: body',
    );
    assert.deepEqual(fields, [
      { name: 'subject', value: 'first second third' },
      { name: 'x-a', value: '1' },
    ]);
  });
});
