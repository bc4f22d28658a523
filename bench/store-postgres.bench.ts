// Store write throughput: runs stored per second through recordAll in batches of 100 and 500, PostgreSQL against SQLite.
//   node --import tsx bench/store-postgres.bench.ts [--runs 50000] [--probes 500] [--writers 3] [--fast]
// Runs look like one-minute http checks (a few observations, phases, one run in ten failing, one in five with an item).
// PostgreSQL runs on a private cluster on loopback, with fsync unless --fast; SQLite is the shipped WAL file.
// "PostgreSQL, N writers" is N stores (agents) writing their own probes at once, each batch one transaction.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from '../src/lab/postgres.ts';
import { openPostgresStore } from '../src/store/postgres/open.ts';
import { SqliteStore } from '../src/store/sqlite/store.ts';
import type { RunRecord } from '../src/store/types.ts';
import { ManualClock } from '../src/util/clock.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '50000' },
    probes: { type: 'string', default: '500' },
    writers: { type: 'string', default: '3' },
    fast: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const PROBES = Number(values.probes);
const WRITERS = Number(values.writers);
const T0 = Date.UTC(2026, 0, 1);

function runsFor(prefix: string, count: number): RunRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const probe = `${prefix}probe-${i % PROBES}`;
    const startedAt = T0 + Math.floor(i / PROBES) * 60_000 + (i % PROBES);
    const failing = i % 10 === 0;
    return {
      uid: `${prefix}${i.toString(16).padStart(12, '0')}`,
      probe,
      kind: 'http',
      startedAt,
      durationMs: 20 + (i % 37) + 0.25,
      status: failing ? 'fail' : 'pass',
      attempts: 1,
      message: failing ? 'HTTP 503 in 31ms' : `HTTP 200 in ${20 + (i % 37)}ms`,
      error: failing ? { code: 'ASSERTION', message: 'status == 200' } : null,
      observations: { status: failing ? 503 : 200, 'http.bytes': 1234, url: `https://${probe}.example.test/health` },
      assertions: [{ expr: 'status == 200', ok: !failing, actual: failing ? 503 : 200, soft: false }],
      phases: { dns: 1.5, connect: 2.25, tls: 5.5, firstByte: 10.75, total: 20.25 },
      items: i % 5 === 0 ? [{ type: 'cert', key: 'leaf', state: 'valid', data: { daysLeft: 60 } }] : [],
      location: 'eu-west',
      agent: `${prefix}agent`,
    };
  });
}

function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function sqlite(batchSize: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-bench-pgstore-'));
  const store = new SqliteStore(join(dir, 'probe.db'), new ManualClock(T0));
  const runs = runsFor('', RUNS);
  const started = performance.now();
  for (const batch of batches(runs, batchSize)) store.runs.recordAll(batch);
  const seconds = (performance.now() - started) / 1000;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return RUNS / seconds;
}

async function postgres(url: string, batchSize: number, writers: number): Promise<number> {
  const stores = await Promise.all(
    Array.from({ length: writers }, () => openPostgresStore({ url, clock: new ManualClock(T0), tls: false })),
  );
  const perWriter = Math.floor(RUNS / writers);
  const work = stores.map((_, w) => batches(runsFor(`w${w}-`, perWriter), batchSize));
  const started = performance.now();
  await Promise.all(
    stores.map(async (store, w) => {
      for (const batch of work[w] ?? []) await store.runs.recordAll(batch);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const store of stores) await store.close();
  return (perWriter * writers) / seconds;
}

async function main(): Promise<void> {
  const server = await startPostgres({ fast: values.fast });
  let database = 0;
  const freshUrl = async () => {
    const pg = (await import('pg')).default;
    const admin = new pg.Client(server.url);
    await admin.connect();
    database += 1;
    await admin.query(`CREATE DATABASE bench${database}`);
    await admin.end();
    return server.url.replace(/\/scaiprobe$/, `/bench${database}`);
  };
  const rows: Array<Record<string, string>> = [];
  try {
    for (const batch of [100, 500]) {
      const lite = sqlite(batch);
      const one = await postgres(await freshUrl(), batch, 1);
      const many = await postgres(await freshUrl(), batch, WRITERS);
      rows.push({
        batch: String(batch),
        'SQLite runs/s': lite.toFixed(0),
        'PostgreSQL runs/s': one.toFixed(0),
        [`PostgreSQL, ${WRITERS} writers, runs/s`]: many.toFixed(0),
        'PostgreSQL / SQLite': (one / lite).toFixed(2),
      });
    }
  } finally {
    await server.destroy();
  }
  console.log(
    `${RUNS} runs of ${PROBES} probes; ${cpus().length} CPUs; PostgreSQL ${values.fast ? 'without fsync' : 'with fsync'}`,
  );
  console.table(rows);
}

await main();
