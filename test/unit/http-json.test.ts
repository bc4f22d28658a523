import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flattenJson } from '../../src/protocols/http/json-flatten.ts';
import type { Observations } from '../../src/core/probe.ts';

const MAX_JSON_KEYS = 500;

/** A body as the http kind has it: its text and what JSON.parse made of it. */
const flatten = (text: string) => {
  const out: Observations = {};
  const whole = flattenJson(text, JSON.parse(text) as unknown, 'json', out);
  return { out, whole };
};

test('a 1 MiB list of zeros: the first items and the length, never the list whole, and it says it stopped', () => {
  const { out, whole } = flatten(
    `[${Array<string>(512 * 1024)
      .fill('0')
      .join(',')}]`,
  );
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
  const keys = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":${i}`).join(',');
  const { out, whole } = flatten(`{"status":"ok","big":{${keys}}}`);
  assert.equal(whole, false);
  assert.equal(Object.keys(out).length, MAX_JSON_KEYS);
  assert.equal(out['json.status'], 'ok');
  assert.equal(out['json.big.k0'], 0);
  assert.equal(out[`json.big.k${MAX_JSON_KEYS - 2}`], MAX_JSON_KEYS - 2);
});

test('nesting deeper than 64 levels is not observed, does not exhaust the stack, and what follows it still is', () => {
  const depth = 100_000;
  const { out, whole } = flatten(
    `{"status":"ok","nested":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"after":[true]}`,
  );
  assert.equal(whole, false);
  assert.deepEqual(out, { 'json.status': 'ok', 'json.after.length': 1, 'json.after': ['true'], 'json.after.0': true });
  const shallow = flatten('{"a":{"b":{"c":[1,"x",null]}}}');
  assert.equal(shallow.whole, true);
  assert.deepEqual(shallow.out, {
    'json.a.b.c.length': 3,
    'json.a.b.c': ['1', 'x', 'null'],
    'json.a.b.c.0': 1,
    'json.a.b.c.1': 'x',
    'json.a.b.c.2': null,
  });
});

test('document order, repeated and escaped keys, strings that look like JSON, any whitespace', () => {
  const text =
    ' {\r\n "b" : 1 ,\t"1":{"x":"a\\"}]{,"},"a\\u0041":[ {"k":"v"} , 2 ],"b":3,"e\\\\":"\\\\","n":-1.5e3,"t":true,"z":null } ';
  const { out, whole } = flatten(text);
  assert.equal(whole, true);
  assert.deepEqual(Object.entries(out), [
    ['json.b', 3],
    ['json.1.x', 'a"}]{,'],
    ['json.aA.length', 2],
    ['json.aA.0.k', 'v'],
    ['json.aA.1', 2],
    ['json.e\\', '\\'],
    ['json.n', -1500],
    ['json.t', true],
    ['json.z', null],
  ]);
  assert.deepEqual(flatten('"just a string"').out, { json: 'just a string' });
  assert.deepEqual(flatten('[]').out, { 'json.length': 0, json: [] });
  assert.deepEqual(flatten('{}').out, {});
});

test('exactly MAX_JSON_KEYS paths is everything; one more is not', () => {
  const exact = Object.fromEntries(Array.from({ length: MAX_JSON_KEYS }, (_, i) => [`k${i}`, i]));
  assert.equal(flatten(JSON.stringify(exact)).whole, true);
  assert.equal(flatten(JSON.stringify({ ...exact, more: 1 })).whole, false);
});
