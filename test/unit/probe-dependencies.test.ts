import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { producersFirst, producersOf } from '../../src/runner/dependencies.ts';
import { Scheduler, type SchedulableProbe } from '../../src/runner/scheduler.ts';
import { systemClock } from '../../src/util/clock.ts';
import { LAB_ENV } from '../../src/lab/lab.ts';

const logger = pino({ level: 'silent' });

function configFile(yaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'scaiprobe-deps-')), 'probes.yaml');
  writeFileSync(file, yaml);
  return file;
}

const imap = '{ host: 127.0.0.1, port: 1, secure: false, user: alice, pass: "${SEED_A_PASS}" }';
const browserReading = (probe: string) =>
  `  - { name: tracking, kind: browser, every: 2m, mail: { probe: ${probe}, imap: ${imap} } }\n`;
const mailProbe = `  - name: roundtrip
    kind: mail
    every: 2m
    send: { api: "http://127.0.0.1:1", apiKey: "\${SCAISEND_API_KEY}", from: probe@send.example.test }
    seeds: [{ name: a, address: alice@example.test, imap: ${imap} }]
`;

test('a browser probe reads its mail probe: that one comes first, wherever it is written', () => {
  const config = loadConfig(
    configFile(
      `probes:\n${browserReading('roundtrip')}${mailProbe}  - { name: web, kind: http, url: "http://127.0.0.1:1/" }\n`,
    ),
    LAB_ENV,
  );
  const producers = producersOf(config.probes);
  assert.deepEqual([...producers], [['tracking', ['roundtrip']]]);
  assert.deepEqual(
    producersFirst(config.probes, producers).map((spec) => spec.name),
    ['roundtrip', 'tracking', 'web'],
  );
  // Without the mail probe among those run (check --only tracking), there is nothing to wait for.
  assert.deepEqual([...producersOf(config.probes.filter((spec) => spec.name !== 'roundtrip'))], []);
});

test('a browser probe naming a probe that does not exist is warned about, at the line that names it', () => {
  const file = configFile(`probes:\n${mailProbe}${browserReading('roundtrp')}`);
  const config = loadConfig(file, LAB_ENV);
  assert.deepEqual(config.warnings, [
    `${file}:7:64: probes[1].mail.probe: no probe named "roundtrp": this probe will find nothing of it to read`,
  ]);
  assert.deepEqual([...producersOf(config.probes)], [], 'nothing to wait for');
});

/** A scheduler driven through trigger() by hand; each run ends when the test says so. */
function harness(probes: SchedulableProbe[]) {
  const events: string[] = [];
  const lateness: Record<string, number> = {};
  const finish = new Map<string, (outcome?: Error) => void>();
  const scheduler = new Scheduler({
    probes,
    concurrency: 10,
    jitter: 0,
    clock: systemClock,
    logger,
    execute: (name, late) => {
      events.push(`start ${name}`);
      lateness[name] = late;
      return new Promise<void>((resolve, reject) => {
        finish.set(name, (outcome) => {
          events.push(`end ${name}`);
          if (outcome) reject(outcome);
          else resolve();
        });
      });
    },
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    scheduler,
    events,
    lateness,
    async end(name: string, outcome?: Error) {
      finish.get(name)?.(outcome);
      await settle();
      await settle();
    },
    settle,
  };
}

test('a probe is held until the probe it reads has finished a run, then starts at once; later runs are not held', async () => {
  const h = harness([
    { name: 'roundtrip', every: 120_000 },
    { name: 'tracking', every: 120_000, after: ['roundtrip'] },
  ]);
  const early = Date.now() - 30_000;
  h.scheduler.trigger('tracking', early);
  h.scheduler.trigger('tracking', early); // its next tick while still held: one run all the same
  await h.settle();
  assert.deepEqual(h.events, [], 'held: nothing to read yet');
  h.scheduler.trigger('roundtrip', Date.now());
  await h.settle();
  assert.deepEqual(h.events, ['start roundtrip']);
  await h.end('roundtrip');
  assert.deepEqual(h.events, ['start roundtrip', 'end roundtrip', 'start tracking']);
  assert.ok((h.lateness.tracking ?? Infinity) < 1000, `the wait is not counted as lateness: ${h.lateness.tracking}`);
  await h.end('tracking');
  h.scheduler.trigger('tracking', Date.now());
  await h.settle();
  assert.deepEqual(
    h.events.slice(3),
    ['end tracking', 'start tracking'],
    'after the first, runs go on their own schedule',
  );
  await h.end('tracking');
  await h.scheduler.stop();
});

test('a failed run of the producer releases the probe too: it then says itself what is missing', async () => {
  const h = harness([
    { name: 'roundtrip', every: 120_000 },
    { name: 'tracking', every: 120_000, after: ['roundtrip'] },
  ]);
  h.scheduler.trigger('tracking', Date.now());
  h.scheduler.trigger('roundtrip', Date.now());
  await h.settle();
  await h.end('roundtrip', new Error('boom'));
  assert.deepEqual(h.events, ['start roundtrip', 'end roundtrip', 'start tracking']);
  await h.end('tracking');
  await h.scheduler.stop();
});

test('a producer the scheduler does not run (disabled) is not waited for', async () => {
  const h = harness([{ name: 'tracking', every: 120_000, after: ['roundtrip'] }]);
  h.scheduler.trigger('tracking', Date.now());
  await h.settle();
  assert.deepEqual(h.events, ['start tracking']);
  await h.end('tracking');
  await h.scheduler.stop();
});
