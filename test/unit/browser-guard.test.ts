import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowList, hostOf, hostsOf } from '../../src/protocols/browser/page.ts';

test('pages may fetch only listed hosts: host allows every port, host:port one; loopback is not implied', () => {
  const may = allowList(['127.0.0.1:8000', 'cdn.example', '[::1]:9000']);
  assert.equal(may('http://127.0.0.1:8000/t/c?id=1'), true);
  assert.equal(may('http://127.0.0.1:9464/api/v1/probes'), false);
  assert.equal(may('http://localhost:8000/'), false);
  assert.equal(may('https://cdn.example/logo.png'), true);
  assert.equal(may('http://CDN.example:8443/logo.png'), true);
  assert.equal(may('http://[::1]:9000/'), true);
  assert.equal(may('http://[::1]:9001/'), false);
  assert.equal(may('file:///etc/passwd'), false);
  assert.equal(may('chrome://settings'), false);
  assert.equal(may('not a url'), false);
  assert.equal(may('data:image/gif;base64,R0lGOD'), true);
  assert.equal(allowList(['example.test:80'])('http://example.test/'), true);
  assert.equal(allowList(['example.test:80'])('https://example.test/'), false);
  assert.equal(allowList([])('http://127.0.0.1/'), false);
  // Entries are compared as a URL spells a host.
  assert.equal(allowList(['[0:0::1]:9000', 'EXAMPLE.test'])('http://[::1]:9000/'), true);
  assert.equal(allowList(['EXAMPLE.test'])('http://example.test/'), true);
});

test("a link's host is its host and port, the port spelled out", () => {
  assert.equal(hostOf('https://Example.test/a'), 'example.test:443');
  assert.equal(hostOf('http://127.0.0.1:8000/t/c?id=1'), '127.0.0.1:8000');
  assert.equal(hostOf('mailto:a@example.test'), undefined);
  assert.deepEqual(hostsOf(['http://a.test/1', 'http://a.test/2', 'javascript:void(0)', 'https://b.test:8443/']), [
    'a.test:80',
    'b.test:8443',
  ]);
});
