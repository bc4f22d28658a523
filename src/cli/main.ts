#!/usr/bin/env node
// The `scaiprobe` command line: arguments read, the configuration loaded, each command handed to src/cli/commands/.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { ConfigError, formatIssue, type LoadedConfig } from '../config/load.ts';
import { loadWholeConfig } from './config.ts';
import { createLogger } from '../util/logger.ts';
import { systemClock } from '../util/clock.ts';
import { UsageError } from './usage-error.ts';
import { runAlertCommand } from './commands/alert.ts';
import { runCheck, selectProbes } from './commands/check.ts';
import { startDaemon } from './commands/daemon.ts';
import { exportLabEnv, startLabFor } from './commands/lab.ts';
import { runReportCommand } from './commands/report.ts';
import { describeValidConfig } from './commands/validate.ts';
import { runSchemaCommand } from './commands/schema.ts';
import { guardProcess } from './process-guards.ts';

const USAGE = `scaiprobe — synthetic monitoring and deliverability probes for ScaiSend and ScaiDNS

Usage:
  scaiprobe run      [--config FILE|DIR] [--lab]      run every probe on its schedule (daemon)
  scaiprobe check    [--config FILE|DIR] [--only NAME,...] [--tag T] [--json] [--junit FILE] [--lab]
                                                      run the selected probes once; exit 0 all pass, 1 a probe failed, 2 bad usage/config
  scaiprobe validate [--config FILE|DIR]              check a configuration without running it
  scaiprobe report   --tenant ID [--since 30d] --out FILE.html|FILE.pdf|FILE.json [--config FILE|DIR]
                                                      a tenant's deliverability report from the database
  scaiprobe lab      [--dir DIR]                      start the local lab (ScaiSend/ScaiDNS stand-ins and real servers)
  scaiprobe alert test <channel> [--config FILE|DIR] [--lab]   send a test notification to one alert channel
  scaiprobe schema                                    print the configuration's JSON Schema (for editors; scaiprobe.schema.json)

Options:
  --config FILE|DIR  a YAML file, or a folder whose *.yaml files are loaded together (default: probes/)
  --lab              run: also start the local lab in the same process; check, validate, report, alert test:
                     use the lab's credentials for the configuration's \${...} references
  -h, --help         this text
`;

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function fail(message: string): never {
  process.stderr.write(`scaiprobe: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function load(configPath: string): LoadedConfig {
  try {
    // Sections owned by later parts are validated here too, so `validate` and `check` catch them.
    const config = loadWholeConfig(configPath);
    for (const warning of config.warnings) process.stderr.write(`warning: ${warning}\n`);
    return config;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`scaiprobe: ${configPath}: invalid configuration, ${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}:\n`);
      for (const issue of error.issues) process.stderr.write(`  ${formatIssue(issue)}\n`);
      process.exit(EXIT_USAGE);
    }
    throw error;
  }
}

function onSignals(stop: () => Promise<void>): void {
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        process.stderr.write('scaiprobe: second signal, exiting now\n');
        process.exit(130);
      }
      signalled = true;
      stop().then(
        () => process.exit(EXIT_OK),
        (error: unknown) => {
          process.stderr.write(`scaiprobe: stop failed: ${String(error)}\n`);
          process.exit(EXIT_FAILED);
        },
      );
    });
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? EXIT_OK : EXIT_USAGE;
  }
  if (command === 'alert') return runAlertCommand(rest);
  if (command === 'schema') return runSchemaCommand(rest);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        config: { type: 'string', default: 'probes' },
        only: { type: 'string', multiple: true },
        tag: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
        junit: { type: 'string' },
        lab: { type: 'boolean', default: false },
        dir: { type: 'string' },
        tenant: { type: 'string' },
        since: { type: 'string', default: '30d' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  const configPath = values.config ?? 'probes';

  switch (command) {
    case 'validate': {
      if (values.lab) await exportLabEnv();
      process.stdout.write(describeValidConfig(configPath, load(configPath)));
      return EXIT_OK;
    }
    case 'check': {
      if (values.lab) await exportLabEnv();
      const config = load(configPath);
      const only = values.only?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
      const tags = values.tag?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
      let probes;
      try {
        probes = selectProbes(config.probes, only?.length ? only : undefined, tags?.length ? tags : undefined);
      } catch (error) {
        if (error instanceof UsageError) fail(error.message);
        throw error;
      }
      const logger = createLogger({ level: process.env.SCAIPROBE_LOG_LEVEL ?? 'error', secrets: config.secrets, destination: process.stderr });
      return runCheck(config, probes, { json: values.json ?? false, ...(values.junit ? { junit: values.junit } : {}), concurrency: config.scheduler.concurrency }, { clock: systemClock, logger, stdout: process.stdout });
    }
    case 'run': {
      const lab = values.lab ? await startLabFor(values.dir, 'info') : undefined;
      if (lab) for (const line of lab.describe()) process.stderr.write(`lab: ${line}\n`);
      if (!existsSync(configPath)) fail(`${configPath}: no such file or directory`);
      const config = load(configPath);
      const logger = createLogger({ level: config.log.level, secrets: config.secrets, destination: process.stdout });
      guardProcess(logger);
      const daemon = await startDaemon(config, { clock: systemClock, logger });
      process.stderr.write(`scaiprobe: ${config.probes.length} probes running; API and /metrics on ${daemon.url} (database ${config.store.path})\n`);
      onSignals(async () => {
        await daemon.stop();
        await lab?.stop();
      });
      return new Promise<number>(() => undefined);
    }
    case 'report': {
      if (!values.tenant) fail('report needs --tenant ID');
      if (!values.out) fail('report needs --out FILE.html, FILE.pdf or FILE.json');
      if (values.lab) await exportLabEnv();
      const config = load(configPath);
      try {
        const written = await runReportCommand(config, { tenant: values.tenant, since: values.since ?? '30d', out: values.out }, systemClock);
        process.stdout.write(`${written}\n`);
        return EXIT_OK;
      } catch (error) {
        if (error instanceof UsageError) fail(error.message);
        throw error;
      }
    }
    case 'lab': {
      const lab = await startLabFor(values.dir, 'info');
      process.stdout.write(`scaiprobe lab is running (Ctrl-C stops it):\n${lab.describe().map((line) => `  ${line}\n`).join('')}`);
      onSignals(() => lab.stop());
      return new Promise<number>(() => undefined);
    }
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

/** One sentence for people; the stack only when asked for (SCAIPROBE_DEBUG=1). */
function explain(error: unknown): string {
  const { code, message, stack, address, port } = error as { code?: string; message?: string; stack?: string; address?: string; port?: number };
  if (process.env.SCAIPROBE_DEBUG === '1') return stack ?? String(error);
  if (code === 'EADDRINUSE') return `${address ?? '127.0.0.1'}:${port ?? '?'} is already in use: is another scaiprobe daemon or lab running? (set SCAIPROBE_DEBUG=1 for details)`;
  return `${message ?? String(error)} (set SCAIPROBE_DEBUG=1 for details)`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`scaiprobe: ${explain(error)}\n`);
    process.exit(EXIT_FAILED);
  },
);
