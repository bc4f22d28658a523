// Which command the arguments name, its help, and its usage errors (exit 2) in the command's own words.
import { closest, commandHelp, groupHelp, wantsHelp, type CliCommand, type CommandGroup } from './command.ts';
import { CommandFailed, UsageError } from './usage-error.ts';
import { alertCommands } from './commands/alert.ts';
import { checkCommand } from './commands/check.ts';
import { labCommand } from './commands/lab.ts';
import { maintenanceCommands } from './commands/maintenance.ts';
import { reportCommand } from './commands/report.ts';
import { runCommand } from './commands/run.ts';
import { schemaCommand } from './commands/schema.ts';
import { validateCommand } from './commands/validate.ts';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Every command, in the order the help lists them. */
export const COMMANDS: Array<CliCommand | CommandGroup> = [
  runCommand,
  checkCommand,
  validateCommand,
  reportCommand,
  labCommand,
  schemaCommand,
  alertCommands,
  maintenanceCommands,
];

const isGroup = (entry: CliCommand | CommandGroup): entry is CommandGroup => 'subcommands' in entry;

/** Every runnable command, subcommands by their full name (`maintenance start`). */
export function allCommands(): CliCommand[] {
  return COMMANDS.flatMap((entry) => (isGroup(entry) ? entry.subcommands : [entry]));
}

export function mainHelp(): string {
  const commands = allCommands();
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'scaiprobe — synthetic monitoring and deliverability probes for ScaiSend and ScaiDNS',
    '',
    'Usage: scaiprobe <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "scaiprobe <command> --help shows a command's usage and options.",
    'Exit codes: 0 done (every probe passed), 1 a probe or an operation failed, 2 bad usage or configuration.',
    "SCAIPROBE_DEBUG=1 adds the stack to an error; SCAIPROBE_LOG_LEVEL sets check's log level (error).",
    '',
  ].join('\n');
}

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function unknownCommand(given: string, known: string[], where: string): UsageError {
  const guess = closest(given, known);
  return new UsageError(
    `unknown ${where}command "${given}"${guess ? ` (did you mean ${guess}?)` : ''}; the ${where}commands are ${known.join(', ')}\nscaiprobe ${where}--help describes them`,
  );
}

/** The command the arguments name, and the arguments left for it; a group without a subcommand answers with its help. */
function find(argv: string[]): { command: CliCommand; args: string[] } | { group: CommandGroup; help: boolean } {
  const [name = '', ...rest] = argv;
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry)
    throw unknownCommand(
      name,
      COMMANDS.map((c) => c.name),
      '',
    );
  if (!isGroup(entry)) return { command: entry, args: rest };
  const [sub, ...args] = rest;
  if (sub === undefined || sub === '--help' || sub === '-h') return { group: entry, help: sub !== undefined };
  const command = entry.subcommands.find((c) => c.name === `${entry.name} ${sub}`);
  if (!command)
    throw unknownCommand(
      sub,
      entry.subcommands.map((c) => c.name.slice(entry.name.length + 1)),
      `${entry.name} `,
    );
  return { command, args };
}

/** Runs the command the arguments name; returns its exit code. Usage errors are written here, other errors are the caller's. */
export async function dispatch(argv: string[], io: Io): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    io.stderr.write(mainHelp());
    return EXIT_USAGE;
  }
  if (first === '--help' || first === '-h') {
    io.stdout.write(mainHelp());
    return 0;
  }
  // `scaiprobe help maintenance start` is `scaiprobe maintenance start --help`.
  if (first === 'help')
    return argv.length === 1 ? (io.stdout.write(mainHelp()), 0) : dispatch([...argv.slice(1), '--help'], io);
  let found: ReturnType<typeof find>;
  try {
    found = find(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`scaiprobe: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if ('group' in found) {
    (found.help ? io.stdout : io.stderr).write(groupHelp(found.group));
    return found.help ? 0 : EXIT_USAGE;
  }
  const { command, args } = found;
  if (wantsHelp(args)) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof CommandFailed)) throw error;
    io.stderr.write(`scaiprobe ${command.name}: ${error.message}\n`);
    return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
  }
}

/** One sentence for people; the stack only when asked for (SCAIPROBE_DEBUG=1). */
export function explain(error: unknown, debug: boolean): string {
  const { code, message, stack, address, port } = error as {
    code?: string;
    message?: string;
    stack?: string;
    address?: string;
    port?: number;
  };
  if (debug) return stack ?? String(error);
  if (code === 'EADDRINUSE')
    return `${address ?? '127.0.0.1'}:${port ?? '?'} is already in use: is another scaiprobe daemon or lab running? (set SCAIPROBE_DEBUG=1 for details)`;
  return `${message ?? String(error)} (set SCAIPROBE_DEBUG=1 for details)`;
}
