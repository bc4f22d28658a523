// Fuzzes every parser that reads outside or operator input with a million
// generated inputs each (test/fuzz/) and prints a table per parser: inputs,
// exceptions the parser should not have thrown, invariants that did not
// hold, and the slowest input. Exit 1 when anything was found.
//
//   npm run fuzz                                  every target, 1,000,000 inputs each
//   npm run fuzz -- --only dns-reply,spf --inputs 20000 --seed 7
//   npm run fuzz -- --json fuzz-results.json      also write the figures as JSON
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { FUZZ_TARGETS } from '../test/fuzz/targets.ts';
import { fuzz, shortInput, TIME_LIMIT_MS, type FuzzStats } from '../test/fuzz/harness.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
  strict: true,
});

const inputs = Number(values.inputs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
const only = values.only?.split(',').map((name) => name.trim());
const unknown = only?.filter((name) => !FUZZ_TARGETS.some((target) => target.name === name)) ?? [];
if (!Number.isInteger(inputs) || inputs < 1 || !Number.isInteger(seed) || unknown.length > 0) {
  console.error(
    unknown.length > 0
      ? `unknown target ${unknown.join(', ')} (known: ${FUZZ_TARGETS.map((t) => t.name).join(', ')})`
      : 'usage: fuzz.ts [--inputs N] [--seed N] [--only a,b] [--json FILE]',
  );
  process.exit(2);
}

const targets = FUZZ_TARGETS.filter((target) => !only || only.includes(target.name));
const seconds = (ms: number) => `${(ms / 1000).toFixed(0)}s`;

function table(stats: FuzzStats): string {
  const rows: Array<[string, string]> = [
    ['inputs', stats.inputs.toLocaleString('en-US')],
    ['exceptions', String(stats.exceptions)],
    ['invariant violations', String(stats.violations)],
    [`inputs over ${TIME_LIMIT_MS} ms`, String(stats.slow)],
    ['slowest input ms', stats.slowestMs.toFixed(2)],
    ['inputs per second', Math.round(stats.inputs / (stats.elapsedMs / 1000)).toLocaleString('en-US')],
    ['time', seconds(stats.elapsedMs)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `| ${label.padEnd(width)} | ${value.padStart(12)} |`);
  const rule = `|${'-'.repeat(width + 2)}|${'-'.repeat(14)}|`;
  const findings = stats.findings.map(
    (finding) => `  ${finding.type}: ${finding.detail}\n    input: ${shortInput(finding.input)}`,
  );
  return [
    `${stats.target}  (seed ${seed})`,
    rule,
    ...lines,
    rule,
    `  slowest: ${stats.slowestInput.slice(0, 200)}`,
    ...findings,
  ].join('\n');
}

console.log(
  `fuzzing ${targets.map((t) => t.name).join(', ')}: ${inputs.toLocaleString('en-US')} inputs each, seed ${seed}, limit ${TIME_LIMIT_MS} ms per input\n`,
);
const results: FuzzStats[] = [];
for (const target of targets) {
  const stats = await fuzz(target, {
    inputs,
    seed,
    progressEvery: Math.max(1000, Math.floor(inputs / 10)),
    onProgress: (s) =>
      console.error(
        `  ${target.name}: ${s.inputs.toLocaleString('en-US')} inputs, ${s.exceptions} exceptions, ${s.violations} violations, slowest ${s.slowestMs.toFixed(1)} ms, ${seconds(s.elapsedMs)}`,
      ),
  });
  results.push(stats);
  console.log(`${table(stats)}\n`);
}

console.log(`| parser | subject | inputs | exceptions | violations | over ${TIME_LIMIT_MS} ms | slowest ms |`);
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const stats of results) {
  const subject = targets.find((t) => t.name === stats.target)?.subject ?? '';
  console.log(
    `| ${stats.target} | ${subject} | ${stats.inputs.toLocaleString('en-US')} | ${stats.exceptions} | ${stats.violations} | ${stats.slow} | ${stats.slowestMs.toFixed(2)} |`,
  );
}
if (values.json)
  writeFileSync(values.json, `${JSON.stringify({ seed, inputs, limitMs: TIME_LIMIT_MS, results }, null, 2)}\n`);
process.exit(results.some((s) => s.exceptions > 0 || s.violations > 0 || s.slow > 0) ? 1 : 0);
