// A command's options, read from its arguments with the command's own words for every mistake, and its help text.
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Given more than once, every value is kept (a list, empty by default). */
  multiple?: boolean;
  /** What the value is, for the help: `FILE|DIR`, `NAME,...`. */
  value?: string;
  /** Taken when the option is not given; shown in the help. */
  default?: string;
  description: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S extends { multiple: true }
    ? string[]
    : string;

/** Booleans, lists and options with a default always have a value; the others may be absent. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } | { multiple: true } | { default: string }
    ? ValueOf<O[K]>
    : ValueOf<O[K]> | undefined;
};

export interface Parsed<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: string[];
}

/** A command that runs: its words on the command line (`maintenance start`), options and arguments. */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** What follows the name in the usage line: `[--config FILE|DIR] <channel>`; options are listed below it. */
  synopsis?: string;
  /** A paragraph or two under the usage line: what the command does, its exit codes. */
  description?: string;
  options: O;
  /** Arguments that are not options, at least `min` and at most `max`, as the synopsis names them (`<channel>`). */
  positionals?: { min: number; max: number; name: string };
  /** Lines shown under "Examples:". */
  examples?: string[];
  run(parsed: Parsed<O>): Promise<number>;
}

/** A command as the dispatcher sees it: what its help shows, and a run from the raw arguments. */
export interface CliCommand {
  name: string;
  summary: string;
  synopsis?: string;
  description?: string;
  options: OptionSpecs;
  examples?: string[];
  run(args: string[]): Promise<number>;
}

/** A command made of subcommands (`maintenance start|end|list`). */
export interface CommandGroup {
  name: string;
  summary: string;
  description?: string;
  subcommands: CliCommand[];
}

export const HELP_OPTION = {
  type: 'boolean',
  short: 'h',
  description: 'show this help and exit',
} as const satisfies OptionSpec;

/** A command for the dispatcher: its arguments are read against its options before it runs. */
export function defineCommand<O extends OptionSpecs>(command: Command<O>): CliCommand {
  const { positionals: _positionals, ...shown } = command;
  return { ...shown, run: (args) => command.run(parseCommandArgs(command, args)) };
}

function label(name: string, spec: OptionSpec): string {
  const long = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

/** The options a command takes, in one line: `--config FILE|DIR, --json, -h/--help`. */
export function optionList(options: OptionSpecs): string {
  const all: OptionSpecs = { ...options, help: HELP_OPTION };
  return Object.entries(all)
    .map(
      ([name, spec]) =>
        `${spec.short ? `-${spec.short}/` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`,
    )
    .join(', ');
}

/** The help of one command: usage, what it does, each option with its default, examples. */
export function commandHelp(command: CliCommand): string {
  const all: OptionSpecs = { ...command.options, help: HELP_OPTION };
  const options = Object.entries(all);
  const width = Math.min(30, Math.max(...options.map(([name, spec]) => label(name, spec).length)));
  const lines = [
    `Usage: scaiprobe ${command.name}${command.synopsis ? ` ${command.synopsis}` : ' [options]'}`,
    '',
    command.description ?? command.summary,
    '',
    'Options:',
  ];
  for (const [name, spec] of options) {
    const head = label(name, spec);
    const text = `${spec.description}${spec.default !== undefined ? ` (default: ${spec.default})` : ''}`;
    lines.push(head.length > width ? `  ${head}\n  ${' '.repeat(width)}  ${text}` : `  ${head.padEnd(width)}  ${text}`);
  }
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  return `${lines.join('\n')}\n`;
}

/** The help of a group: its subcommands, one line each. */
export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.subcommands.map((c) => c.name.length));
  const lines = [
    `Usage: scaiprobe ${group.name} <command> [options]`,
    '',
    group.description ?? group.summary,
    '',
    'Commands:',
  ];
  for (const command of group.subcommands) lines.push(`  scaiprobe ${command.name.padEnd(width)}  ${command.summary}`);
  lines.push('', `scaiprobe ${group.name} <command> --help shows a command's options.`);
  return `${lines.join('\n')}\n`;
}

/** Edits from one word to another, two letters swapped counting as one (the commonest typo); options are short, so the plain table is fine. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The closest known name when it is close enough to be a typo. */
export function closest(given: string, known: string[]): string | undefined {
  const ranked = known.map((name) => ({ name, d: distance(given, name) })).sort((x, y) => x.d - y.d);
  const best = ranked[0];
  return best && best.d <= Math.max(1, Math.floor(given.length / 3)) ? best.name : undefined;
}

function unknownOption(command: Pick<CliCommand, 'name' | 'options'>, raw: string): UsageError {
  const known = Object.keys({ ...command.options, help: HELP_OPTION });
  const guess = raw.startsWith('--') ? closest(raw.slice(2).split('=')[0] ?? '', known) : undefined;
  return new UsageError(
    `unknown option ${raw}${guess ? ` (did you mean --${guess}?)` : ''}\n${command.name} takes: ${optionList(command.options)}\nscaiprobe ${command.name} --help explains each`,
  );
}

/** True when the arguments ask for help (before `--`). */
export function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/**
 * Reads a command's arguments. Node's parser is run leniently for its tokens
 * only, so every mistake is reported in this command's words (and with the
 * options it takes) instead of the parser's.
 */
export function parseCommandArgs<O extends OptionSpecs>(command: Command<O>, args: string[]): Parsed<O> {
  const specs: OptionSpecs = command.options;
  const nodeOptions = Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [
      name,
      { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.multiple ? { multiple: true } : {}) },
    ]),
  );
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options: nodeOptions, strict: false, allowPositionals: true, tokens: true }));
  } catch {
    throw new UsageError(
      `cannot read the arguments ${JSON.stringify(args.join(' '))}\nscaiprobe ${command.name} --help shows how to call it`,
    );
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const spec = specs[token.name];
    if (!spec) throw unknownOption(command, token.rawName);
    if (spec.type === 'boolean') {
      if (token.value !== undefined)
        throw new UsageError(`${token.rawName} takes no value (got ${token.rawName}=${token.value})`);
      values[token.name] = true;
      continue;
    }
    // A value that looks like an option was most likely not meant as one (`--junit --json`); `--x=-1` says it is.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      throw new UsageError(
        `${token.rawName} needs a value (${label(token.name, spec)})${token.value !== undefined ? `; to give one starting with "-", write ${token.rawName}=${token.value}` : ''}`,
      );
    }
    values[token.name] = spec.multiple
      ? [...((values[token.name] as string[] | undefined) ?? []), token.value]
      : token.value;
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] !== undefined) continue;
    if (spec.type === 'boolean') values[name] = false;
    else if (spec.multiple) values[name] = [];
    else if (spec.default !== undefined) values[name] = spec.default;
  }
  const { min, max, name } = command.positionals ?? { min: 0, max: 0, name: '' };
  if (positionals.length > max) {
    throw new UsageError(
      `unexpected argument${positionals.length - max === 1 ? '' : 's'} ${positionals
        .slice(max)
        .map((p) => `"${p}"`)
        .join(' ')}\nUsage: scaiprobe ${command.name} ${command.synopsis ?? '[options]'}`,
    );
  }
  if (positionals.length < min)
    throw new UsageError(`${name} is missing\nUsage: scaiprobe ${command.name} ${command.synopsis ?? '[options]'}`);
  return { values: values as OptionValues<O>, positionals };
}
