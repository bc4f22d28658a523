// `scaiprobe validate`: a configuration checked without running it, in one line.
import type { LoadedConfig } from '../../config/load.ts';

/** The line `validate` prints for a valid configuration. */
export function describeValidConfig(configPath: string, config: LoadedConfig): string {
  const kinds = [...new Set(config.probes.map((p) => p.kind))].join(', ');
  return `${configPath}: valid — ${config.probes.length} probe${config.probes.length === 1 ? '' : 's'} (${kinds || 'none'}) in ${config.files.join(', ')}\n`;
}
