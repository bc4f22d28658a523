import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDifference, encodeDifference, Keyframe, storedBody, type RunBody } from '../../src/store/run-codec.ts';

const T = Date.UTC(2026, 0, 1, 12, 0, 0, 250);

function body(overrides: Partial<RunBody['observations']> = {}, extra: Partial<RunBody> = {}): RunBody {
  return {
    message: 'HTTP 200 in 12ms',
    observations: {
      status: 200,
      latency: 12.34,
      url: 'http://x/health',
      'headers.date': new Date(T).toUTCString(),
      'json.valid': true,
      'json.tags': ['a', 'b'],
      'json.gone': null,
      ...overrides,
    },
    assertions: [{ expr: 'status == 200', ok: true, actual: 200, soft: false }],
    phases: { firstByte: 11.5, total: 12.34 },
    ...extra,
  };
}

function roundTrip(keyframe: RunBody, run: RunBody, startedAt = T): { rebuilt: RunBody; bytes: number } {
  // A keyframe is what a reader gets back from the stored JSON.
  const base = new Keyframe(JSON.parse(JSON.stringify(storedBody(keyframe))) as RunBody);
  const difference = encodeDifference(base, run, startedAt);
  return { rebuilt: applyDifference(base, difference, startedAt), bytes: difference.length };
}

test('a run identical to its keyframe is stored as nothing and rebuilt exactly', () => {
  const { rebuilt, bytes } = roundTrip(body(), body());
  assert.equal(bytes, 0);
  assert.deepEqual(rebuilt, storedBody(body()));
});

test('changed, added and removed fields of every kind of value survive the difference', () => {
  const later = body(
    {
      latency: 7.5,
      'headers.date': new Date(T + 61_000).toUTCString(),
      'json.valid': false,
      'json.tags': ['c'],
      big: 2 ** 60,
      negative: -3,
      tiny: 1e-9,
      neg0: -0,
      obj: { nested: [1, 'x'] },
      'json.gone': 'now here',
    },
    {
      message: 'HTTP 200 in 8ms',
      assertions: [
        { expr: 'status == 200', ok: true, actual: 200, soft: false },
        { expr: 'latency < 5ms', ok: false, actual: 7.5, soft: true },
      ],
      phases: { total: 7.5 },
    },
  );
  delete later.observations.url;
  const { rebuilt } = roundTrip(body(), later, T + 60_000);
  assert.deepEqual(rebuilt, storedBody(later));
  assert.ok(Object.is(rebuilt.observations.neg0, -0));
  assert.equal(rebuilt.observations.url, undefined, 'a removed field stays removed');
  assert.ok(!Object.hasOwn(rebuilt.observations, 'url'));
});

test('a passing http run costs a few bytes: latencies as decimals, the Date header as an offset from the run start', () => {
  const next = body(
    { latency: 13.02, 'headers.date': new Date(T + 1000).toUTCString() },
    { message: 'HTTP 200 in 13ms', phases: { firstByte: 12.1, total: 13.02 } },
  );
  const { rebuilt, bytes } = roundTrip(body(), next, T + 1000);
  assert.deepEqual(rebuilt, storedBody(next));
  assert.ok(bytes < 40, `${bytes} bytes`);
});

test('what is kept: long strings and arrays cut, phases to 0.01 ms, NaN as null, undefined dropped', () => {
  const stored = storedBody({
    message: 'm',
    observations: {
      body: 'x'.repeat(600),
      list: Array.from({ length: 150 }, (_, i) => String(i)),
      bad: Number.NaN,
      none: undefined,
    },
    assertions: [{ actual: 'y'.repeat(600) }],
    phases: { total: 1.23456, odd: Number.POSITIVE_INFINITY },
  });
  assert.equal((stored.observations.body as string).length, 513);
  assert.equal((stored.observations.list as string[]).length, 101);
  assert.equal(stored.observations.bad, null);
  assert.ok(!('none' in stored.observations));
  assert.equal((stored.assertions[0] as { actual: string }).actual.length, 513);
  assert.deepEqual(stored.phases, { total: 1.23 });
});

test('a difference whose keyframe is gone still yields the fields it carries', () => {
  const difference = encodeDifference(new Keyframe(storedBody(body())), body({ latency: 99, extra: 'new' }), T);
  assert.deepEqual(applyDifference(undefined, difference, T).observations, { extra: 'new' });
});

test('an assertion the keyframe has and the run lacks is gone from the rebuilt run', () => {
  const two = body(
    {},
    {
      assertions: [
        { expr: 'a', ok: true, actual: 1, soft: false },
        { expr: 'b', ok: true, actual: 2, soft: false },
      ],
    },
  );
  const one = body({}, { assertions: [{ expr: 'a', ok: false, actual: 0, soft: false }] });
  assert.deepEqual(roundTrip(two, one).rebuilt.assertions, [{ expr: 'a', ok: false, actual: 0, soft: false }]);
  assert.deepEqual(roundTrip(one, two).rebuilt.assertions, two.assertions);
});

test('a string that changed in its middle keeps only the middle; pairs of UTF-16 halves are never split', () => {
  const { rebuilt, bytes } = roundTrip(
    body({}, { message: 'HTTP 200 in 12ms' }),
    body({}, { message: 'HTTP 200 in 1234ms' }),
  );
  assert.equal(rebuilt.message, 'HTTP 200 in 1234ms');
  assert.ok(bytes <= 8, `${bytes} bytes`);
  const pieces = ['a', 'é', '😀', '😁', '\u{1F600}x', 'ok', '', ' ', '𝒳'];
  let seed = 7;
  const pick = () => pieces[(seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % pieces.length] ?? '';
  for (let i = 0; i < 300; i++) {
    const before = Array.from({ length: i % 7 }, pick).join('');
    const after = Array.from({ length: (i * 3) % 8 }, pick).join('');
    const { rebuilt: r } = roundTrip(body({ s: before }), body({ s: after }));
    assert.equal(r.observations.s, after, JSON.stringify([before, after]));
  }
});

test('a phase that repeats a latency observation refers back to it', () => {
  const keyframe = body({ latency: 10.5 }, { phases: { total: 10.5 } });
  const next = body({ latency: 123.45 }, { phases: { total: 123.45, firstByte: 0 } });
  const { rebuilt } = roundTrip(keyframe, next);
  assert.deepEqual(rebuilt, storedBody(next));
  const zeros = body({ latency: 0, zero: -0 }, { phases: { total: 0 } });
  assert.ok(Object.is(roundTrip(keyframe, zeros).rebuilt.observations.zero, -0));
  assert.ok(Object.is(roundTrip(keyframe, zeros).rebuilt.phases.total, 0));
});
