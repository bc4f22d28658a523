import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { verdictNotes, verifyOwn, trustedClient, type OwnVerdict } from '../../src/protocols/mail-auth/verify.ts';
import type { MailauthResolver } from '../../src/protocols/mail-auth/dns-resolver.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const TXT: Record<string, string> = {
  'sel._domainkey.example.test': `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`,
  '_dmarc.example.test': 'v=DMARC1; p=quarantine',
  'bounce.other.test': 'v=spf1 ip4:192.0.2.1 -all',
};

/** What a zone with only TXT records answers; every other name does not exist. */
const zone: MailauthResolver = async (name, rrtype) => {
  const text = rrtype === 'TXT' ? TXT[name.toLowerCase()] : undefined;
  if (text === undefined) throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return [[text]];
};

const BODY = 'Hello,\r\nthis is the probe.\r\n';
const HEADERS =
  'From: probe@example.test\r\nTo: alice@example.test\r\nSubject: probe\r\nDate: Sun, 29 Nov 2026 08:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n';
const TRACE =
  'Return-Path: <b@bounce.other.test>\r\nReceived: from mail.example.test (mail.example.test [192.0.2.1])\r\n\tby mx.example.test with ESMTP; Sun, 29 Nov 2026 08:00:01 +0000\r\n';

async function signed(body = BODY): Promise<Buffer> {
  const message = `${HEADERS}\r\n${BODY}`;
  const key = { signingDomain: 'example.test', selector: 'sel', privateKey: KEY };
  const { signatures } = await dkimSign(message, { ...key, signatureData: [key] });
  return Buffer.from(`${TRACE}${signatures}${HEADERS}\r\n${body}`);
}

const options = (signal = new AbortController().signal) => ({ resolver: zone, signal, maxSignatures: 4 });

test('a signed message: the signature passes and aligns, DMARC passes with its policy, SPF for the trusted client', async () => {
  const own = await verifyOwn(await signed(), options());
  assert.equal(own.dkim, 'pass');
  assert.deepEqual(
    own.signatures.map((s) => [s.domain, s.selector, s.result, s.bodyHash, s.keyBits, s.aligned]),
    [['example.test', 'sel', 'pass', 'ok', 2048, true]],
  );
  assert.deepEqual([own.dmarc, own.dmarcPolicy, own.dmarcDkimAligned], ['pass', 'quarantine', true]);
  assert.deepEqual([own.spf, own.spfIp, own.arc], ['pass', '192.0.2.1', 'none']);
});

test('a body altered after signing: the signature fails on its body hash, and DMARC fails', async () => {
  const own = await verifyOwn(await signed(`${BODY}-- \r\nadded on the way\r\n`), options());
  assert.equal(own.dkim, 'fail');
  assert.equal(own.signatures[0]?.bodyHash, 'mismatch');
  assert.equal(own.dmarc, 'fail');
  const notes = verdictNotes('seed-a', { spf: 'pass', dkim: 'fail', dmarc: 'fail' }, own);
  assert.deepEqual(notes, [
    'seed-a: DKIM signature d=example.test s=sel (rsa-sha256) fail: body hash mismatch: the body was altered after signing',
  ]);
});

test('the topmost Received field alone names the client: one a sender wrote below it does not count', () => {
  const raw = Buffer.from(
    'Received: by mx.example.test with LMTP; Sun, 29 Nov 2026 08:00:01 +0000\r\nReceived: from forged (forged [198.51.100.7])\r\n\tby x; Sun, 29 Nov 2026 08:00:00 +0000\r\nFrom: a@example.test\r\n\r\nhi\r\n',
  );
  assert.equal(trustedClient(raw), undefined);
  assert.deepEqual(trustedClient(Buffer.from(`${TRACE}${HEADERS}\r\n${BODY}`)), {
    ip: '192.0.2.1',
    helo: 'mail.example.test',
  });
});

test('the provider and our verification disagreeing is said, with what it may mean', () => {
  const own: OwnVerdict = {
    dkim: 'pass',
    signatures: [],
    dmarc: 'pass',
    dmarcPolicy: 'none',
    dmarcDkimAligned: true,
    dmarcSpfAligned: false,
    arc: 'none',
    spf: null,
    spfIp: null,
  };
  assert.deepEqual(verdictNotes('seed-a', { spf: 'pass', dkim: 'fail', dmarc: 'fail' }, own), [
    'seed-a: provider says dkim=fail, our verification passes: body altered in transit?',
    'seed-a: provider says dmarc=fail, our verification passes: the provider saw another From or other signatures?',
  ]);
  assert.deepEqual(verdictNotes('seed-a', { spf: 'pass', dkim: 'pass', dmarc: 'pass' }, own), []);
});

test('bounds: more signatures than allowed are not verified; an abort ends a verification whose DNS never answers', async () => {
  const many = Buffer.from(
    `${'DKIM-Signature: v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=x; b=x\r\n'.repeat(5)}${HEADERS}\r\n${BODY}`,
  );
  await assert.rejects(verifyOwn(many, options()), /5 DKIM signatures, more than maxSignatures \(4\)/);
  const controller = new AbortController();
  const silent: MailauthResolver = () => new Promise(() => undefined);
  const started = Date.now();
  setTimeout(() => controller.abort(new Error('deadline')), 100);
  await assert.rejects(verifyOwn(await signed(), { ...options(controller.signal), resolver: silent }), /deadline/);
  assert.ok(Date.now() - started < 2000, 'ended at the abort');
});
