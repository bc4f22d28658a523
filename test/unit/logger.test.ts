import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/util/logger.ts';
import { Redactor } from '../../src/util/redact.ts';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

test('log lines are JSON with level, message, probe, tenant_id and run_id', () => {
  const { stream, lines } = capture();
  const logger = createLogger({ level: 'info', destination: stream });
  logger
    .child({ probe: 'scaisend-ready', tenant_id: 'acme', run_id: 'abc123' })
    .info({ status: 'fail' }, 'probe run finished');
  const [line] = lines();
  assert.equal(line?.level, 'info');
  assert.equal(line?.message, 'probe run finished');
  assert.equal(line?.probe, 'scaisend-ready');
  assert.equal(line?.tenant_id, 'acme');
  assert.equal(line?.run_id, 'abc123');
});

test('secret values are redacted wherever they appear in a log line', () => {
  const { stream, lines } = capture();
  const secret = 'SG.very-secret-api-key';
  const logger = createLogger({ level: 'info', secrets: [secret], destination: stream });
  logger.warn({ url: `http://x/?key=${secret}`, nested: { header: `Bearer ${secret}` } }, `send failed with ${secret}`);
  logger.error({ err: new Error(`401 for key ${secret}`) }, 'boom');
  const text = JSON.stringify(lines());
  assert.ok(!text.includes(secret), text);
  assert.match(text, /\[redacted\]/);
});

test('the redactor replaces the longest secret first and leaves other text alone', () => {
  const redactor = new Redactor(['abcd', 'abcdefgh', 'x']);
  assert.equal(redactor.text('key=abcdefgh; other=abcd; x marks'), 'key=[redacted]; other=[redacted]; x marks');
  assert.deepEqual(redactor.value({ a: ['abcd'], n: 1 }), { a: ['[redacted]'], n: 1 });
});

test('a secret is also redacted in its percent-encoded form (as a URL object writes a userinfo password)', () => {
  const redactor = new Redactor(['p@ss:word/1']);
  const url = new URL('redis://127.0.0.1:6390');
  url.password = 'p@ss:word/1';
  assert.equal(redactor.text(url.href), 'redis://:[redacted]@127.0.0.1:6390');
  assert.equal(redactor.text('AUTH p@ss:word/1'), 'AUTH [redacted]');
});
