// Loading the configuration for a command: the --config option and its errors as one message.
import {
  ConfigError,
  formatIssue,
  readConfig,
  sortIssues,
  type ConfigIssue,
  type LoadedConfig,
} from '../config/load.ts';
import { parseReportsConfig } from '../reports/config.ts';
import { readAlertingSections } from '../alerting/wire.ts';
import type { OptionSpec } from './command.ts';
import { UsageError } from './usage-error.ts';

export const CONFIG_OPTION = {
  type: 'string',
  value: 'FILE|DIR',
  default: 'probes',
  description: 'a YAML file, or a folder whose *.yaml files are loaded together',
} as const satisfies OptionSpec;

/** The problems a section's owner reports by throwing ConfigError, as a list. */
function problemsOf(check: () => unknown): ConfigIssue[] {
  try {
    check();
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
}

/**
 * Loads a configuration and validates every section, those owned by later
 * parts (reports, alerts, indicators) included. Throws one ConfigError with
 * every problem of every file and section, in file and line order.
 */
export function loadWholeConfig(target: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { config, issues, files } = readConfig(target, env);
  issues.push(
    ...problemsOf(() => parseReportsConfig(config.sections.reports, config.files, config.server)),
    ...problemsOf(() => readAlertingSections(config)),
  );
  if (issues.length > 0) throw new ConfigError(sortIssues(files, issues));
  return config;
}

/** A command's configuration: its warnings on stderr; every problem in one usage error (exit 2). */
export function loadForCommand(configPath: string, stderr: NodeJS.WritableStream = process.stderr): LoadedConfig {
  try {
    const config = loadWholeConfig(configPath);
    for (const warning of config.warnings) stderr.write(`warning: ${warning}\n`);
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const count = `${error.issues.length} problem${error.issues.length === 1 ? '' : 's'}`;
    throw new UsageError(
      `${configPath}: invalid configuration, ${count}:\n${error.issues.map((issue) => `  ${formatIssue(issue)}`).join('\n')}`,
    );
  }
}
