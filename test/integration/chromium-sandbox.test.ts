import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
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

test('for an unprivileged user Chromium runs with its sandbox', async () => {
  const home = await makeTempDir('scaiprobe-sandbox-');
  await chmod(home.dir, 0o777);
  try {
    // The same code the daemon runs, as an unprivileged user (nobody, when the tests run as root).
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', new URL('../helpers/chromium-sandbox.ts', import.meta.url).pathname],
      {
        env: { ...process.env, HOME: home.dir },
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      },
    );
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
