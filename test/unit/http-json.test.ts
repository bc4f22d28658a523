import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenJson } from '../../src/probers/http.ts';
import type { Observations } from '../../src/probers/types.ts';

const MAX_JSON_KEYS = 500;

const flatten = (value: unknown) => {
  const out: Observations = {};
  const whole = flattenJson(value, 'json', out);
  return { out, whole };
};

test('a 1 MiB list of zeros: the first items and the length, never the list whole, and it says it stopped', () => {
  const zeros = JSON.parse(`[${Array<string>(512 * 1024).fill('0').join(',')}]`) as number[];
  const { out, whole } = flatten(zeros);
  assert.equal(whole, false);
  assert.equal(Object.keys(out).length, MAX_JSON_KEYS);
  assert.equal(out['json.length'], 512 * 1024);
  assert.equal(out['json.0'], 0);
  assert.equal(out[`json.${MAX_JSON_KEYS - 2}`], 0);
  assert.equal(Object.hasOwn(out, `json.${MAX_JSON_KEYS - 1}`), false);
  // 512 Ki strings as one observation would be stored with every run.
  assert.equal(Object.hasOwn(out, 'json'), false);
});

test('an object of a million keys: the first 500 in document order', () => {
  const big: Record<string, number> = {};
  for (let i = 0; i < 1_000_000; i++) big[`k${i}`] = i;
  const { out, whole } = flatten({ status: 'ok', big });
  assert.equal(whole, false);
  assert.equal(Object.keys(out).length, MAX_JSON_KEYS);
  assert.equal(out['json.status'], 'ok');
  assert.equal(out['json.big.k0'], 0);
  assert.equal(out[`json.big.k${MAX_JSON_KEYS - 2}`], MAX_JSON_KEYS - 2);
});

test('nesting deeper than 64 levels is not observed, and does not exhaust the stack', () => {
  const depth = 100_000;
  const nested: unknown = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
  const { out, whole } = flatten({ status: 'ok', nested });
  assert.equal(whole, false);
  assert.deepEqual(out, { 'json.status': 'ok' });
  const shallow = flatten({ a: { b: { c: [1, 'x', null] } } });
  assert.equal(shallow.whole, true);
  assert.deepEqual(shallow.out, { 'json.a.b.c.length': 3, 'json.a.b.c': ['1', 'x', 'null'], 'json.a.b.c.0': 1, 'json.a.b.c.1': 'x', 'json.a.b.c.2': null });
});

test('exactly MAX_JSON_KEYS paths is everything; one more is not', () => {
  const exact = Object.fromEntries(Array.from({ length: MAX_JSON_KEYS }, (_, i) => [`k${i}`, i]));
  assert.equal(flatten(exact).whole, true);
  assert.equal(flatten({ ...exact, more: 1 }).whole, false);
  assert.equal(flatten([]).whole, true);
  assert.deepEqual(flatten([]).out, { 'json.length': 0, json: [] });
});
