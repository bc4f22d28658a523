// Glob matching: the same answers as a regular expression, and linear work on hostile names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { globMatch } from '../../src/util/glob.ts';

function reference(pattern: string, text: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(text);
}

test('globMatch agrees with the regular expression it replaces, on any pattern and text', () => {
  const alphabet = fc.constantFrom('a', 'b', '.', '*', '-', '\n');
  const word = fc.array(alphabet, { maxLength: 12 }).map((chars) => chars.join(''));
  fc.assert(
    fc.property(word, word, (pattern, text) => globMatch(pattern, text) === reference(pattern, text)),
    { numRuns: 20_000, seed: 20261129 },
  );
});

test('globMatch: the cases a configuration writes', () => {
  assert.equal(globMatch('scaisend-*', 'scaisend-ready'), true);
  assert.equal(globMatch('scaisend-*', 'scaidns-ready'), false);
  assert.equal(globMatch('*.example.test.', 'a.b.example.test.'), true);
  assert.equal(globMatch('*.example.test.', 'example.test.'), false);
  assert.equal(globMatch('*', ''), true);
  assert.equal(globMatch('', ''), true);
  assert.equal(globMatch('a', ''), false);
  assert.equal(globMatch('a*b*c', 'a-b-c'), true);
});

test('globMatch takes time proportional to pattern × text on the input that makes backtracking explode', () => {
  // A regular expression with many `.*` tries every split of the text; this matcher never does.
  const pattern = `${'*a'.repeat(20)}*b`;
  const text = 'a'.repeat(100_000);
  const started = process.hrtime.bigint();
  assert.equal(globMatch(pattern, text), false);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 2_000, `took ${ms.toFixed(0)} ms`);
});
