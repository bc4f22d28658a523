// `scaiprobe check` in CI: GitHub Actions' job summary and annotations, and TAP read by a real TAP consumer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort } from '../../src/lab/processes.ts';
import { runCli } from '../helpers/cli.ts';
import { parseTap } from '../helpers/tap-parser.ts';

let scaisend: LabApp;
let dir: string;
let config: string;
// What a GitHub-hosted runner sets; the rest of the environment is the test's own.
const notGitHub = { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: '' };

before(async () => {
  scaisend = createScaiSendStandIn();
  const { url } = await scaisend.listen(0);
  const closed = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'scaiprobe-ci-'));
  config = join(dir, 'probes.yaml');
  // "api:ready" has a colon (a title must escape it); its expectation puts a | in its message.
  writeFileSync(
    config,
    `probes:
  - { name: live, kind: http, url: "${url}/health" }
  - { name: "api:ready", kind: http, url: "${url}/ready", expect: ['json.status == "ready|set"'] }
  - { name: down, kind: http, url: "http://127.0.0.1:${closed}/health", timeout: 2s }
`,
  );
});
after(async () => {
  await scaisend.close();
  rmSync(dir, { recursive: true, force: true });
});

test('in GitHub Actions: an ::error annotation per failed probe, title escaped, and a Markdown job summary appended', async () => {
  const summary = join(dir, 'step-summary.md');
  writeFileSync(summary, '## from an earlier command of the step\n');
  const result = await runCli(['check', '--config', config], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
  assert.equal(result.code, 1);
  const commands = result.stdout.split('\n').filter((line) => line.startsWith('::'));
  assert.equal(commands.length, 2, result.stdout);
  assert.match(
    commands[0] ?? '',
    /^::error title=api%3Aready::HTTP 200 in \d+ms — failed: json\.status == "ready\|set" \(actual: ready\)$/,
  );
  assert.match(commands[1] ?? '', /^::error title=down::CONNECT: /);
  const markdown = readFileSync(summary, 'utf8');
  assert.ok(
    markdown.startsWith('## from an earlier command of the step\n## scaiprobe check\n'),
    'appended, not overwritten',
  );
  assert.match(markdown, /\*\*2 failed\*\*, 0 warned, 1 passed in /);
  const rows = markdown.split('\n').filter((line) => /^\| (❌|⚠️|✅) /.test(line));
  assert.deepEqual(
    rows.map((row) => row.split(' | ')[1]),
    ['api:ready', 'down', 'live'],
    'failing first',
  );
  assert.match(
    rows[0] ?? '',
    /^\| ❌ fail \| api:ready \| http \| \d+ms \| HTTP 200 in \d+ms — failed: json\.status == "ready\\\|set" \(actual: ready\) \|$/,
  );
  assert.match(rows[2] ?? '', /^\| ✅ pass \| live \| http \| \d+ms \| HTTP 200 in \d+ms \|$/);
});

test('in GitHub Actions with --json: stdout stays the documented JSON, the annotations go to stderr', async () => {
  const summary = join(dir, 'json-summary.md');
  const result = await runCli(['check', '--config', config, '--json'], {
    GITHUB_ACTIONS: 'true',
    GITHUB_STEP_SUMMARY: summary,
  });
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as { summary: Record<string, number> };
  assert.deepEqual(report.summary, { pass: 1, warn: 0, fail: 2 });
  assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('::error title=')).length, 2);
  assert.match(readFileSync(summary, 'utf8'), /^## scaiprobe check\n/);
});

test('outside GitHub Actions: no annotations and no summary; a summary that cannot be written does not change the outcome', async () => {
  const plain = await runCli(['check', '--config', config], notGitHub);
  assert.equal(plain.code, 1);
  assert.ok(!plain.stdout.includes('::error'), plain.stdout);
  const missing = join(dir, 'no-such-dir', 'summary.md');
  const unwritable = await runCli(['check', '--config', config, '--only', 'live'], {
    GITHUB_ACTIONS: 'true',
    GITHUB_STEP_SUMMARY: missing,
  });
  assert.equal(unwritable.code, 0, unwritable.stderr);
  assert.match(unwritable.stderr, /could not write the job summary to .*no-such-dir/);
  assert.ok(!existsSync(missing));
});

test('--format tap is TAP that a TAP consumer reads: the plan, each probe, the failures, their YAML', async () => {
  const result = await runCli(['check', '--config', config, '--format', 'tap'], notGitHub);
  assert.equal(result.code, 1);
  const tap = parseTap(result.stdout);
  assert.deepEqual(tap.parseErrors, []);
  assert.deepEqual(tap.unknown, [], 'every line is TAP');
  assert.deepEqual([tap.version, tap.plan, tap.testsRun], [13, '1..3', 3]);
  assert.deepEqual([tap.passed, tap.failed], [[1], [2, 3]]);
  assert.deepEqual(tap.descriptions, ['- live', '- api:ready', '- down']);
  const [ready, down] = tap.yaml as Array<Record<string, unknown>>;
  assert.equal(ready?.status, 'fail');
  assert.deepEqual((ready?.assertions as unknown[])[0], {
    expr: 'json.status == "ready|set"',
    ok: 'false',
    actual: 'ready',
  });
  assert.equal(down?.code, 'CONNECT');
  const both = await runCli(['check', '--config', config, '--json', '--format', 'tap'], notGitHub);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--json and --format tap ask for two formats/);
  const bad = await runCli(['check', '--config', config, '--format', 'xml'], notGitHub);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--format must be human, json, tap \(got xml\)/);
});
