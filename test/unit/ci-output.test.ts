import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  annotations,
  escapeCell,
  escapeData,
  escapeProperty,
  jobSummary,
  SUMMARY_BUDGET_BYTES,
} from '../../src/cli/github.ts';
import { checkTap } from '../../src/cli/tap.ts';
import type { FinishedRun } from '../../src/runner/engine.ts';

function run(
  probe: string,
  status: FinishedRun['status'],
  message: string,
  extra: Partial<FinishedRun> = {},
): FinishedRun {
  return {
    uid: probe,
    probe,
    kind: 'http',
    startedAt: 0,
    durationMs: 42,
    status,
    attempts: 1,
    message,
    error: null,
    observations: {},
    assertions: [],
    phases: {},
    items: [],
    changes: [],
    ...extra,
  };
}

test('workflow commands: data escapes %, CR and LF; a property also : and , (and % first, so an escape in the text stays text)', () => {
  assert.equal(escapeData('50%\r\nnext: a, b'), '50%25%0D%0Anext: a, b');
  assert.equal(escapeProperty('api:ready, 50%\n'), 'api%3Aready%2C 50%25%0A');
  assert.equal(escapeData('literally %0A'), 'literally %250A');
});

test("annotations: ::error for failures and ::warning for warnings, titled with the probe; past a step's 10, one line says how many more", () => {
  const lines = annotations([
    run('ok', 'pass', 'fine'),
    run('api:ready', 'fail', 'HTTP 503\nbody: 50% down'),
    run('slow', 'warn', 'took 2s, limit 1s'),
  ]);
  assert.deepEqual(lines, [
    '::error title=api%3Aready::HTTP 503%0Abody: 50%25 down',
    '::warning title=slow::took 2s, limit 1s',
  ]);
  const many = annotations(Array.from({ length: 12 }, (_, i) => run(`p${i}`, 'fail', 'down')));
  assert.equal(many.length, 10);
  assert.equal(many[8], '::error title=p8::down');
  assert.equal(many[9], '::error title=3 more probes failed::see the job summary and the log for each of them');
  assert.deepEqual(annotations([run('quiet', 'fail', '')]), ['::error title=quiet::probe quiet failed']);
});

test('a summary cell shows its text as it is: no column or line break, no markup', () => {
  assert.equal(escapeCell('a|b'), 'a\\|b');
  assert.equal(escapeCell('one\ntwo\r\nthree'), 'one<br>two<br>three');
  assert.equal(
    escapeCell('<script>x</script> & *bold* [link](u) `code`'),
    '&lt;script&gt;x&lt;/script&gt; &amp; \\*bold\\* \\[link\\](u) \\`code\\`',
  );
});

test('the job summary: counts, then a row per probe, failing first, cells escaped', () => {
  const summary = jobSummary(
    [run('a', 'pass', 'HTTP 200'), run('b', 'fail', 'expected "x|y"\ngot "z"'), run('c', 'warn', 'slow')],
    1234,
  );
  const lines = summary.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 6), [
    '## scaiprobe check',
    '',
    '**1 failed**, 1 warned, 1 passed in 1.23s',
    '',
    '| Status | Probe | Kind | Duration | Message |',
    '| --- | --- | --- | ---: | --- |',
  ]);
  assert.deepEqual(lines.slice(6), [
    '| ❌ fail | b | http | 42ms | expected "x\\|y"<br>got "z" |',
    '| ⚠️ warn | c | http | 42ms | slow |',
    '| ✅ pass | a | http | 42ms | HTTP 200 |',
  ]);
  // Every row has the header's five columns: an escaped | does not split a cell.
  for (const line of lines.slice(4)) assert.equal(line.replace(/\\\|/g, '').split('|').length - 2, 5, line);
});

test("the job summary stays within a step's 1 MiB, failures first, and says how many rows it left out", () => {
  const runs = Array.from({ length: 20_000 }, (_, i) =>
    run(`probe-${i}`, i % 1000 === 999 ? 'fail' : 'pass', 'x'.repeat(300)),
  );
  const summary = jobSummary(runs, 60_000);
  assert.ok(Buffer.byteLength(summary) <= SUMMARY_BUDGET_BYTES, `${Buffer.byteLength(summary)} bytes`);
  const rows = summary
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| Status') && !line.startsWith('| ---'));
  assert.ok(
    rows.slice(0, 20).every((row) => row.startsWith('| ❌ fail')),
    'the 20 failures lead',
  );
  assert.match(summary, new RegExp(`\\n${20_000 - rows.length} more probes are not listed here`));
});

test('TAP: the plan, a test point per probe in order, YAML details for those that did not pass', () => {
  const tap = checkTap([
    run('ready', 'pass', 'HTTP 200'),
    run('down', 'fail', 'CONNECT: refused', {
      error: { code: 'CONNECT', message: 'refused' },
      assertions: [{ expr: 'status == 200', ok: false, actual: null, soft: false }],
    }),
    run('odd#name\\', 'warn', 'said "hi"\nand left', {
      assertions: [{ expr: 'json.a == 1', ok: false, actual: ['x', 'y'], soft: true }],
    }),
  ]);
  assert.equal(
    tap,
    [
      'TAP version 13',
      '1..3',
      'ok 1 - ready',
      'not ok 2 - down',
      '  ---',
      '  kind: "http"',
      '  status: fail',
      '  durationMs: 42',
      '  message: "CONNECT: refused"',
      '  code: "CONNECT"',
      '  assertions:',
      '    - expr: "status == 200"',
      '      ok: false',
      '      actual: null',
      '  ...',
      'ok 3 - odd\\#name\\\\',
      '  ---',
      '  kind: "http"',
      '  status: warn',
      '  durationMs: 42',
      '  message: "said \\"hi\\"\\nand left"',
      '  assertions:',
      '    - expr: "json.a == 1"',
      '      ok: false',
      '      actual: "[\\"x\\",\\"y\\"]"',
      '  ...',
      '',
    ].join('\n'),
  );
});
