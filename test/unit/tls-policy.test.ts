import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackAddress, requiresTls } from '../../src/protocols/tls/policy.ts';

test('loopback means an address written as one; a name is not trusted to resolve there', () => {
  for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
    assert.equal(isLoopbackAddress(host), true, host);
  for (const host of [
    'localhost',
    'imap.example.test',
    '10.0.0.1',
    '128.0.0.1',
    '::2',
    '::ffff:10.0.0.1',
    '127.0.0.1.example.test',
  ])
    assert.equal(isLoopbackAddress(host), false, host);
});

test('STARTTLS is required when credentials go to a network address, unless the configuration says otherwise', () => {
  assert.equal(requiresTls({ host: 'imap.example.test', credentials: true }), true);
  assert.equal(requiresTls({ host: '127.0.0.1', credentials: true }), false);
  assert.equal(requiresTls({ host: 'imap.example.test', credentials: false }), false);
  assert.equal(requiresTls({ requireTLS: false, host: 'imap.example.test', credentials: true }), false);
  assert.equal(requiresTls({ requireTLS: true, host: '127.0.0.1', credentials: false }), true);
});
