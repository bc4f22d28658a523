// `scaiprobe validate`: a configuration checked without running it, in one line.
import type { LoadedConfig } from '../../config/load.ts';
import { defineCommand } from '../command.ts';
import { CONFIG_OPTION, loadForCommand } from '../config.ts';
import { exportLabEnv, LAB_CREDENTIALS_OPTION } from './lab.ts';

/** The line `validate` prints for a valid configuration. */
export function describeValidConfig(configPath: string, config: LoadedConfig): string {
  const kinds = [...new Set(config.probes.map((p) => p.kind))].join(', ');
  return `${configPath}: valid — ${config.probes.length} probe${config.probes.length === 1 ? '' : 's'} (${kinds || 'none'}) in ${config.files.join(', ')}\n`;
}

export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'check a configuration without running it',
  synopsis: '[--config FILE|DIR] [--lab]',
  description:
    'Reads and checks every file and section of a configuration, and lists every problem with its file, line and key (exit 2), or says it is valid (exit 0).',
  options: { config: CONFIG_OPTION, lab: LAB_CREDENTIALS_OPTION },
  async run({ values }) {
    if (values.lab) await exportLabEnv();
    process.stdout.write(describeValidConfig(values.config, loadForCommand(values.config)));
    return 0;
  },
});
