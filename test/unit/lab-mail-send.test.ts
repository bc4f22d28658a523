import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSendCounters, validateSendBody } from '../../src/lab/mail-send.ts';

const valid = {
  personalizations: [{ to: [{ email: 'alice@example.test' }], custom_args: { id: 'x' } }],
  from: { email: 'probe@send.example.test' },
  subject: 'hi',
  content: [{ type: 'text/plain', value: 'x' }],
};

test('a valid SendGrid body has no errors', () => {
  assert.deepEqual(validateSendBody(valid), []);
});

test('errors name their field like SendGrid: missing from, bad address, reserved header, empty content', () => {
  const errors = validateSendBody({
    ...valid,
    from: undefined,
    personalizations: [{ to: [{ email: 'not-an-address' }] }],
    headers: { Subject: 'x' },
    content: [{ type: 'text/plain', value: '' }],
  });
  const fields = errors.map((e) => e.field);
  assert.ok(fields.includes('from'));
  assert.ok(fields.includes('personalizations.0.to.0.email'));
  assert.ok(fields.includes('headers'));
  assert.ok(fields.includes('content.0.value'));
  assert.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0 && 'help' in e));
});

test('subject may come from every personalization; more than 1000 recipients is refused', () => {
  assert.deepEqual(
    validateSendBody({
      ...valid,
      subject: undefined,
      personalizations: [{ to: [{ email: 'a@b.test' }], subject: 's' }],
    }),
    [],
  );
  const many = Array.from({ length: 1001 }, (_, i) => ({ email: `u${i}@b.test` }));
  assert.equal(validateSendBody({ ...valid, personalizations: [{ to: many }] })[0]?.field, 'personalizations');
});

test('counters are kept per tenant and UTC day', () => {
  const counters = createSendCounters(() => Date.parse('2026-01-02T23:59:00Z'));
  counters.add('tenant-a', 'requests', 3);
  counters.add('tenant-a', 'delivered', 2);
  counters.add('tenant-b', 'requests');
  counters.add('tenant-a', 'requests', 1, Date.parse('2026-01-03T00:00:01Z'));
  assert.equal(counters.day('tenant-a', '2026-01-02').requests, 3);
  assert.equal(counters.day('tenant-a', '2026-01-02').delivered, 2);
  assert.equal(counters.day('tenant-a', '2026-01-03').requests, 1);
  assert.equal(counters.day('tenant-b', '2026-01-02').requests, 1);
  assert.equal(counters.day('tenant-c', '2026-01-02').requests, 0);
});
