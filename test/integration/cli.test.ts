import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import type { LabApp } from '../../src/lab/http-app.ts';
import { freePort } from '../../src/lab/processes.ts';
import { runCli } from '../helpers/cli.ts';

let scaisend: LabApp;
let dir: string;
let config: string;

before(async () => {
  scaisend = createScaiSendStandIn();
  const { url } = await scaisend.listen(0);
  const closed = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'scaiprobe-cli-'));
  config = join(dir, 'probes.yaml');
  writeFileSync(
    config,
    `probes:
  - { name: ready, kind: http, url: "${url}/ready", tags: [smoke], expect: [status == 200, json.status == "ready"] }
  - { name: live, kind: http, url: "${url}/health", tags: [smoke] }
  - { name: down, kind: http, url: "http://127.0.0.1:${closed}/health", timeout: 2s, tags: [broken] }
`,
  );
});
after(() => scaisend.close());

test('check exits 0 when every selected probe passes and prints a line per probe', async () => {
  const result = await runCli(['check', '--config', config, '--tag', 'smoke']);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /✔ pass ready/);
  assert.match(result.stdout, /✔ pass live/);
  assert.match(result.stdout, /2 passed, 0 warned, 0 failed/);
});

test('check exits 1 when a probe fails, and --json keeps its documented shape', async () => {
  const result = await runCli(['check', '--config', config, '--json']);
  assert.equal(result.code, 1);
  const report = JSON.parse(result.stdout) as {
    results: Array<Record<string, unknown>>;
    summary: Record<string, number>;
  };
  assert.deepEqual(report.summary, { pass: 2, warn: 0, fail: 1 });
  const ready = report.results.find((r) => r.name === 'ready');
  assert.deepEqual(Object.keys(ready ?? {}).sort(), [
    'assertions',
    'durationMs',
    'error',
    'kind',
    'message',
    'name',
    'observations',
    'status',
  ]);
  assert.deepEqual(ready?.assertions, [
    { expr: 'status == 200', ok: true, actual: 200 },
    { expr: 'json.status == "ready"', ok: true, actual: 'ready' },
  ]);
  const down = report.results.find((r) => r.name === 'down');
  assert.equal(down?.status, 'fail');
  assert.deepEqual(Object.keys((down?.error as object) ?? {}).sort(), ['code', 'message']);
  assert.equal((down?.error as { code: string }).code, 'CONNECT');
});

test('--only selects by name; an unknown name is a usage error (exit 2)', async () => {
  const only = await runCli(['check', '--config', config, '--only', 'ready,live', '--json']);
  assert.equal(only.code, 0);
  assert.deepEqual(
    (JSON.parse(only.stdout) as { results: Array<{ name: string }> }).results.map((r) => r.name),
    ['ready', 'live'],
  );
  const typo = await runCli(['check', '--config', config, '--only', 'raedy']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /no probe named "raedy"/);
});

test('--junit writes JUnit XML with a failure element for the failed probe', async () => {
  const junit = join(dir, 'junit.xml');
  const result = await runCli(['check', '--config', config, '--junit', junit]);
  assert.equal(result.code, 1);
  const xml = readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuites name="scaiprobe check" tests="3" failures="1"/);
  assert.match(xml, /<testcase classname="scaiprobe.http" name="down"[^>]*>\s*<failure type="CONNECT"/);
  assert.match(xml, /<testcase classname="scaiprobe.http" name="ready"[^>]*\/>/);
});

test('validate: exit 0 on a valid config, 2 with every problem on a bad one; bad usage is exit 2', async () => {
  const ok = await runCli(['validate', '--config', config]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /valid — 3 probes \(http\)/);
  const bad = await runCli(['validate', '--config', 'test/fixtures/config/invalid/many-problems.yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /5 problems/);
  const usage = await runCli(['check', '--frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^scaiprobe check: unknown option --frobnicate\ncheck takes: --config FILE\|DIR, /);
  const unknown = await runCli(['launch']);
  assert.equal(unknown.code, 2);
});

test('the installed command: --help of a command and of scaiprobe exit 0 on stdout; an unknown option exits 2 naming the options', async () => {
  const help = await runCli(['maintenance', 'start', '--help']);
  assert.deepEqual([help.code, help.stderr], [0, '']);
  assert.match(
    help.stdout,
    /^Usage: scaiprobe maintenance start --probes GLOB,\.\.\. \(--for DURATION \| --until TIME\)/,
  );
  const all = await runCli(['--help']);
  assert.equal(all.code, 0);
  assert.match(all.stdout, /^ {2}maintenance end +end a maintenance window now/m);
  const wrong = await runCli(['report', '--tennant', 'acme']);
  assert.equal(wrong.code, 2);
  assert.equal(wrong.stdout, '');
  assert.match(
    wrong.stderr,
    /^scaiprobe report: unknown option --tennant \(did you mean --tenant\?\)\nreport takes: --tenant ID, --out FILE, --since DURATION\|TIME, --config FILE\|DIR, --lab, -h\/--help\n/,
  );
});

test('validate also checks the alerts, indicators and reports sections, with file, line and key path', async () => {
  const bad = join(dir, 'bad-sections.yaml');
  writeFileSync(
    bad,
    'alerts:\n  channels:\n    - { name: hook, type: webhok, url: "http://127.0.0.1:1/" }\nprobes: []\n',
  );
  const result = await runCli(['validate', '--config', bad]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /bad-sections\.yaml:3:\d+: alerts\.channels\[0\]\.type:/);
});

test('validate lists every problem of every file and section at once; an alias bomb is a problem of its file, not a crash', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'scaiprobe-cli-all-'));
  writeFileSync(
    join(folder, 'a.yaml'),
    'scheduler: { jitter: lots }\nprobes:\n  - { name: q, kind: dns, query: { name: "a..b" }, servers: ["127.0.0.1:53"] }\nreports:\n  tenants: { acme: { colour: red } }\nalerts:\n  channels: [{ name: x, type: webhook, url: "ftp://x" }]\nindicators: { warnAt: 3 }\n',
  );
  const levels = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...'bcdefghi'.split('').map((name, i) => `${name}: &${name} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
  ];
  writeFileSync(join(folder, 'b.yaml'), `${levels.join('\n')}\nprobes: []\n`);
  const result = await runCli(['validate', '--config', folder]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /invalid configuration, 6 problems/);
  for (const pattern of [
    /a\.yaml:1:\d+: scheduler\.jitter: /,
    /a\.yaml:3:\d+: probes\[0\]\.query\.name: "a\.\.b" is not a valid DNS name/,
    /a\.yaml:5:\d+: reports\.tenants\.acme: unknown key "colour"/,
    /a\.yaml:7:\d+: alerts\.channels\[0\]\.url: /,
    /a\.yaml:8:\d+: indicators\.warnAt: /,
    /b\.yaml: YAML: aliases expand too far/,
  ]) {
    assert.match(result.stderr, pattern);
  }
});
