// TAP (version 13, also valid TAP 14) for CI systems that read it: one test point per probe, details in YAML.
import type { FinishedRun } from '../runner/engine.ts';
import { jsonText } from '../util/text.ts';

/** A YAML scalar: JSON's numbers, booleans, null and double-quoted strings are YAML too. */
function scalar(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(typeof value === 'string' ? value : (jsonText(value) ?? 'undefined'));
}

/** A test point's description may not hold `#` (it would start a directive); `\` escapes. */
function description(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/#/g, '\\#');
}

function diagnostics(run: FinishedRun): string[] {
  const lines = [
    '  ---',
    `  kind: ${scalar(run.kind)}`,
    `  status: ${run.status}`,
    `  durationMs: ${Math.round(run.durationMs)}`,
    `  message: ${scalar(run.message)}`,
  ];
  if (run.error) lines.push(`  code: ${scalar(run.error.code)}`);
  if (run.assertions.length > 0) {
    lines.push('  assertions:');
    for (const a of run.assertions)
      lines.push(`    - expr: ${scalar(a.expr)}`, `      ok: ${a.ok}`, `      actual: ${scalar(a.actual ?? null)}`);
  }
  lines.push('  ...');
  return lines;
}

/** The whole TAP document: a probe that failed is `not ok`; one that warned is `ok` and says so in its YAML. */
export function checkTap(runs: FinishedRun[]): string {
  const lines = ['TAP version 13', `1..${runs.length}`];
  runs.forEach((run, index) => {
    lines.push(`${run.status === 'fail' ? 'not ok' : 'ok'} ${index + 1} - ${description(run.probe)}`);
    if (run.status !== 'pass') lines.push(...diagnostics(run));
  });
  return `${lines.join('\n')}\n`;
}
