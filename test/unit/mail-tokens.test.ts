import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mailKind } from '../../src/probers/mail.ts';
import { sentTokens, subjectMarker, subjectToken } from '../../src/protocols/smtp/probe-token.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';
import { specFor } from '../helpers/probe-run.ts';

const token = (n: number) => `sp-${n.toString(16).padStart(16, '0')}`;
const sent = (probe: string, tokenSent: unknown) => ({
  probe,
  items: [{ type: 'mail.message', key: `seed-a:${String(tokenSent)}`, data: { seed: 'seed-a', token: tokenSent } }],
});

test('a subject carries the token that follows the marker, and nothing else after it', () => {
  const marker = subjectMarker('[scaiprobe]', 'mail-lab');
  assert.equal(subjectToken(`[scaiprobe] mail-lab ${token(1)}`, marker), token(1));
  // A provider's tag in front does not hide the token.
  assert.equal(subjectToken(`[SPAM] [scaiprobe] mail-lab ${token(1)}`, marker), token(1));
  assert.equal(subjectToken(`[scaiprobe] mail-lab ${token(1)} click here`, marker), undefined);
  assert.equal(subjectToken('[scaiprobe] mail-lab sp-xyz', marker), undefined);
  assert.equal(subjectToken(`[scaiprobe] other ${token(1)}`, marker), undefined);
});

test("a mail probe's sent tokens: newest first, once each, only its own, only well-formed", () => {
  const recent = new RecentItems();
  recent.remember(sent('mail-lab', token(1)));
  recent.remember(sent('mail-other', token(9)));
  recent.remember(sent('mail-lab', token(2)));
  recent.remember(sent('mail-lab', 'not-a-token'));
  recent.remember(sent('mail-lab', 42));
  assert.deepEqual(sentTokens(recent, 'mail-lab'), [token(2), token(1)]);
  assert.deepEqual(sentTokens(recent, 'mail-lab', 1), [token(2)]);
  assert.deepEqual(sentTokens(recent, 'nobody'), []);
});

test('a mail probe sets X-Scaiprobe-Id itself: send.headers may not', () => {
  const raw = (headers: Record<string, string>) => ({
    send: { api: 'http://127.0.0.1:1', apiKey: 'k', from: 'probe@example.test', headers },
    seeds: [{ name: 'seed-a', address: 'a@example.test', imap: { host: '127.0.0.1', user: 'a', pass: 'p' } }],
  });
  assert.throws(
    () => specFor(mailKind, raw({ 'x-scaiprobe-id': token(1) })),
    /send\.headers\.x-scaiprobe-id: is set by the probe/,
  );
  assert.doesNotThrow(() => specFor(mailKind, raw({ 'X-Campaign': 'probe' })));
});

test("in a fleet a probe message's subject names the location, so locations sharing a seed keep their messages apart", () => {
  assert.equal(subjectMarker('[scaiprobe]', 'mail-roundtrip'), '[scaiprobe] mail-roundtrip ');
  const eu = subjectMarker('[scaiprobe]', 'mail-roundtrip', 'eu-west');
  assert.equal(eu, '[scaiprobe] mail-roundtrip@eu-west ');
  const token = 'sp-0123456789abcdef';
  assert.equal(subjectToken(`${eu}${token}`, eu), token);
  assert.equal(subjectToken(`${subjectMarker('[scaiprobe]', 'mail-roundtrip', 'us-east')}${token}`, eu), undefined);
});
