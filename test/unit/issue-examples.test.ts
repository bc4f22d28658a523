import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.ts';

// The issues' example configurations, copied verbatim: they are contracts and must stay valid.
const env = {
  SCAISEND_API_KEY: 'k',
  SEED_A_PASS: 'alicepw',
  SEED_B_PASS: 'bobpw',
  CHALLENGE_TOKEN: 'token',
  PDNS_API_KEY: 'pdns',
  ACME_API_KEY: 'acme',
};
const dir = 'test/fixtures/config/issue-examples';

const expected: Record<string, string[]> = {
  'issue-3-mail.yaml': ['mail'],
  'issue-4-dns.yaml': ['dns', 'dns', 'zone-sync', 'email-auth'],
  'issue-5-rbl.yaml': ['rbl'],
  'issue-6-rates.yaml': ['stats', 'prometheus', 'queue'],
};

for (const [file, kinds] of Object.entries(expected)) {
  test(`${file} is valid as written`, () => {
    const config = loadConfig(`${dir}/${file}`, env);
    assert.deepEqual(
      config.probes.map((p) => p.kind),
      kinds,
    );
  });
}

test('the prometheus example assertions keep their expressions whole', () => {
  const config = loadConfig(`${dir}/issue-6-rates.yaml`, env);
  const metrics = config.probes.find((p) => p.name === 'scaidns-metrics');
  assert.deepEqual(
    metrics?.expect.map((a) => a.expr),
    [
      'p99(scaidns_http_request_duration_seconds) < 1s',
      'rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total) < 0.5%',
    ],
  );
});
