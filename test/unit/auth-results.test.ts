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

  test('a forged header below the trusted one (under its Received) is ignored; one with another authserv-id too', () => {
    const block = [
      'Authentication-Results: mx.example.test; spf=fail smtp.mailfrom=ex.com; dkim=fail header.d=ex.com header.s=s1; dmarc=fail (p=reject)',
      'Received: from sender.test by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000',
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

describe('Authentication-Results read exactly (RFC 8601)', () => {
  test("RFC 8601's own example: comments and folding whitespace around `/`, `.` and `=`", () => {
    const parsed = parseAuthenticationResults(
      [
        'foo.example.net (foobar) 1 (baz);',
        '    dkim (Because I like it) / 1 (One yay) = (wait for it) fail',
        '      policy (A dot can go here) . (like that) expired',
        "      (this surprised me) = (as I wasn't expecting it) 1362471462",
      ].join('\r\n'),
    );
    assert.equal(parsed.authservId, 'foo.example.net');
    assert.deepEqual(
      parsed.results.map((r) => `${r.method}=${r.result}`),
      ['dkim=fail'],
    );
    assert.equal(parsed.results[0]?.props['policy.expired'], '1362471462');
    assert.deepEqual(parsed.results[0]?.comments.slice(0, 3), ['Because I like it', 'One yay', 'wait for it']);
  });

  test('`header . d = x` keeps header.d; a value ending in a dot never swallows the next property', () => {
    const parsed = parseAuthenticationResults(
      'mx.example. 1; dkim = pass header . d = ex.com (sig) header.s=s1; spf=pass smtp.helo=mx.ex.com. smtp.mailfrom=ex.com',
    );
    assert.equal(parsed.authservId, 'mx.example.');
    assert.deepEqual(parsed.results[0]?.props, { 'header.d': 'ex.com', 'header.s': 's1' });
    assert.deepEqual(parsed.results[1]?.props, { 'smtp.helo': 'mx.ex.com.', 'smtp.mailfrom': 'ex.com' });
  });

  test('quoted-pairs inside quoted strings: an escaped quote or backslash stays in the value', () => {
    const parsed = parseAuthenticationResults(
      'mx.a; dkim=fail reason="bad \\"b=\\" tag; see \\\\docs" header.d=ex.com; spf=pass',
    );
    assert.equal(parsed.results[0]?.reason, 'bad "b=" tag; see \\docs');
    assert.equal(parsed.results[0]?.props['header.d'], 'ex.com');
    assert.equal(parsed.results[1]?.result, 'pass');
  });

  test("DMARC policy from rspamd's `(policy=reject)` comment and from the `policy.dmarc=` property", () => {
    const rspamd = 'Authentication-Results: mx.rspamd.test; dmarc=pass (policy=reject) header.from=ex.com\r\n\r\n';
    assert.equal(judgeAuthentication(parseHeaderBlock(rspamd), 'mx.rspamd.test').dmarcPolicy, 'reject');
    const cloudflare =
      'Authentication-Results: mx.cloudflare.net; dmarc=pass header.from=ex.com policy.dmarc=quarantine\r\n\r\n';
    assert.equal(judgeAuthentication(parseHeaderBlock(cloudflare), 'mx.cloudflare.net').dmarcPolicy, 'quarantine');
  });

  test('Postfix with OpenDKIM and OpenDMARC: the contiguous trusted headers at the top are read together', () => {
    const block = [
      'Authentication-Results: mx.example.test; dmarc=fail (p=quarantine dis=none) header.from=ex.com',
      'Authentication-Results: mx.example.test; dkim=pass (2048-bit key) header.d=esp.test header.s=k1',
      'Authentication-Results: mx.example.test; spf=softfail smtp.mailfrom=bounce@esp.test',
      // Right under them, the sender's own header with the same id states nothing new: it changes nothing.
      'Authentication-Results: mx.example.test; spf=pass; dkim=pass header.d=ex.com; dmarc=pass (p=none)',
      'Received: from out.esp.test by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000',
      'Authentication-Results: mx.example.test; arc=pass',
      '',
    ].join('\r\n');
    const verdict = judgeAuthentication(parseHeaderBlock(block), 'mx.example.test');
    assert.deepEqual(
      [verdict.spf, verdict.dkim, verdict.dkimDomain, verdict.dmarc, verdict.dmarcPolicy, verdict.arc],
      ['softfail', 'pass', 'esp.test', 'fail', 'quarantine', null],
    );
    // Another field between ends the group: only contiguous headers belong together.
    const apart = block.replace(
      'Authentication-Results: mx.example.test; spf=softfail',
      'X-Spam-Score: 0.1\r\nAuthentication-Results: mx.example.test; spf=softfail',
    );
    assert.equal(judgeAuthentication(parseHeaderBlock(apart), 'mx.example.test').spf, null);
    // So does a header of another server.
    const other = block.replace(
      'Authentication-Results: mx.example.test; dkim=pass (2048-bit key)',
      'Authentication-Results: other.test; dkim=pass (2048-bit key)',
    );
    assert.equal(judgeAuthentication(parseHeaderBlock(other), 'mx.example.test').dkim, null);
  });

  test('Microsoft: the topmost header without authserv-id is trusted, never a lower one ending with the configured name', () => {
    const block = [
      'Authentication-Results: spf=fail (sender IP is 198.51.100.7) smtp.mailfrom=ex.com; dkim=none (message not signed)',
      ' header.d=none;dmarc=fail action=quarantine header.from=ex.com;compauth=fail reason=601',
      'Received: from sender.test by AM0PR01MB.outlook.com',
      'Authentication-Results: evil.outlook.com; spf=pass; dkim=pass header.d=ex.com; dmarc=pass',
      'Authentication-Results: outlook.com; spf=pass; dkim=pass header.d=ex.com; dmarc=pass',
      '',
    ].join('\r\n');
    const verdict = judgeAuthentication(parseHeaderBlock(block), 'outlook.com');
    assert.deepEqual([verdict.spf, verdict.dkim, verdict.dmarc, verdict.compauth], ['fail', 'none', 'fail', 'fail']);
    assert.equal(verdict.authservId, '');
    // With no header of Microsoft's on top, nothing lower is trusted, whatever its id.
    const forged = block.split('\r\n').slice(2).join('\r\n');
    assert.equal(judgeAuthentication(parseHeaderBlock(forged), 'outlook.com').authservId, null);
  });
});
