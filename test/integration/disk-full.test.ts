// The database on a small filesystem that fills up: the daemon keeps probing and
// serving /metrics, /ready says why it is not ready, the runs of the full period
// are stored once space returns, and the file stays intact. Needs root (mount).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pino from 'pino';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import { loadConfig } from '../../src/config/load.ts';
import { Engine } from '../../src/runner/engine.ts';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import { Redactor } from '../../src/util/redact.ts';
import { systemClock } from '../../src/util/clock.ts';
import { freePort } from '../../src/lab/processes.ts';
import { startCli, waitFor } from '../helpers/cli.ts';

/** Writes zeros until the filesystem refuses: what is left for the database is nothing. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

function runsTotal(metrics: string): number {
  return [...metrics.matchAll(/^scaiprobe_probe_runs_total\{[^}]*\} (\d+)/gm)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
}

test(
  'disk full: probing and /metrics go on, /ready says why, queued runs are stored when space returns, integrity ok',
  { timeout: 240_000 },
  async () => {
    const target = createScaiDnsStandIn();
    const { url } = await target.listen(0);
    const root = mkdtempSync(join(tmpdir(), 'scaiprobe-diskfull-'));
    const volume = join(root, 'volume');
    mkdirSync(volume);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', volume]);
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    const db = join(volume, 'scaiprobe.db');
    const config = join(root, 'probes.yaml');
    writeFileSync(
      config,
      `server: { listen: "127.0.0.1:${port}" }
store: { path: "${db}" }
probes:
${Array.from({ length: 5 }, (_, i) => `  - { name: p${i}, kind: http, url: "${url}/health/ready", every: 200ms, timeout: 5s }`).join('\n')}
`,
    );
    const daemon = startCli(['run', '--config', config]);
    let running = true;
    const filler = join(volume, 'filler');
    try {
      await waitFor(
        'the daemon to be ready',
        async () => ((await fetch(`${api}/ready`)).ok ? true : undefined),
        60_000,
      );
      fillUp(filler);
      const notReady = await waitFor(
        '/ready to report the full disk',
        async () => {
          const response = await fetch(`${api}/ready`);
          return response.status === 503
            ? ((await response.json()) as { status: string; problems: string[] })
            : undefined;
        },
        60_000,
      );
      assert.equal(notReady.status, 'not ready');
      assert.match(notReady.problems.join('; '), /^database: disk full \(\d+ runs? waiting to be stored\)/);
      const fullSince = Date.now();

      const before = runsTotal(await (await fetch(`${api}/metrics`)).text());
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const metrics = await (await fetch(`${api}/metrics`)).text();
      assert.ok(runsTotal(metrics) > before, 'probes keep running while the disk is full');
      assert.match(metrics, /^scaiprobe_store_writable 0$/m);
      assert.match(metrics, /^scaiprobe_store_queued_runs [1-9]\d*$/m);
      const stillFull = await fetch(`${api}/ready`);
      assert.equal(stillFull.status, 503);

      rmSync(filler);
      const spaceBack = Date.now();
      await waitFor(
        '/ready once space returns',
        async () => ((await fetch(`${api}/ready`)).ok ? true : undefined),
        60_000,
      );
      const after = await (await fetch(`${api}/metrics`)).text();
      assert.match(after, /^scaiprobe_store_writable 1$/m);
      assert.match(after, /^scaiprobe_store_queued_runs 0$/m);
      assert.match(after, /^scaiprobe_store_dropped_runs 0$/m);
      const runs = (await (await fetch(`${api}/api/v1/probes/p0/runs?limit=10000`)).json()) as {
        runs: Array<{ startedAt: number; observations: Record<string, unknown> }>;
      };
      const duringFull = runs.runs.filter((run) => run.startedAt >= fullSince && run.startedAt < spaceBack);
      assert.ok(
        duringFull.length >= 4,
        `runs of the full period were stored once space returned (${duringFull.length})`,
      );
      assert.ok(
        duringFull.some((run) => run.observations.status === 200),
        'with their observations',
      );

      daemon.child.kill('SIGTERM');
      running = false;
      assert.equal(await daemon.exited, 0, daemon.output());
      const check = new Database(db, { readonly: true });
      assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
      check.close();
    } finally {
      if (running) {
        daemon.child.kill('SIGTERM');
        await daemon.exited;
      }
      execFileSync('umount', [volume]);
      rmSync(root, { recursive: true, force: true });
      await target.close();
    }
  },
);

test("a run the database cannot take yet does not lose the probe's carried-over state", async () => {
  let scrapes = 0;
  const metrics = createServer((_req, res) => res.end(`requests_total ${++scrapes * 60}\n`));
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-state-'));
  const file = join(dir, 'probes.yaml');
  writeFileSync(
    file,
    `probes:\n  - { name: prom, kind: prometheus, url: "http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics", warmup: 100ms, record: ["increase5m(requests_total)"] }\n`,
  );
  const config = loadConfig(file, {});
  const store = new SqliteStore(join(dir, 'db.sqlite'), systemClock);
  const engine = new Engine(config.probes, {
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    http: createHttpClient(),
    redactor: new Redactor(config.secrets),
    store,
  });
  const cleanups: Array<() => void> = [];
  try {
    // Another process holds the write lock: every write is refused, as on a full disk.
    store.db.pragma('busy_timeout = 0');
    const other = new Database(join(dir, 'db.sqlite'));
    other.exec('BEGIN IMMEDIATE');
    cleanups.push(() => other.close());
    await engine.run('prom');
    assert.equal(scrapes, 2, 'the first run scrapes twice (no earlier scrape to compute an increase from)');
    assert.equal(engine.storeHealth()?.problem, 'database: locked by another process');
    const second = await engine.run('prom');
    assert.equal(scrapes, 3, "the second run has the first run's scrapes although they were never stored");
    assert.equal(second.observations['increase5m(requests_total)'], 120);
  } finally {
    for (const cleanup of cleanups) cleanup();
    await engine.close();
    store.close();
    metrics.close();
  }
});
