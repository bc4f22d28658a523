// Reports say what each posture check found in a sentence with what to do, from the runs' observations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postureFindings } from '../../src/reports/posture-findings.ts';

const sentences = (o: Record<string, unknown>) =>
  postureFindings(o as never).map((f) => `${f.ok ? '+' : '-'} ${f.sentence}`);

test('MTA-STS, TLS-RPT and BIMI in order read as such; each failure says what to do', () => {
  assert.deepEqual(
    sentences({
      'mtaSts.id': '1',
      'mtaSts.policy': true,
      'mtaSts.mode': 'enforce',
      'mtaSts.mxCovered': true,
      'tlsRpt.rua': ['mailto:tls@example.com'],
      'bimi.logo': 'https://example.com/l.svg',
      'bimi.dmarcEnforced': true,
      'bimi.svgTinyPs': true,
    }),
    [
      '+ MTA-STS: mode enforce — senders require TLS to every MX of yours',
      '+ TLS-RPT: senders report TLS failures to mailto:tls@example.com',
      '+ BIMI: your logo is published as SVG Tiny PS and DMARC is at enforcement',
    ],
  );
  const broken = sentences({
    'mtaSts.id': '1',
    'mtaSts.policy': true,
    'mtaSts.mxCovered': false,
    'tlsRpt.rua': [],
    'bimi.logo': 'https://example.com/l.svg',
    'bimi.dmarcEnforced': false,
    'bimi.svgTinyPs': false,
  });
  assert.equal(broken.length, 4);
  assert.match(broken[0] ?? '', /^- MTA-STS: one of your MX servers is not listed in the policy — add it/);
  assert.match(broken[1] ?? '', /^- TLS-RPT: no reporting address — publish _smtp\._tls/);
  assert.match(broken[2] ?? '', /^- BIMI: your DMARC policy is not at enforcement/);
  assert.match(broken[3] ?? '', /^- BIMI: the logo is not SVG Tiny PS — export it/);
});

test('DNSSEC: a DS that matches no key, invalid signatures, near expiry, and valid', () => {
  const dnssec = { dnskeys: 1, 'rrsig.daysLeft': 10.5, valid: true, 'ds.match': true };
  assert.deepEqual(sentences(dnssec), ['+ DNSSEC: signed and valid at every server; signatures valid 10.5 more days']);
  assert.match(sentences({ ...dnssec, 'ds.match': false })[0] ?? '', /^- DNSSEC: the DS record at your registrar/);
  assert.match(sentences({ ...dnssec, valid: false })[0] ?? '', /^- DNSSEC: the zone’s signatures do not validate/);
  assert.match(
    sentences({ ...dnssec, 'rrsig.daysLeft': 3 })[0] ?? '',
    /expire in 3 days — make sure the zone is re-signed/,
  );
});

test('STARTTLS per MX: not offered, a certificate for another name, near expiry, and fine', () => {
  assert.deepEqual(
    sentences({
      'mx.a.example.com.starttls': false,
      'mx.b.example.com.starttls': true,
      'mx.b.example.com.cert.valid': false,
      'mx.c.example.com.starttls': true,
      'mx.c.example.com.cert.valid': true,
      'mx.c.example.com.cert.daysLeft': 5,
      'mx.d.example.com.starttls': true,
      'mx.d.example.com.cert.valid': true,
      'mx.d.example.com.cert.daysLeft': 80,
      'mx.e.example.com.starttls': null,
    }),
    [
      '- STARTTLS at a.example.com: not offered — mail to you travels unencrypted; enable STARTTLS on that server',
      '- STARTTLS at b.example.com: the certificate is not valid for b.example.com — install a current certificate for that name from a public CA',
      '- STARTTLS at c.example.com: the certificate expires in 5 days — renew it',
      '+ STARTTLS at d.example.com: offered, with a valid certificate for 80 more days',
    ],
  );
});

test("other kinds' observations (an email-auth run without posture keys, a dns run) give no posture sentences", () => {
  assert.deepEqual(sentences({ 'spf.records': 1, mx: ['mx.example.com.'], 'mx.count': 1, 'mx.resolvable': true }), []);
});
