// Work in steps: run at once, or a step per turn of the event loop with other work served between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain, inTurns } from '../../src/util/steps.ts';

function* counting(log: string[], steps: number): Generator<void, number> {
  for (let i = 1; i <= steps; i++) {
    log.push(`step ${String(i)}`);
    yield;
  }
  return steps;
}

test('drain runs every step at once and returns the result', () => {
  const log: string[] = [];
  assert.equal(drain(counting(log, 3)), 3);
  assert.deepEqual(log, ['step 1', 'step 2', 'step 3']);
});

test('inTurns lets other work run between steps', async () => {
  const log: string[] = [];
  setImmediate(() => log.push('a request'));
  assert.equal(await inTurns(counting(log, 3), () => false), 3);
  assert.deepEqual(log, ['step 1', 'a request', 'step 2', 'step 3']);
});

test('inTurns stops between steps once told, and the generator is closed', async () => {
  const log: string[] = [];
  let closed = false;
  function* closing(): Generator<void, number> {
    try {
      return yield* counting(log, 5);
    } finally {
      closed = true;
    }
  }
  assert.equal(await inTurns(closing(), () => log.length >= 2), undefined);
  assert.deepEqual(log, ['step 1', 'step 2']);
  assert.ok(closed, 'the generator ran its finally');
});
