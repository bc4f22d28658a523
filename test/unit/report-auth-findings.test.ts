// The report's email-auth findings: one sentence per check, with what to do, from the kind's observations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authFindings } from '../../src/reports/auth-findings.ts';
import { buildReport } from '../../src/reports/model.ts';
import { renderReportHtml } from '../../src/reports/html.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { run } from '../helpers/report-seed.ts';

/** Observations as the email-auth kind writes them for a domain with a broken SPF record and no DMARC. */
const BROKEN = {
  'spf.records': 1,
  'spf.record': 'v=spf1 ip4:192.0.2.5\n include:_spf.example.test ~all',
  'spf.192.0.2.25': 'permerror',
  'spf.192.0.2.25.reason': 'newline-in-record',
  'spf.198.51.100.7': 'pass',
  'spf.198.51.100.7.reason': 'matched',
  'spf.lookups': 0,
  'spf.reason': 'newline-in-record',
  'spf.pass': false,
  'dkim.s1.present': true,
  'dkim.s1.bits': 2048,
  'dkim.old.present': true,
  'dkim.old.bits': 512,
  'dkim.ok': false,
  'dmarc.present': true,
  'dmarc.p': 'none',
  mx: [],
  'mx.count': 0,
  'mx.resolvable': false,
  'ptr.192.0.2.25': [],
  'fcrdns.192.0.2.25': false,
  problems: ['SPF permerror for 192.0.2.25'],
  ok: false,
};

test('each email-auth check becomes a sentence with what to do, built from the SPF reason code', () => {
  const sentences = authFindings(BROKEN).map((f) => `${f.ok ? '+' : '-'} ${f.sentence}`);
  assert.deepEqual(sentences, [
    '- SPF for 192.0.2.25: permerror — your record has a newline inside it; publish it on one line',
    '+ SPF for 198.51.100.7: pass — this server may send for your domain',
    '+ DKIM selector s1: a 2048-bit key is published',
    '- DKIM selector old: the key has only 512 bits — receivers reject it; rotate to a 2048-bit key',
    '- DMARC: policy none — receivers only report; move to quarantine, then reject, once the reports show all your mail passing',
    '- MX: your domain has no MX record — replies and bounces cannot reach you; publish one',
    '- Reverse DNS for 192.0.2.25: no PTR name that points back to it — ask your hosting provider for a PTR record matching the server’s name',
  ]);
});

test('no record, several records, too many lookups, a timeout: each reason has its own sentence', () => {
  const spf = (o: Record<string, string | number>) => authFindings(o).map((f) => f.sentence);
  assert.deepEqual(spf({ 'spf.records': 0, 'spf.192.0.2.1': 'none', 'spf.192.0.2.1.reason': 'no-record' }), [
    'SPF for your domain: none — your domain publishes no SPF record; publish one TXT record starting with v=spf1 that lists your sending servers',
  ]);
  assert.deepEqual(
    spf({ 'spf.records': 2, 'spf.192.0.2.1': 'permerror', 'spf.192.0.2.1.reason': 'multiple-records' }),
    [
      'SPF for your domain: permerror — your domain publishes more than one SPF record, so receivers ignore them all; merge them into one',
    ],
  );
  assert.match(
    spf({ 'spf.192.0.2.1': 'permerror', 'spf.192.0.2.1.reason': 'too-many-lookups' })[0] ?? '',
    /more than 10 DNS lookups/,
  );
  assert.match(
    spf({ 'spf.192.0.2.1': 'temperror', 'spf.192.0.2.1.reason': 'dns-timeout' })[0] ?? '',
    /did not answer in time/,
  );
  // Kinds that write none of these observations get no sentences (the report lists their details instead).
  assert.deepEqual(authFindings({ rcode: 'NOERROR', answers: ['192.0.2.1'] }), []);
});

test('the report shows the sentences for an email-auth run instead of key = value observations', () => {
  const now = Date.parse('2025-06-30T00:00:00Z');
  const store = new SqliteStore(':memory:', new ManualClock(now));
  try {
    store.probes.sync([{ name: 'acme-auth', kind: 'email-auth', tenant: 'acme', tags: [] }]);
    store.runs.record(run('acme-auth', 'email-auth', 'acme', now - 60_000, { status: 'fail', observations: BROKEN }));
    const model = buildReport(store, { tenant: 'acme', since: now - 86_400_000, until: now }, {}, now);
    const check = model.dnsAuth.checks[0];
    assert.equal(
      check?.findings[0]?.sentence.startsWith('SPF for 192.0.2.25: permerror — your record has a newline'),
      true,
    );
    const html = renderReportHtml(model, '');
    assert.match(
      html,
      /SPF for 192\.0\.2\.25: permerror — your record has a newline inside it; publish it on one line/,
    );
    assert.doesNotMatch(html, /spf\.records = /);
  } finally {
    store.close();
  }
});
