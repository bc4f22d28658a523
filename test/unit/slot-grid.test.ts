// The shared slot grid: every process computes the same slots, in order, spread, and the scheduler keeps to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import pino from 'pino';
import { sharedSlotGrid } from '../../src/runner/slot-grid.ts';
import { Scheduler } from '../../src/runner/scheduler.ts';
import { ManualClock, type Clock } from '../../src/util/clock.ts';

const T0 = Date.UTC(2026, 0, 1);
const silent = pino({ level: 'silent' });
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('indexAt finds the latest slot due by a time, and slots stay within ±jitter/2 of their interval', () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1_000, max: 30 * 86_400_000 }),
      fc.double({ min: 0, max: 0.99, noNaN: true }),
      fc.integer({ min: 0, max: 4_000_000_000_000 }),
      (name, every, jitter, at) => {
        const grid = sharedSlotGrid(jitter);
        const index = grid.indexAt(name, every, at);
        assert.ok(grid.timeOf(name, every, index) <= at, 'the slot found is due by then');
        assert.ok(grid.timeOf(name, every, index + 1) > at, 'the next one is not');
        const gap = grid.timeOf(name, every, index + 1) - grid.timeOf(name, every, index);
        // Slot times are whole milliseconds: each end rounded by up to half of one.
        assert.ok(gap >= every * (1 - jitter) - 1 && gap <= every * (1 + jitter) + 1, `gap ${gap}`);
      },
    ),
    { numRuns: 2_000 },
  );
});

test('phases spread over the interval: 2,000 probes fall evenly into ten tenths of a minute', () => {
  const grid = sharedSlotGrid(0);
  const tenths = Array.from({ length: 10 }, () => 0);
  for (let i = 0; i < 2_000; i++) {
    const phase = grid.timeOf(`probe-${String(i)}`, 60_000, 0);
    tenths[Math.floor(phase / 6_000)]!++;
  }
  for (const count of tenths) assert.ok(count > 140 && count < 260, `a tenth holds ${String(count)} of 2,000`);
});

/** A scheduler on the shared grid for one probe every second, which only asks (`offer`) and runs nothing. */
function gridScheduler(clock: Clock, offer: (at: number) => void): Scheduler {
  return new Scheduler({
    probes: [{ name: 'dns-check', every: 1_000 }],
    concurrency: 1,
    jitter: 0.1,
    clock,
    logger: silent,
    grid: sharedSlotGrid(0.1),
    shouldRun: (_name, at) => {
      offer(at);
      return false;
    },
    execute: async () => undefined,
  });
}

/** The slot times a scheduler on the grid offers, started at `startAt`, up to `until`. */
async function slotsOffered(clock: ManualClock, startAt: number, until: number): Promise<number[]> {
  const offered: number[] = [];
  const scheduler = gridScheduler(clock, (at) => offered.push(at));
  while (clock.now() < startAt) clock.advance(1);
  scheduler.start();
  while (clock.now() < until) {
    clock.advance(1);
    await settle();
  }
  await scheduler.stop();
  return offered;
}

test('two agents started apart offer the same slots; a restart keeps the schedule', async () => {
  const first = await slotsOffered(new ManualClock(T0), T0, T0 + 10_000);
  const second = await slotsOffered(new ManualClock(T0), T0 + 3_700, T0 + 10_000);
  assert.ok(first.length >= 9 && first.length <= 11, `${String(first.length)} slots in 10 s`);
  assert.deepEqual(
    second,
    first.filter((at) => at > T0 + 3_700),
    'the later one joins the same slots',
  );
});

test('a scheduler far behind its grid runs the latest slot due at once, then keeps to the grid', async () => {
  const manual = new ManualClock(T0);
  // A stall: from the first slot on, the time reads 5.5 s later than the timers have fired.
  let stalled = 0;
  const clock = {
    now: () => manual.now() + stalled,
    monotonic: () => manual.monotonic(),
    setTimer: manual.setTimer.bind(manual),
  };
  const grid = sharedSlotGrid(0.1);
  const offered: number[] = [];
  const scheduler = gridScheduler(clock, (at) => {
    offered.push(at);
    stalled = 5_500;
  });
  scheduler.start();
  for (let i = 0; i < 3_000; i++) {
    manual.advance(1);
    await settle();
  }
  await scheduler.stop();
  const [first = 0] = offered;
  const latestDue = grid.indexAt('dns-check', 1_000, first + 5_500);
  assert.deepEqual(
    offered.slice(1, 4),
    [latestDue, latestDue + 1, latestDue + 2].map((index) => grid.timeOf('dns-check', 1_000, index)),
    'the slots skipped in the stall are not run one after another',
  );
});
