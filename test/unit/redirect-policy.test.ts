import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalHostPattern,
  isSensitiveAddress,
  nextHop,
  type Hop,
  type RedirectPolicy,
} from '../../src/protocols/http/redirects.ts';
import { ProbeFailure } from '../../src/core/errors.ts';

const start = new URL('https://api.example.com/v1/start');

function firstHop(method = 'GET', body?: string): Hop {
  return {
    url: start,
    method,
    headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json', Accept: 'application/json' },
    body,
    unvouched: false,
  };
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProbeFailure, String(error));
    assert.equal(error.code, 'PROTOCOL');
    return error.message;
  }
  assert.fail('the redirect was followed');
}

test('link-local and metadata addresses, in their IPv4-mapped forms too', () => {
  for (const address of [
    '169.254.169.254',
    '169.254.0.1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    'fd00:ec2::254',
    'fe80::1',
    '100.100.100.200',
  ]) {
    assert.equal(isSensitiveAddress(address), true, address);
  }
  for (const address of ['127.0.0.1', '10.0.0.1', '::1', '::ffff:127.0.0.1', 'fd00:ec2::253', 'example.com'])
    assert.equal(isSensitiveAddress(address), false, address);
});

test('redirectHosts entries: names, wildcards and IP addresses, canonical; anything else is not an entry', () => {
  assert.equal(canonicalHostPattern('API.Example.com'), 'api.example.com');
  assert.equal(canonicalHostPattern('example.com.'), 'example.com');
  assert.equal(canonicalHostPattern('*.Example.com'), '*.example.com');
  assert.equal(canonicalHostPattern('2852039166'), '169.254.169.254');
  assert.equal(canonicalHostPattern('FD00:EC2:0::254'), 'fd00:ec2::254');
  assert.equal(canonicalHostPattern('[fd00:ec2::254]'), 'fd00:ec2::254');
  for (const bad of [
    '',
    'https://example.com',
    'example.com:8443',
    'example.com/x',
    'user@example.com',
    '*.10.0.0.1',
    'a.*.com',
    '*',
  ]) {
    assert.equal(canonicalHostPattern(bad), undefined, bad);
  }
});

test('same origin: headers and body kept; 307 keeps the method', () => {
  const hop = nextHop(firstHop('POST', '{}'), 307, '/v1/next', start, {});
  assert.equal(hop.url.href, 'https://api.example.com/v1/next');
  assert.equal(hop.method, 'POST');
  assert.equal(hop.body, '{}');
  assert.equal(hop.headers.Authorization, 'Bearer t');
  assert.equal(hop.unvouched, false);
});

test('303 turns POST into GET and drops the body with its headers (any case); HEAD stays HEAD', () => {
  const hop = nextHop(firstHop('PUT', '{}'), 303, '/v1/done', start, {});
  assert.equal(hop.method, 'GET');
  assert.equal(hop.body, undefined);
  assert.deepEqual(hop.headers, { Authorization: 'Bearer t', Accept: 'application/json' });
  assert.equal(nextHop(firstHop('HEAD'), 303, '/x', start, {}).method, 'HEAD');
  assert.equal(nextHop(firstHop('PUT', 'x'), 302, '/x', start, {}).method, 'PUT', 'only POST becomes GET on 301/302');
});

test('another origin (host, port or scheme) gets no configured header and no body', () => {
  for (const location of ['https://other.example.com/', 'https://api.example.com:8443/', 'http://api.example.com/']) {
    const hop = nextHop(firstHop('POST', '{}'), 307, location, start, { allowInsecure: true });
    assert.deepEqual(hop.headers, {}, location);
    assert.equal(hop.body, undefined, location);
    assert.equal(hop.method, 'POST', location);
  }
});

test('https to http is refused unless allowed', () => {
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'http://api.example.com/', start, {})),
    /plain http.*allowInsecureRedirects: true/,
  );
  assert.equal(
    nextHop(firstHop(), 302, 'http://api.example.com/', start, { allowInsecure: true }).url.protocol,
    'http:',
  );
});

test('redirectHosts: the url’s own host (any port), listed names and wildcard subdomains are followed', () => {
  const policy: RedirectPolicy = { hosts: ['cdn.example.net', '*.example.org'] };
  assert.equal(nextHop(firstHop(), 302, 'https://api.example.com:8443/', start, policy).unvouched, false);
  assert.equal(nextHop(firstHop(), 302, 'https://CDN.example.net./', start, policy).unvouched, false);
  assert.equal(nextHop(firstHop(), 302, 'https://a.b.example.org/', start, policy).unvouched, false);
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'https://example.org/', start, policy)),
    /example\.org is not in redirectHosts/,
  );
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'https://evil.example/', start, { hosts: [] })),
    /evil\.example is not in redirectHosts/,
  );
});

test('without redirectHosts any host is followed, unvouched (its addresses get checked), but no metadata address', () => {
  assert.equal(nextHop(firstHop(), 302, 'https://other.example/', start, {}).unvouched, true);
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'https://169.254.169.254/', start, {})),
    /link-local or cloud metadata.*redirectHosts/,
  );
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'https://[::ffff:a9fe:a9fe]/', start, {})),
    /metadata/,
  );
});

test('a listed link-local address is followed', () => {
  const hop = nextHop(firstHop(), 302, 'https://169.254.169.254/latest/', start, { hosts: ['169.254.169.254'] });
  assert.equal(hop.unvouched, false);
  assert.deepEqual(hop.headers, {});
});

test('Locations that are not http(s) URLs are refused', () => {
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'ftp://example.com/', start, {})),
    /only http and https/,
  );
  assert.match(
    refusal(() => nextHop(firstHop(), 302, 'http://[oops/', start, {})),
    /not a URL/,
  );
});
