import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seedProvider } from '../../src/probers/mail.ts';

test('a seed stands for its provider: configured, known by address or IMAP host, else its domain', () => {
  const seed = (address: string, host: string, provider?: string) => ({
    address,
    imap: { host },
    ...(provider ? { provider } : {}),
  });
  assert.equal(seedProvider(seed('probe.seed@gmail.com', 'imap.gmail.com')), 'Gmail');
  assert.equal(seedProvider(seed('seed@hotmail.com', 'outlook.office365.com')), 'Outlook');
  assert.equal(seedProvider(seed('seed@contoso.example', 'outlook.office365.com')), 'Outlook');
  assert.equal(seedProvider(seed('seed@yahoo.co.uk', 'imap.mail.yahoo.com')), 'Yahoo');
  assert.equal(seedProvider(seed('alice@example.test', '127.0.0.1')), 'example.test');
  assert.equal(seedProvider(seed('alice@example.test', '127.0.0.1', 'Lab Dovecot')), 'Lab Dovecot');
});
