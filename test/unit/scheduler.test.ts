import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Scheduler, type SchedulerOptions } from '../../src/runner/scheduler.ts';
import { ManualClock, systemClock } from '../../src/util/clock.ts';
import { MAX_TIMER_MS } from '../../src/core/duration.ts';

const logger = pino({ level: 'silent' });

/** A scheduler on the real clock with no jitter and a fixed draw, unless a test says otherwise. */
function makeScheduler(options: Partial<SchedulerOptions> & Pick<SchedulerOptions, 'probes' | 'execute'>): Scheduler {
  return new Scheduler({ concurrency: 10, jitter: 0, clock: systemClock, logger, random: () => 0, ...options });
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a probe never runs twice at once: a tick during a run is skipped', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const scheduler = makeScheduler({
    probes: [{ name: 'slow', every: 20 }],
    execute: async () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      await sleep(70);
      active--;
    },
  });
  scheduler.start();
  await sleep(300);
  await scheduler.stop();
  assert.equal(maxActive, 1);
  assert.ok(runs >= 2 && runs <= 5, `runs ${runs}`);
  assert.ok(scheduler.stats.skippedOverlap >= 3, `skipped ${scheduler.stats.skippedOverlap}`);
});

test('the global concurrency cap bounds runs in flight across probes', async () => {
  let active = 0;
  let maxActive = 0;
  const scheduler = makeScheduler({
    probes: Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, every: 1000 })),
    concurrency: 3,
    execute: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(20);
      active--;
    },
  });
  scheduler.start();
  await sleep(250);
  await scheduler.stop();
  assert.equal(maxActive, 3);
  assert.equal(scheduler.stats.started, 20, 'every probe ran once: queued runs wait, they are not dropped');
});

test('jitter keeps each run within ±jitter/2 of its nominal time', () => {
  const draws = [0, 1, 0.5, 0.25, 0.999];
  let i = 0;
  const scheduler = new Scheduler({ probes: [], concurrency: 1, jitter: 0.2, clock: systemClock, logger, random: () => draws[i++ % draws.length] ?? 0, execute: async () => undefined });
  const every = 60_000;
  const offsets = draws.map(() => scheduler.jittered(1_000_000, every) - 1_000_000);
  for (const offset of offsets) assert.ok(Math.abs(offset) <= 0.1 * every, `offset ${offset}`);
  assert.equal(offsets[0], -6000);
  assert.equal(offsets[2], 0);
});

test('first runs are spread over the interval, not all at start-up', async () => {
  const startedAt: number[] = [];
  const t0 = Date.now();
  let n = 0;
  const scheduler = makeScheduler({
    probes: Array.from({ length: 10 }, (_, i) => ({ name: `p${i}`, every: 400 })),
    random: () => (n++ % 10) / 10,
    execute: async () => {
      startedAt.push(Date.now() - t0);
    },
  });
  scheduler.start();
  await sleep(390);
  await scheduler.stop();
  const sorted = startedAt.slice(0, 10).sort((a, b) => a - b);
  assert.ok((sorted.at(-1) ?? 0) - (sorted[0] ?? 0) >= 250, `first runs spread ${JSON.stringify(sorted)}`);
});

test('stop waits for runs in flight and starts no new ones', async () => {
  let finished = 0;
  let started = 0;
  const scheduler = makeScheduler({
    probes: [{ name: 'a', every: 10 }, { name: 'b', every: 10 }],
    concurrency: 1,
    execute: async () => {
      started++;
      await sleep(100);
      finished++;
    },
  });
  scheduler.start();
  await sleep(30);
  await scheduler.stop();
  assert.equal(started, finished, 'every started run finished before stop() resolved');
  assert.equal(started, 1, 'the queued run of b was dropped, not started after stop');
  const after = started;
  await sleep(50);
  assert.equal(started, after);
});

test('a run that throws is logged and the scheduler carries on', async () => {
  let calls = 0;
  const scheduler = makeScheduler({
    probes: [{ name: 'boom', every: 20 }],
    concurrency: 1,
    execute: async () => {
      calls++;
      throw new Error('target exploded');
    },
  });
  scheduler.start();
  await sleep(120);
  await scheduler.stop();
  assert.ok(calls >= 3, `calls ${calls}`);
});

test('cron schedules go through node-cron and run on the expression', async () => {
  let calls = 0;
  const scheduler = new Scheduler({ probes: [{ name: 'c', cron: '* * * * * *' }], concurrency: 1, jitter: 0, clock: systemClock, logger, execute: async () => void calls++ });
  scheduler.start();
  await sleep(2300);
  await scheduler.stop();
  assert.ok(calls >= 1 && calls <= 3, `calls ${calls}`);
});

test('intervals beyond a timer\'s range (2^31-1 ms) run once per interval, not in a storm', async () => {
  const DAY = 86_400_000;
  for (const every of [MAX_TIMER_MS, MAX_TIMER_MS + 1, 30 * DAY, 365 * DAY]) {
    let runs = 0;
    const scheduler = makeScheduler({ probes: [{ name: 'monthly', every }], execute: async () => void runs++ });
    scheduler.start();
    await sleep(250);
    await scheduler.stop();
    assert.equal(runs, 1, `every ${every}ms: only the first run within 250 ms, got ${runs}`);
  }
});

test('a long interval is waited in steps and runs at its nominal time (injected clock, mocked timers)', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const every = 30 * 86_400_000;
  const runsAt: number[] = [];
  const scheduler = makeScheduler({ probes: [{ name: 'monthly', every }], clock, execute: async () => void runsAt.push(clock.now()) });
  const start = clock.now();
  /** Moves the injected clock and the mocked timers together, then lets the run's promises settle. */
  const pass = async (ms: number) => {
    clock.advance(ms);
    t.mock.timers.tick(ms);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  scheduler.start();
  await pass(0);
  assert.deepEqual(runsAt, [start]);
  await pass(MAX_TIMER_MS);
  await pass(every - MAX_TIMER_MS - 1);
  assert.equal(runsAt.length, 1, 'not a millisecond early');
  await pass(1);
  assert.deepEqual(runsAt, [start, start + every]);
  await pass(every);
  assert.deepEqual(runsAt, [start, start + every, start + 2 * every]);
  t.mock.timers.reset();
  await scheduler.stop();
});
