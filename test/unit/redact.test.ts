import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor } from '../../src/util/redact.ts';

test('a value without a secret comes back as it was, not copied', () => {
  const redactor = new Redactor(['hunter2-secret']);
  const run = {
    message: 'HTTP 200',
    observations: { status: 200, body: '{"ok":true}', list: ['a', 'b'] },
    items: [{ key: 'k', data: { n: 1 } }],
  };
  assert.equal(redactor.value(run), run);
});

test('only the parts holding a secret are copied; the input is left untouched', () => {
  const redactor = new Redactor(['hunter2-secret']);
  const untouched = { n: 1 };
  const run = {
    message: 'ok',
    observations: { first: 'x', url: 'https://u:hunter2-secret@h/', last: 'y' },
    other: untouched,
    list: ['a', 'key=hunter2-secret', 'c'],
    ['hunter2-secret']: 1,
  };
  const redacted = redactor.value(run);
  assert.deepEqual(redacted, {
    message: 'ok',
    observations: { first: 'x', url: 'https://u:[redacted]@h/', last: 'y' },
    other: { n: 1 },
    list: ['a', 'key=[redacted]', 'c'],
    '[redacted]': 1,
  });
  assert.equal(redacted.other, untouched);
  assert.equal(run.observations.url, 'https://u:hunter2-secret@h/');
  assert.equal(run.list[1], 'key=hunter2-secret');
  assert.deepEqual(Object.keys(redacted.observations), ['first', 'url', 'last'], 'key order is kept');
});

test('the percent-encoded form of a secret is redacted too', () => {
  const redactor = new Redactor(['p@ss word']);
  assert.equal(redactor.value({ u: 'https://x/?k=p%40ss%20word' }).u, 'https://x/?k=[redacted]');
});
