import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { realpath, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../src/config/load.ts';
import { LAB_ENV } from '../../src/lab/lab.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { waitFor } from '../helpers/cli.ts';

// `npm start` on a fresh clone: the daemon on the shipped configuration with the lab, its data in a
// folder of its own (the clone's data/), the lab's inside a private folder (mode 0700, as a home or
// /root is). Every shipped probe passes on its first run, start after start: first runs are spread
// over the interval, so their order differs each time (mail-tracking reads mail-roundtrip's message).
const API = 'http://127.0.0.1:9464';
const shipped = loadConfig('probes', { ...process.env, ...LAB_ENV }).probes.filter((spec) => spec.enabled !== false);

interface Run {
  status: string;
  message: string | null;
  error: { code: string; message: string } | null;
}

async function firstRuns(): Promise<Map<string, Run>> {
  const runs = new Map<string, Run>();
  for (const { name } of shipped) {
    const response = await fetch(`${API}/api/v1/probes/${encodeURIComponent(name)}/runs?limit=1000`);
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
    const listed = ((await response.json()) as { runs: Run[] }).runs;
    const first = listed.at(-1); // newest first
    if (first) runs.set(name, first);
  }
  return runs;
}

async function startAndCheck(round: number): Promise<void> {
  const temp = await makeTempDir('scaiprobe-start-');
  const labDir = join(temp.dir, 'lab');
  const daemon = spawn(
    process.execPath,
    [resolve('bin/scaiprobe.js'), 'run', '--lab', '--dir', labDir, '--config', resolve('probes')],
    {
      cwd: temp.dir,
      env: { ...process.env, SCAIPROBE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  daemon.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(daemon, 'exit');
  let files: string | undefined;
  try {
    const runs = await waitFor(
      `round ${round}: a first run of each of the ${shipped.length} shipped probes`,
      async () => {
        if (daemon.exitCode !== null) assert.fail(`the daemon exited (${daemon.exitCode}):\n${output}`);
        const found = await firstRuns();
        return found.size === shipped.length ? found : undefined;
      },
      170_000,
    ).catch((error: unknown) => assert.fail(`${(error as Error).message}\n${output.slice(-4000)}`));
    files = await realpath(join(labDir, 'current'));
    const failed = [...runs]
      .filter(([, run]) => run.status !== 'pass')
      .map(([name, run]) => `${name}: ${run.status} ${run.error?.code ?? ''} ${run.message}`);
    assert.deepEqual(failed, [], `round ${round}: every shipped probe passes on its first run`);
  } finally {
    daemon.kill('SIGTERM');
    await exited;
    await temp.remove();
    // Started by root, the lab's servers keep their files outside the private folder (startLab).
    if (files && !files.startsWith(temp.dir)) await rm(files, { recursive: true, force: true });
  }
  assert.equal(daemon.exitCode, 0, `round ${round}: the daemon stops cleanly on SIGTERM\n${output.slice(-4000)}`);
}

for (const round of [1, 2, 3]) {
  test(
    `npm start on a fresh clone, start ${round} of 3: every shipped probe passes on its first run`,
    { timeout: 180_000 },
    () => startAndCheck(round),
  );
}
