// `scaiprobe check`: the selected probes run once, reported as lines, JSON or JUnit.
import { writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { LoadedConfig, ProbeSpec } from '../../config/load.ts';
import { Engine, type FinishedRun } from '../../runner/engine.ts';
import { createHttpClient } from '../../net/http-client.ts';
import { Redactor } from '../../util/redact.ts';
import type { Clock } from '../../util/clock.ts';
import { formatDuration } from '../../util/duration.ts';
import { checkJson, checkJunit, humanLine } from '../output.ts';
import { UsageError } from '../usage-error.ts';

/** Chooses probes by --only names and --tag; an unknown name is a usage error (a typo must not pass a deploy). */
export function selectProbes(probes: ProbeSpec[], only: string[] | undefined, tags: string[] | undefined): ProbeSpec[] {
  const names = new Set(probes.map((p) => p.name));
  const unknown = (only ?? []).filter((name) => !names.has(name));
  if (unknown.length > 0) throw new UsageError(`no probe named ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...names].join(', ')})`);
  const selected = probes.filter((p) => (!only || only.includes(p.name)) && (!tags || tags.some((tag) => p.tags.includes(tag))));
  if (selected.length === 0) throw new UsageError(tags ? `no probe has tag ${tags.join(' or ')}` : 'the configuration has no probes');
  return selected;
}

/** Live lines in a terminal: a block redrawn in place as probes start and finish. */
class LiveBlock {
  private readonly lines: string[] = [];
  private drawn = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}
  set(index: number, text: string): void {
    this.lines[index] = text;
    this.draw();
  }
  private draw(): void {
    let frame = this.drawn > 0 ? `\u001b[${this.drawn}A` : '';
    for (const line of this.lines) frame += `\r\u001b[2K${(line ?? '').slice(0, Math.max(20, (this.out.columns ?? 120) - 1))}\n`;
    this.out.write(frame);
    this.drawn = this.lines.length;
  }
}

export interface CheckOptions {
  json: boolean;
  junit?: string;
  concurrency: number;
}

/** Runs each selected probe once; returns the exit code (0 all pass or warn, 1 a probe failed). */
export async function runCheck(config: LoadedConfig, probes: ProbeSpec[], options: CheckOptions, deps: { clock: Clock; logger: Logger; stdout: NodeJS.WriteStream }): Promise<number> {
  const http = createHttpClient();
  await http.warmUp?.();
  const engine = new Engine(probes, { clock: deps.clock, logger: deps.logger, http, redactor: new Redactor(config.secrets) });
  const tty = !options.json && Boolean(deps.stdout.isTTY);
  const live = tty ? new LiveBlock(deps.stdout) : undefined;
  const started = deps.clock.monotonic();
  const results: FinishedRun[] = new Array(probes.length);
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const index = next++;
      const spec = probes[index];
      if (!spec) continue;
      live?.set(index, `… ${'run'.padEnd(4)} ${spec.name.padEnd(28)}  running (${spec.kind})`);
      const run = await engine.run(spec.name);
      results[index] = run;
      if (live) live.set(index, humanLine(run, true));
      else if (!options.json) deps.stdout.write(`${humanLine(run, false)}\n`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency, probes.length) }, worker));
  } finally {
    await engine.close();
  }
  const elapsed = deps.clock.monotonic() - started;
  const report = checkJson(results);
  if (options.junit) writeFileSync(options.junit, checkJunit(results, elapsed));
  if (options.json) deps.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const { pass, warn, fail } = report.summary;
    deps.stdout.write(`\n${pass} passed, ${warn} warned, ${fail} failed in ${formatDuration(elapsed)}\n`);
  }
  return report.summary.fail > 0 ? 1 : 0;
}
