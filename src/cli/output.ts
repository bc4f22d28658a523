// Output of `scaiprobe check`: the --json shape, JUnit XML and the human line per probe.
import type { FinishedRun } from '../runner/engine.ts';

/** The documented shape of `scaiprobe check --json`; keep it stable. */
export function checkJson(runs: FinishedRun[]) {
  return {
    results: runs.map((run) => ({
      name: run.probe,
      kind: run.kind,
      status: run.status,
      durationMs: run.durationMs,
      message: run.message,
      error: run.error ? { code: run.error.code, message: run.error.message } : null,
      observations: run.observations,
      assertions: run.assertions.map((a) => ({
        expr: a.expr,
        ok: a.ok,
        actual: a.actual,
        ...(a.soft ? { soft: true } : {}),
      })),
    })),
    summary: {
      pass: runs.filter((r) => r.status === 'pass').length,
      warn: runs.filter((r) => r.status === 'warn').length,
      fail: runs.filter((r) => r.status === 'fail').length,
    },
  };
}

const xml = (text: string) =>
  text
    .replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** JUnit XML: one testcase per probe; fail → <failure>, warn → passes with a system-out note. */
export function checkJunit(runs: FinishedRun[], durationMs: number): string {
  const failures = runs.filter((r) => r.status === 'fail').length;
  const cases = runs.map((run) => {
    const head = `    <testcase classname="scaiprobe.${xml(run.kind)}" name="${xml(run.probe)}" time="${(run.durationMs / 1000).toFixed(3)}"`;
    if (run.status === 'fail') {
      const type = run.error?.code ?? 'ASSERTION';
      return `${head}>\n      <failure type="${xml(type)}" message="${xml(run.message)}">${xml(run.assertions.map((a) => `${a.ok ? 'ok  ' : 'FAIL'} ${a.expr} (actual: ${JSON.stringify(a.actual)})`).join('\n'))}</failure>\n    </testcase>`;
    }
    if (run.status === 'warn')
      return `${head}>\n      <system-out>${xml(`warning: ${run.message}`)}</system-out>\n    </testcase>`;
    return `${head}/>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="scaiprobe check" tests="${runs.length}" failures="${failures}" time="${(durationMs / 1000).toFixed(3)}">\n  <testsuite name="scaiprobe" tests="${runs.length}" failures="${failures}" errors="0" skipped="0" time="${(durationMs / 1000).toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

const COLORS = { pass: '\u001b[32m', warn: '\u001b[33m', fail: '\u001b[31m', dim: '\u001b[2m', reset: '\u001b[0m' };
const MARKS = { pass: '✔', warn: '!', fail: '✘' };

/** One human line per run: mark, name, duration, message. */
export function humanLine(run: FinishedRun, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `${code}${text}${COLORS.reset}` : text);
  const mark = paint(COLORS[run.status], `${MARKS[run.status]} ${run.status.padEnd(4)}`);
  return `${mark} ${run.probe.padEnd(28)} ${paint(COLORS.dim, `${Math.round(run.durationMs)}ms`.padStart(7))}  ${run.message}`;
}
