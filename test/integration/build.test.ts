import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { waitFor } from '../helpers/cli.ts';

// What the container image runs: `npm run build` compiles src/ into dist/, and dist/ runs on plain
// Node. Type stripping is switched off so that a .ts file reached from dist/ fails here instead of
// being loaded quietly from src/ (the image has no src/).
const NODE_ARGS = ['--no-experimental-strip-types', 'dist/cli/main.js'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

let scaidns: LabApp;
let temp: { dir: string; remove: () => Promise<void> };

before(async () => {
  const built = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' });
  assert.equal(built.status, 0, `npm run build failed:\n${built.stdout}\n${built.stderr}`);
  scaidns = createScaiDnsStandIn();
  temp = await makeTempDir('scaiprobe-build-');
});
after(async () => {
  await scaidns.close();
  await temp.remove();
});

test("dist/ holds JavaScript only (and the lab's own files), none of it loading tsx, and the status page script beside it", () => {
  const files = filesUnder('dist');
  assert.ok(files.includes(join('dist', 'cli', 'main.js')), 'dist/cli/main.js');
  assert.ok(files.includes(join('dist', 'server', 'status-page', 'client.js')), 'the status page script is copied');
  // The lab reads its verifier script and its TLS material beside its code; nothing else is not JavaScript.
  const labFile = (file: string) => file.startsWith(join('dist', 'lab')) && /\.(py|pem|key|md)$/.test(file);
  assert.deepEqual(
    files.filter((file) => !file.endsWith('.js') && !labFile(file)),
    [],
  );
  assert.ok(
    files.some((file) => file.endsWith('mail-verifier.py')),
    'the lab verifier is beside the compiled lab',
  );
  assert.deepEqual(
    files.filter((file) => /from ['"]tsx|import\(['"]tsx|\.ts['"]\)?;?$/m.test(readFileSync(file, 'utf8'))),
    [],
  );
});

test('the compiled CLI validates the shipped configuration', () => {
  const validated = spawnSync(process.execPath, [...NODE_ARGS, 'validate', '--config', 'probes', '--lab'], {
    encoding: 'utf8',
  });
  assert.equal(validated.status, 0, validated.stderr);
  assert.match(validated.stdout, /^probes: valid — \d+ probes/);
});

test('the compiled daemon runs a probe, stores it, serves the API and stops on SIGTERM', async () => {
  const { url } = await scaidns.listen(0);
  const port = await freePort();
  const config = join(temp.dir, 'probes.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }
store: { path: "${join(temp.dir, 'scaiprobe.db')}" }
probes:
  - { name: dns-ready, kind: http, url: "${url}/health/ready", every: 500ms, expect: [status == 200, json.checks.pdns == "ok"] }
`,
  );
  const daemon = spawn(process.execPath, [...NODE_ARGS, 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  daemon.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
  try {
    const probes = await waitFor(
      'the probe to pass',
      async () => {
        const body = (await (await fetch(`http://127.0.0.1:${port}/api/v1/probes`)).json()) as {
          probes: Array<{ probe: string; status: string }>;
        };
        return body.probes.some((probe) => probe.status === 'pass') ? body.probes : undefined;
      },
      30_000,
    ).catch((error: unknown) => assert.fail(`${(error as Error).message}\n${output}`));
    assert.deepEqual(
      probes.map((probe) => probe.probe),
      ['dns-ready'],
    );
  } finally {
    daemon.kill('SIGTERM');
  }
  assert.equal(await exited, 0, output);
});
