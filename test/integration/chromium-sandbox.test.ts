import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import pino from 'pino';
import { makeTempDir } from '../../src/lab/processes.ts';
import { SharedBrowser, sandboxAllowed } from '../../src/util/chromium.ts';

test('Chromium keeps its sandbox for every user but root, where it cannot start with it', () => {
  assert.equal(sandboxAllowed(0), false);
  assert.equal(sandboxAllowed(1000), true);
  assert.equal(sandboxAllowed(65534), true);
});

const asRoot = process.getuid?.() === 0;

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The unprivileged user may not be able to read the checkout at all (a clone inside a 0700 folder, as
 * in a root-owned temporary directory), so what it runs is staged where it can: this Node, the
 * helper script and the one source file it imports (run by Node's own TypeScript support, no loader
 * from node_modules), and playwright-core, which has no dependencies of its own.
 */
async function stageSandboxCheck(dir: string): Promise<{ node: string; script: string }> {
  const staged = join(dir, 'stage');
  const files = ['test/helpers/chromium-sandbox.ts', 'src/util/chromium.ts', 'node_modules/playwright-core'];
  for (const file of files) {
    await mkdir(dirname(join(staged, file)), { recursive: true });
    await cp(join(root, file), join(staged, file), { recursive: true });
  }
  await writeFile(join(staged, 'package.json'), '{ "type": "module" }\n');
  await cp(process.execPath, join(staged, 'node'));
  await chmod(join(staged, 'node'), 0o755);
  return { node: join(staged, 'node'), script: join(staged, files[0] as string) };
}

test('for an unprivileged user Chromium runs with its sandbox', async () => {
  const home = await makeTempDir('scaiprobe-sandbox-');
  await chmod(home.dir, 0o777);
  try {
    const { node, script } = await stageSandboxCheck(home.dir);
    // The same code the daemon runs, as an unprivileged user (nobody, when the tests run as root).
    const child = spawn(node, ['--no-warnings', '--experimental-transform-types', script], {
      cwd: home.dir,
      env: { ...process.env, HOME: home.dir },
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    assert.deepEqual(JSON.parse(out), { sandboxed: true, status: 'You are adequately sandboxed' });
  } finally {
    await home.remove();
  }
});

test(
  'as root Chromium runs without its sandbox, and the log says why',
  { skip: !asRoot && 'the tests do not run as root' },
  async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const browser = new SharedBrowser({ logger });
    try {
      const context = await browser.context();
      const page = await context.newPage();
      await page.goto('chrome://sandbox');
      assert.match((await page.textContent('body')) ?? '', /You are NOT adequately sandboxed/);
      assert.equal(browser.sandboxed, false);
      assert.ok(
        lines.some((line) => /chromium started without its sandbox: the process runs as root/.test(line)),
        lines.join(''),
      );
    } finally {
      await browser.close();
    }
  },
);
