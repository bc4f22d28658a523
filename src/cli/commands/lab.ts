// `scaiprobe lab` and `--lab`: the local lab, and its credentials for a configuration's ${...} references.
import { join } from 'node:path';
import type { RunningLab } from '../../lab/lab.ts';
import { createLogger } from '../../util/logger.ts';

/** Exports the lab's own credentials (where unset) so the shipped configuration resolves. */
export async function exportLabEnv(): Promise<void> {
  // The lab (and its servers' libraries) is loaded only when asked for.
  const { LAB_ENV } = await import('../../lab/lab.ts');
  for (const [name, value] of Object.entries(LAB_ENV)) process.env[name] ??= value;
}

/** Starts the lab in `dir` (default data/lab), logging at `level` to stderr. */
export async function startLabFor(dir: string | undefined, level: string): Promise<RunningLab> {
  const labDir = dir ?? join(process.cwd(), 'data', 'lab');
  const { startLab } = await import('../../lab/lab.ts');
  const lab = await startLab({ dir: labDir, logger: createLogger({ level, destination: process.stderr }) });
  await exportLabEnv();
  return lab;
}
