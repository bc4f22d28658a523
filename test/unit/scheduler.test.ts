import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Scheduler, type SchedulerOptions } from '../../src/runner/scheduler.ts';
import { ManualClock, pause, systemClock } from '../../src/util/clock.ts';
import { MAX_TIMER_MS } from '../../src/core/duration.ts';

// Interval timers come from the injected clock: these tests move a ManualClock
// by hand, so they run in no time and every count below is exact.

const T0 = Date.UTC(2026, 0, 1);
const silent = pino({ level: 'silent' });

/** A scheduler on a manual clock with no jitter and a fixed draw, unless a test says otherwise. */
function makeScheduler(
  clock: ManualClock,
  options: Partial<SchedulerOptions> & Pick<SchedulerOptions, 'probes' | 'execute'>,
): Scheduler {
  return new Scheduler({ concurrency: 10, jitter: 0, clock, logger: silent, random: () => 0, ...options });
}

/** Lets every promise that can settle settle (runs finishing, queued runs taking their slot). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Moves `clock` forward `ms`, a millisecond at a time, settling after each step as real time would. */
async function pass(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await settle();
  }
}

/** Stops `scheduler`, moving `clock` on until the runs in flight have finished. */
async function stopOnClock(scheduler: Scheduler, clock: ManualClock): Promise<void> {
  let stopped = false;
  const stopping = scheduler.stop().then(() => void (stopped = true));
  for (let i = 0; i < 10_000 && !stopped; i++) await pass(clock, 1);
  await stopping;
}

test('a probe never runs twice at once: a tick during a run is skipped', async () => {
  const clock = new ManualClock(T0);
  let active = 0;
  let maxActive = 0;
  const startedAt: number[] = [];
  const scheduler = makeScheduler(clock, {
    probes: [{ name: 'slow', every: 20 }],
    execute: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      startedAt.push(clock.now() - T0);
      await pause(clock, 70);
      active--;
    },
  });
  scheduler.start();
  await settle();
  await pass(clock, 300);
  await stopOnClock(scheduler, clock);
  assert.equal(maxActive, 1);
  // Ticks every 20 ms; a run lasts 70 ms, so the next tick after a run's end starts the next one.
  assert.deepEqual(startedAt, [0, 80, 160, 240]);
  assert.equal(scheduler.stats.skippedOverlap, 12, 'the ticks at 20-60, 100-140, 180-220 and 260-300 ms were skipped');
});

test('the global concurrency cap bounds runs in flight across probes', async () => {
  const clock = new ManualClock(T0);
  let active = 0;
  let maxActive = 0;
  const scheduler = makeScheduler(clock, {
    probes: Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, every: 1000 })),
    concurrency: 3,
    execute: async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await pause(clock, 20);
      active--;
    },
  });
  scheduler.start();
  clock.advance(0);
  await settle();
  assert.equal(scheduler.stats.inFlight, 3);
  assert.equal(scheduler.stats.queued, 17, 'the rest wait for a slot');
  await pass(clock, 250);
  await scheduler.stop();
  assert.equal(maxActive, 3);
  assert.equal(scheduler.stats.started, 20, 'every probe ran once: queued runs wait, they are not dropped');
});

test('jitter keeps each run within ±jitter/2 of its nominal time', () => {
  const draws = [0, 1, 0.5, 0.25, 0.999];
  let i = 0;
  const scheduler = new Scheduler({
    probes: [],
    concurrency: 1,
    jitter: 0.2,
    clock: systemClock,
    logger: silent,
    random: () => draws[i++ % draws.length] ?? 0,
    execute: async () => undefined,
  });
  const every = 60_000;
  const offsets = draws.map(() => scheduler.jittered(1_000_000, every) - 1_000_000);
  for (const offset of offsets) assert.ok(Math.abs(offset) <= 0.1 * every, `offset ${offset}`);
  assert.equal(offsets[0], -6000);
  assert.equal(offsets[2], 0);
});

test('first runs are spread over the interval, not all at start-up', async () => {
  const clock = new ManualClock(T0);
  const startedAt: number[] = [];
  let n = 0;
  const scheduler = makeScheduler(clock, {
    probes: Array.from({ length: 10 }, (_, i) => ({ name: `p${i}`, every: 400 })),
    random: () => (n++ % 10) / 10,
    execute: async () => void startedAt.push(clock.now() - T0),
  });
  scheduler.start();
  await settle();
  await pass(clock, 399);
  await scheduler.stop();
  assert.deepEqual(
    startedAt,
    [0, 40, 80, 120, 160, 200, 240, 280, 320, 360],
    'each first run at its own draw of the interval',
  );
});

test('stop waits for runs in flight and starts no new ones', async () => {
  const clock = new ManualClock(T0);
  let finished = 0;
  let started = 0;
  const scheduler = makeScheduler(clock, {
    probes: [
      { name: 'a', every: 10 },
      { name: 'b', every: 10 },
    ],
    concurrency: 1,
    execute: async () => {
      started++;
      await pause(clock, 100);
      finished++;
    },
  });
  scheduler.start();
  await settle();
  await pass(clock, 30);
  let stopped = false;
  const stopping = scheduler.stop().then(() => void (stopped = true));
  await pass(clock, 69);
  assert.equal(stopped, false, 'stop() still waits: the run of a ends at 100 ms');
  await pass(clock, 1);
  await stopping;
  assert.equal(stopped, true);
  assert.deepEqual(
    [started, finished],
    [1, 1],
    'the run in flight finished; the queued run of b was dropped, not started',
  );
  await pass(clock, 50);
  assert.equal(started, 1, 'no run after stop');
  assert.equal(clock.timers(), 0, 'no timer left behind');
});

test('a run that throws is logged with its error, and the scheduler carries on', async () => {
  const clock = new ManualClock(T0);
  const logged: Array<{ level: number; probe?: string; msg: string; err?: { message: string } }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
  let calls = 0;
  const scheduler = makeScheduler(clock, {
    probes: [{ name: 'boom', every: 20 }],
    concurrency: 1,
    logger,
    execute: async () => {
      calls++;
      throw new Error('target exploded');
    },
  });
  scheduler.start();
  await settle();
  await pass(clock, 120);
  await scheduler.stop();
  assert.equal(calls, 7, 'runs at 0, 20, ..., 120 ms: every tick after a throw still runs');
  assert.equal(logged.length, calls, 'one line per throw');
  for (const line of logged) {
    assert.equal(line.level, 50, 'logged as an error');
    assert.equal(line.probe, 'boom');
    assert.equal(line.msg, 'run failed unexpectedly; the scheduler carries on');
    assert.equal(line.err?.message, 'target exploded');
  }
});

test('cron schedules go through node-cron and run on the expression (mocked timers and date)', async (t) => {
  // node-cron keeps its own timers: the test runner's mock timers drive them, and Date with them.
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 + 500 });
  const runs: Array<{ at: number; lateness: number }> = [];
  const scheduler = new Scheduler({
    probes: [{ name: 'c', cron: '* * * * * *' }],
    concurrency: 1,
    jitter: 0,
    clock: systemClock,
    logger: silent,
    execute: async (_name, lateness) => void runs.push({ at: Date.now() - T0, lateness }),
  });
  scheduler.start();
  for (let i = 0; i < 30; i++) {
    t.mock.timers.tick(100);
    await settle();
  }
  await scheduler.stop();
  assert.deepEqual(
    runs,
    [
      { at: 1000, lateness: 0 },
      { at: 2000, lateness: 0 },
      { at: 3000, lateness: 0 },
    ],
    'once at each whole second, on time',
  );
});

test("intervals beyond a timer's range (2^31-1 ms) run once per interval, not in a storm", async () => {
  const DAY = 86_400_000;
  for (const every of [MAX_TIMER_MS, MAX_TIMER_MS + 1, 30 * DAY, 365 * DAY]) {
    const clock = new ManualClock(T0);
    let runs = 0;
    const scheduler = makeScheduler(clock, {
      probes: [{ name: 'monthly', every }],
      execute: async () => {
        runs++;
      },
    });
    scheduler.start();
    await settle();
    await pass(clock, 250);
    clock.advance(DAY);
    await settle();
    await scheduler.stop();
    assert.equal(runs, 1, `every ${every}ms: only the first run within a day, got ${runs}`);
  }
});

test('a long interval is waited in steps and runs at its nominal time', async () => {
  const clock = new ManualClock(T0);
  const every = 30 * 86_400_000;
  const runsAt: number[] = [];
  const scheduler = makeScheduler(clock, {
    probes: [{ name: 'monthly', every }],
    execute: async () => void runsAt.push(clock.now()),
  });
  const step = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  scheduler.start();
  await step(0);
  assert.deepEqual(runsAt, [T0]);
  await step(MAX_TIMER_MS);
  assert.equal(clock.timers(), 1, 'past one timer range, the wait goes on with a new timer');
  await step(every - MAX_TIMER_MS - 1);
  assert.equal(runsAt.length, 1, 'not a millisecond early');
  await step(1);
  assert.deepEqual(runsAt, [T0, T0 + every]);
  await step(every);
  assert.deepEqual(runsAt, [T0, T0 + every, T0 + 2 * every]);
  await scheduler.stop();
});

test('a slot shouldRun declines is not run and not counted late; the next slot asks again', async () => {
  const clock = new ManualClock(T0);
  const asked: Array<[string, number]> = [];
  const ran: Array<[string, number, number]> = [];
  const scheduler = makeScheduler(clock, {
    probes: [
      { name: 'mine', every: 100 },
      { name: 'gained', every: 100 },
    ],
    // 'gained' is owned from 250 ms on (e.g. its agent elsewhere died): the slots before run elsewhere.
    shouldRun: (name, scheduledAt) => {
      asked.push([name, scheduledAt - T0]);
      return name === 'mine' || scheduledAt - T0 >= 250;
    },
    execute: async (name, lateness) => void ran.push([name, clock.now() - T0, lateness]),
  });
  scheduler.start();
  await settle();
  await pass(clock, 450);
  await stopOnClock(scheduler, clock);
  const runsOf = (name: string) => ran.filter(([probe]) => probe === name).map(([, at, lateness]) => [at, lateness]);
  assert.deepEqual(
    runsOf('mine'),
    [0, 100, 200, 300, 400].map((at) => [at, 0]),
  );
  assert.deepEqual(
    runsOf('gained'),
    [
      [300, 0],
      [400, 0],
    ],
    'only the slots after it was gained, on time',
  );
  assert.deepEqual(
    asked.filter(([name]) => name === 'gained').map(([, at]) => at),
    [0, 100, 200, 300, 400],
    'asked with each slot time',
  );
  assert.equal(scheduler.stats.skippedElsewhere, 3);
  assert.equal(scheduler.stats.started, 7);
});
