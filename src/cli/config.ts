import { ConfigError, readConfig, sortIssues, type ConfigIssue, type LoadedConfig } from '../config/load.ts';
import { parseReportsConfig } from '../reports/config.ts';
import { readAlertingSections } from '../alerting/wire.ts';

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
  issues.push(...problemsOf(() => parseReportsConfig(config.sections.reports, config.files, config.server)), ...problemsOf(() => readAlertingSections(config)));
  if (issues.length > 0) throw new ConfigError(sortIssues(files, issues));
  return config;
}
