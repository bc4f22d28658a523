import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { waitFor } from '../helpers/cli.ts';
import { DAEMON_V8_FLAGS } from '../../bin/daemon-v8-flags.js';

// `npm run setup` puts the project's Node in node_modules/.bin; bin/scaiprobe.js started by any
// other Node (the system's, first on PATH outside npm scripts) runs itself again under that one.
const projectNode = realpathSync('node_modules/.bin/node');

/** The first `node` on PATH that is not the project's (what a shell runs for `node bin/scaiprobe.js`). */
function otherNode(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    if (realpathSync(candidate) !== projectNode) return candidate;
  }
  throw new Error(`no Node on PATH besides the project's (${projectNode}): npm itself needs one`);
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let scaidns: LabApp;
let temp: { dir: string; remove: () => Promise<void> };
before(async () => {
  scaidns = createScaiDnsStandIn();
  temp = await makeTempDir('scaiprobe-node-');
});
after(async () => {
  await scaidns.close();
  await temp.remove();
});

test("started by another Node, the daemon runs under the project's Node and stops cleanly on SIGTERM", async () => {
  const { url } = await scaidns.listen(0);
  const port = await freePort();
  const config = join(temp.dir, 'probes.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }
store: { path: "${join(temp.dir, 'scaiprobe.db')}" }
probes:
  - { name: dns-live, kind: http, url: "${url}/health/live", every: 500ms }
`,
  );
  const shim = spawn(otherNode(), ['bin/scaiprobe.js', 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  shim.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  shim.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => shim.on('exit', (code) => resolve(code)));
  let daemonPid: number;
  try {
    await waitFor(
      'the probe to pass',
      async () => {
        const body = (await (await fetch(`http://127.0.0.1:${port}/api/v1/probes`)).json()) as {
          probes: Array<{ status: string }>;
        };
        return body.probes.some((probe) => probe.status === 'pass') ? true : undefined;
      },
      30_000,
    ).catch((error: unknown) => assert.fail(`${(error as Error).message}\n${output}`));
    const children = childrenOf(shim.pid ?? 0);
    assert.equal(children.length, 1, `one child of the Node that was started: ${children.join(', ')}`);
    daemonPid = children[0] ?? 0;
    assert.equal(realpathSync(`/proc/${daemonPid}/exe`), projectNode, "the daemon runs on the project's Node");
    const argv = readFileSync(`/proc/${daemonPid}/cmdline`, 'utf8').split('\0');
    for (const flag of DAEMON_V8_FLAGS) assert.ok(argv.includes(flag), `the daemon's Node starts with ${flag}`);
  } finally {
    shim.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `SIGTERM is passed on and the daemon's clean exit comes back:\n${output}`);
  assert.equal(alive(daemonPid), false, 'the daemon is gone with it');
});

test("started by another Node, the command's exit code and output come back as they are", () => {
  const bad = join(temp.dir, 'bad.yaml');
  writeFileSync(bad, 'probes:\n  - { name: x, kind: http }\n');
  const result = spawnSync(otherNode(), ['bin/scaiprobe.js', 'validate', '--config', bad], { encoding: 'utf8' });
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /invalid configuration, 1 problem/);
});
