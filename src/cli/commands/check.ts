// `scaiprobe check`: the selected probes run once, reported as lines, JSON, TAP or JUnit, and to GitHub Actions.
import { appendFileSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { LoadedConfig, ProbeSpec } from '../../config/load.ts';
import { Engine, type FinishedRun } from '../../runner/engine.ts';
import { producersFirst, producersOf } from '../../runner/dependencies.ts';
import { createHttpClient } from '../../protocols/http/client.ts';
import { Redactor } from '../../util/redact.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
import { formatDuration } from '../../core/duration.ts';
import { createLogger } from '../../util/logger.ts';
import { defineCommand, type OptionSpecs } from '../command.ts';
import { CONFIG_OPTION, loadForCommand } from '../config.ts';
import { annotations, jobSummary } from '../github.ts';
import { checkJson, checkJunit, humanLine } from '../output.ts';
import { checkTap } from '../tap.ts';
import { UsageError } from '../usage-error.ts';
import { exportLabEnv, LAB_CREDENTIALS_OPTION } from './lab.ts';

/** Chooses probes by --only names and --tag; an unknown name is a usage error (a typo must not pass a deploy). */
export function selectProbes(probes: ProbeSpec[], only: string[] | undefined, tags: string[] | undefined): ProbeSpec[] {
  const names = new Set(probes.map((p) => p.name));
  const unknown = (only ?? []).filter((name) => !names.has(name));
  if (unknown.length > 0)
    throw new UsageError(`no probe named ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...names].join(', ')})`);
  const selected = probes.filter(
    (p) => (!only || only.includes(p.name)) && (!tags || tags.some((tag) => p.tags.includes(tag))),
  );
  if (selected.length === 0)
    throw new UsageError(tags ? `no probe has tag ${tags.join(' or ')}` : 'the configuration has no probes');
  return selected;
}

/** Live lines in a terminal: a block redrawn in place as probes start and finish. */
class LiveBlock {
  // Sparse until every probe has reported: a hole is a blank line.
  private readonly lines: Array<string | undefined> = [];
  private drawn = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}
  set(index: number, text: string): void {
    this.lines[index] = text;
    this.draw();
  }
  private draw(): void {
    let frame = this.drawn > 0 ? `\u001b[${this.drawn}A` : '';
    for (const line of this.lines)
      frame += `\r\u001b[2K${(line ?? '').slice(0, Math.max(20, ((this.out.columns as number | undefined) ?? 120) - 1))}\n`;
    this.out.write(frame);
    this.drawn = this.lines.length;
  }
}

export const CHECK_FORMATS = ['human', 'json', 'tap'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

export interface CheckOptions {
  format: CheckFormat;
  junit?: string;
  concurrency: number;
  /** In GitHub Actions: annotations for failed probes, and the job summary appended to this file (`$GITHUB_STEP_SUMMARY`) when set. */
  github?: { summaryPath?: string };
}

export interface CheckDeps {
  clock: Clock;
  logger: Logger;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
}

/** Runs each selected probe once, `concurrency` at a time; in a terminal, as a live block. */
async function runAll(
  config: LoadedConfig,
  probes: ProbeSpec[],
  options: CheckOptions,
  deps: CheckDeps,
): Promise<FinishedRun[]> {
  const http = createHttpClient();
  await http.warmUp?.();
  const engine = new Engine(probes, {
    clock: deps.clock,
    logger: deps.logger,
    http,
    redactor: new Redactor(config.secrets),
  });
  const live = options.format === 'human' && deps.stdout.isTTY ? new LiveBlock(deps.stdout) : undefined;
  const results = new Array<FinishedRun>(probes.length);
  // A probe that reads another's output (a browser probe's mail probe) runs once that one has run:
  // producers are taken first, so the run waited for is always under way already.
  const producers = producersOf(probes);
  const order = producersFirst(probes, producers);
  const runs = new Map<string, Promise<FinishedRun>>();
  const runOne = async (spec: ProbeSpec, index: number): Promise<FinishedRun> => {
    const before = producers.get(spec.name) ?? [];
    if (before.length > 0) {
      live?.set(index, `… ${'wait'.padEnd(4)} ${spec.name.padEnd(28)}  waiting for ${before.join(', ')}`);
      await Promise.all(before.map((name) => runs.get(name) ?? Promise.resolve()));
    }
    live?.set(index, `… ${'run'.padEnd(4)} ${spec.name.padEnd(28)}  running (${spec.kind})`);
    const run = await engine.run(spec.name);
    results[index] = run;
    if (live) live.set(index, humanLine(run, true));
    else if (options.format === 'human') deps.stdout.write(`${humanLine(run, false)}\n`);
    return run;
  };
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const spec = order[next++];
      if (!spec) continue;
      const run = runOne(spec, probes.indexOf(spec));
      runs.set(spec.name, run);
      await run;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, probes.length) }, worker));
  } finally {
    await engine.close();
  }
  return results;
}

/** What GitHub Actions reads: annotations in the log (on stderr when stdout carries JSON or TAP), the summary in its file. */
function reportToGitHub(results: FinishedRun[], elapsed: number, options: CheckOptions, deps: CheckDeps): void {
  const lines = annotations(results);
  if (lines.length > 0) (options.format === 'human' ? deps.stdout : deps.stderr).write(`${lines.join('\n')}\n`);
  const path = options.github?.summaryPath;
  if (!path) return;
  try {
    appendFileSync(path, jobSummary(results, elapsed));
  } catch (error) {
    // The check's outcome is the probes', not the summary's.
    deps.stderr.write(`scaiprobe: could not write the job summary to ${path}: ${(error as Error).message}\n`);
  }
}

/** Runs each selected probe once; returns the exit code (0 all pass or warn, 1 a probe failed). */
export async function runCheck(
  config: LoadedConfig,
  probes: ProbeSpec[],
  options: CheckOptions,
  deps: CheckDeps,
): Promise<number> {
  const started = deps.clock.monotonic();
  const results = await runAll(config, probes, options, deps);
  const elapsed = deps.clock.monotonic() - started;
  const report = checkJson(results);
  if (options.junit) writeFileSync(options.junit, checkJunit(results, elapsed));
  if (options.format === 'json') deps.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.format === 'tap') deps.stdout.write(checkTap(results));
  else {
    const { pass, warn, fail } = report.summary;
    deps.stdout.write(`\n${pass} passed, ${warn} warned, ${fail} failed in ${formatDuration(elapsed)}\n`);
  }
  if (options.github) reportToGitHub(results, elapsed, options, deps);
  return report.summary.fail > 0 ? 1 : 0;
}

const CHECK_OPTIONS = {
  config: CONFIG_OPTION,
  only: {
    type: 'string',
    multiple: true,
    value: 'NAME,...',
    description: 'run only the probes named (an unknown name is an error)',
  },
  tag: {
    type: 'string',
    multiple: true,
    value: 'TAG',
    description: 'run only probes with this tag (repeat it or list them with commas: any of them)',
  },
  format: {
    type: 'string',
    value: 'human|json|tap',
    default: 'human',
    description: 'print a line per probe, the documented JSON, or TAP',
  },
  json: { type: 'boolean', description: 'the same as --format json' },
  junit: { type: 'string', value: 'FILE', description: 'also write JUnit XML to FILE' },
  lab: LAB_CREDENTIALS_OPTION,
} as const satisfies OptionSpecs;

const list = (values: string[]) =>
  values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);

export const checkCommand = defineCommand({
  name: 'check',
  summary: 'run the selected probes once and report (exit 1 when one fails)',
  synopsis: '[--config FILE|DIR] [--only NAME,...] [--tag TAG] [--format human|json|tap] [--junit FILE] [--lab]',
  description: [
    'Runs the selected probes once, a few at a time, and prints each result. Exit 0 when every probe passes',
    'or warns, 1 when one fails, 2 for bad usage or an invalid configuration.',
    'In GitHub Actions (GITHUB_ACTIONS=true) it also appends a Markdown table of the results to the job summary',
    '($GITHUB_STEP_SUMMARY) and prints an ::error annotation for each failed probe (::warning for each warning).',
  ].join('\n'),
  options: CHECK_OPTIONS,
  examples: [
    'scaiprobe check --tag smoke',
    'scaiprobe check --only ready,live --json',
    'scaiprobe check --format tap > probes.tap',
    'scaiprobe check --junit report.xml',
  ],
  async run({ values }) {
    if (values.json && values.format !== 'human' && values.format !== 'json')
      throw new UsageError(`--json and --format ${values.format} ask for two formats; give one`);
    const format = values.json ? 'json' : values.format;
    if (!CHECK_FORMATS.includes(format as CheckFormat))
      throw new UsageError(`--format must be ${CHECK_FORMATS.join(', ')} (got ${format})`);
    if (values.lab) await exportLabEnv();
    const config = loadForCommand(values.config);
    const only = list(values.only);
    const tags = list(values.tag);
    const probes = selectProbes(config.probes, only.length ? only : undefined, tags.length ? tags : undefined);
    const logger = createLogger({
      level: process.env.SCAIPROBE_LOG_LEVEL ?? 'error',
      secrets: config.secrets,
      destination: process.stderr,
    });
    const github =
      process.env.GITHUB_ACTIONS === 'true'
        ? { ...(process.env.GITHUB_STEP_SUMMARY ? { summaryPath: process.env.GITHUB_STEP_SUMMARY } : {}) }
        : undefined;
    return runCheck(
      config,
      probes,
      {
        format: format as CheckFormat,
        ...(values.junit ? { junit: values.junit } : {}),
        concurrency: config.scheduler.concurrency,
        ...(github ? { github } : {}),
      },
      { clock: systemClock, logger, stdout: process.stdout, stderr: process.stderr },
    );
  },
});
