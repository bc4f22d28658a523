// GitHub Actions: workflow-command annotations for probes that failed or warned, and a Markdown job summary.
import type { FinishedRun } from '../runner/engine.ts';
import { formatDuration } from '../core/duration.ts';

/** GitHub shows this many annotations of one kind per step, and drops the rest. */
export const ANNOTATIONS_PER_STEP = 10;
/** A step's summary may take 1 MiB; the table stops short of it. */
export const SUMMARY_BUDGET_BYTES = 1_000_000;
const MESSAGE_CELL_CHARS = 500;

/** A workflow command's message: `%`, CR and LF are what would end or garble it. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow command's property value: also `:` (ends the properties) and `,` (separates them). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function messageOf(run: FinishedRun): string {
  return run.message || `probe ${run.probe} ${run.status === 'fail' ? 'failed' : 'warned'}`;
}

function annotationsOf(runs: FinishedRun[], status: 'fail' | 'warn'): string[] {
  const command = status === 'fail' ? 'error' : 'warning';
  const matching = runs.filter((run) => run.status === status);
  // Past the step's limit GitHub drops annotations without a word: the last one shown says how many more there are.
  const shown = matching.length > ANNOTATIONS_PER_STEP ? matching.slice(0, ANNOTATIONS_PER_STEP - 1) : matching;
  const lines = shown.map((run) => `::${command} title=${escapeProperty(run.probe)}::${escapeData(messageOf(run))}`);
  const rest = matching.length - shown.length;
  if (rest > 0)
    lines.push(
      `::${command} title=${escapeProperty(`${rest} more probes ${status === 'fail' ? 'failed' : 'warned'}`)}::${escapeData('see the job summary and the log for each of them')}`,
    );
  return lines;
}

/** `::error` for each failed probe, `::warning` for each warning, within what a step shows. */
export function annotations(runs: FinishedRun[]): string[] {
  return [...annotationsOf(runs, 'fail'), ...annotationsOf(runs, 'warn')];
}

/** A Markdown table cell that shows the text as it is: no column break, no line break, no markup. */
export function escapeCell(text: string): string {
  return text
    .replace(/[\\`*_[\]~|#!]/g, (c) => `\\${c}`)
    .replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] ?? c)
    .replace(/\r\n|\r|\n/g, '<br>');
}

const MARK = { fail: '❌ fail', warn: '⚠️ warn', pass: '✅ pass' } as const;
const ORDER = { fail: 0, warn: 1, pass: 2 } as const;

/** The job summary: counts, then one row per probe, failing first, within the step's budget. */
export function jobSummary(runs: FinishedRun[], elapsedMs: number): string {
  const count = (status: FinishedRun['status']) => runs.filter((run) => run.status === status).length;
  const head = [
    '## scaiprobe check',
    '',
    `**${count('fail')} failed**, ${count('warn')} warned, ${count('pass')} passed in ${formatDuration(elapsedMs)}`,
    '',
    '| Status | Probe | Kind | Duration | Message |',
    '| --- | --- | --- | ---: | --- |',
  ];
  const sorted = runs
    .map((run, index) => ({ run, index }))
    .sort((a, b) => ORDER[a.run.status] - ORDER[b.run.status] || a.index - b.index);
  let size = Buffer.byteLength(head.join('\n'));
  const rows: string[] = [];
  for (const { run } of sorted) {
    const message =
      run.message.length > MESSAGE_CELL_CHARS ? `${run.message.slice(0, MESSAGE_CELL_CHARS)}…` : run.message;
    const row = `| ${MARK[run.status]} | ${escapeCell(run.probe)} | ${escapeCell(run.kind)} | ${formatDuration(run.durationMs)} | ${escapeCell(message)} |`;
    size += Buffer.byteLength(row) + 1;
    if (size > SUMMARY_BUDGET_BYTES - 200) break;
    rows.push(row);
  }
  const left = sorted.length - rows.length;
  const tail =
    left > 0
      ? ['', `${left} more probes are not listed here (a step summary holds 1 MiB); the job log has every one.`]
      : [];
  return `${[...head, ...rows, ...tail].join('\n')}\n`;
}
