import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAssertion, evaluateAssertions, parseAssertion, parseLiteral } from '../../src/core/assertions.ts';
import { parseDuration, formatDuration } from '../../src/core/duration.ts';

test('durations parse to milliseconds and reject non-durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('2d'), 172_800_000);
  for (const bad of ['', '5', 'm', '5 minutes', '1x', '-5s', 's5']) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(formatDuration(850), '850ms');
  assert.equal(formatDuration(90_000), '1.5m');
});

test('literals: numbers, durations, percents, strings, booleans, null, regexes', () => {
  assert.equal(parseLiteral('200'), 200);
  assert.equal(parseLiteral('200ms'), 200);
  assert.equal(parseLiteral('60s'), 60_000);
  assert.equal(parseLiteral('2%'), 0.02);
  assert.equal(parseLiteral('0.1%'), 0.001);
  assert.equal(parseLiteral('"ready"'), 'ready');
  assert.equal(parseLiteral('"a \\"quoted\\" word"'), 'a "quoted" word');
  assert.equal(parseLiteral('true'), true);
  assert.equal(parseLiteral('null'), null);
  assert.ok(parseLiteral('/^ok$/i') instanceof RegExp);
  assert.throws(() => parseLiteral('ready'), /cannot read "ready"/);
});

test('the operator is found at the top level, outside quotes and label braces', () => {
  assert.deepEqual(parseAssertion('latency < 200ms'), { subject: 'latency', operator: '<', expected: 200 });
  assert.deepEqual(parseAssertion('json.status == "ready"'), {
    subject: 'json.status',
    operator: '==',
    expected: 'ready',
  });
  const rate = parseAssertion('rate5m(x_total{status!="200",code=~"5.."}) / rate5m(x_total) < 0.5%');
  assert.equal(rate.subject, 'rate5m(x_total{status!="200",code=~"5.."}) / rate5m(x_total)');
  assert.equal(rate.operator, '<');
  assert.equal(rate.expected, 0.005);
  assert.equal(parseAssertion('body contains "a < b"').expected, 'a < b');
  assert.equal(parseAssertion('answers contains "192.0.2.10"').operator, 'contains');
  assert.throws(() => parseAssertion('status'), /not an assertion/);
  assert.throws(() => parseAssertion('latency < "fast"'), /needs a number/);
  assert.throws(() => parseAssertion('== 200'), /not an assertion|nothing left/);
});

test('evaluation of every operator, with the actual value kept', () => {
  const observations = {
    status: 503,
    latency: 212.5,
    'json.status': 'degraded',
    answers: ['192.0.2.10', '192.0.2.11'],
    body: 'hello world',
    ok: true,
  };
  const results = evaluateAssertions(
    [
      { expr: 'status == 200', soft: false },
      { expr: 'status != 200', soft: false },
      { expr: 'latency < 200ms', soft: true },
      { expr: 'latency <= 212.5', soft: false },
      { expr: 'latency > 1s', soft: false },
      { expr: 'latency >= 212', soft: false },
      { expr: 'answers contains "192.0.2.10"', soft: false },
      { expr: 'answers contains "192.0.2.99"', soft: false },
      { expr: 'body matches /^hello/', soft: false },
      { expr: 'json.status == "ready"', soft: false },
      { expr: 'ok == true', soft: false },
      { expr: 'missing.key == 1', soft: false },
    ],
    observations,
  );
  assert.deepEqual(
    results.map((r) => r.ok),
    [false, true, false, true, false, true, true, false, true, false, true, false],
  );
  assert.equal(results[0]?.actual, 503);
  assert.equal(results[2]?.soft, true);
  assert.equal(results[11]?.actual, null, 'an observation the probe did not make fails with actual null');
});

test('a numeric comparison against a string observation fails instead of coercing', () => {
  const [result] = evaluateAssertions([{ expr: 'status < 400', soft: false }], { status: 'n/a' });
  assert.equal(result?.ok, false);
});

test('a /g or /y regex answers the same for every list item and every evaluation of one parsed assertion', () => {
  // test() of a global or sticky regex starts where its last match ended: "ab" matched once, then not.
  for (const expr of [
    'names matches /b/g',
    'names contains /b/g',
    'name matches /b/g',
    'name == /b/g',
    'name matches /a/y',
  ]) {
    const parsed = parseAssertion(expr);
    const observations = { names: ['ab', 'ab'], name: 'ab' };
    const answers = [1, 2, 3].map(() => checkAssertion(parsed, observations).ok);
    assert.deepEqual(answers, [true, true, true], expr);
  }
  const sticky = parseAssertion('name matches /b/y');
  assert.deepEqual(
    [1, 2].map(() => checkAssertion(sticky, { name: 'ab' }).ok),
    [false, false],
    '/y still anchors at the start',
  );
});
