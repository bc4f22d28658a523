// `scaiprobe lab` and `--lab`: the local lab, and its credentials for a configuration's ${...} references.
import { join } from 'node:path';
import type { RunningLab } from '../../lab/lab.ts';
import { CONFIG_OPTION } from '../config.ts';
import type { LabFleet } from './lab-fleet.ts';
import { createLogger } from '../../util/logger.ts';
import { defineCommand, type OptionSpec } from '../command.ts';
import { stopOnSignals, untilSignalled } from '../signals.ts';

/** `--lab` of the commands that only read a configuration: its ${...} references resolve to the lab's credentials. */
export const LAB_CREDENTIALS_OPTION = {
  type: 'boolean',
  description: "use the lab's credentials for the configuration's ${...} references",
} as const satisfies OptionSpec;

export const LAB_DIR_OPTION = {
  type: 'string',
  value: 'DIR',
  description: "where the lab keeps its servers' files (default: data/lab in the current folder)",
} as const satisfies OptionSpec;

/** Exports the lab's own credentials (where unset) so the shipped configuration resolves. */
export async function exportLabEnv(): Promise<void> {
  // The lab (and its servers' libraries) is loaded only when asked for.
  const { LAB_ENV } = await import('../../lab/lab.ts');
  for (const [name, value] of Object.entries(LAB_ENV)) process.env[name] ??= value;
}

function labDirOf(dir: string | undefined): string {
  return dir ?? join(process.cwd(), 'data', 'lab');
}

/** Starts the lab in `dir` (default data/lab), logging at `level` to stderr. */
export async function startLabFor(dir: string | undefined, level: string): Promise<RunningLab> {
  const labDir = labDirOf(dir);
  const { startLab } = await import('../../lab/lab.ts');
  const lab = await startLab({ dir: labDir, logger: createLogger({ level, destination: process.stderr }) });
  await exportLabEnv();
  return lab;
}

export const labCommand = defineCommand({
  name: 'lab',
  summary: 'start the local lab (ScaiSend/ScaiDNS stand-ins and real servers) until Ctrl-C',
  synopsis: '[--dir DIR] [--fleet [--config FILE|DIR]]',
  description: [
    'Starts the local lab: stand-ins for ScaiSend and ScaiDNS, and real Dovecot, PowerDNS, rbldnsd and Redis',
    'on loopback, with the credentials the shipped configuration uses. It runs until Ctrl-C (or SIGTERM).',
    'With --fleet it also starts a private PostgreSQL and three agents of one fleet (eu-west-1 and eu-west-2 in',
    'eu-west, us-east-1 in us-east, on ports 9465-9467) running a copy of the configuration (--config).',
  ].join('\n'),
  options: {
    dir: LAB_DIR_OPTION,
    fleet: { type: 'boolean', description: 'also start PostgreSQL and three agents in two locations against the lab' },
    config: { ...CONFIG_OPTION, description: 'with --fleet: the configuration the agents run (a copy of it)' },
  },
  examples: ['scaiprobe lab', 'scaiprobe lab --fleet'],
  async run({ values }) {
    const lab = await startLabFor(values.dir, 'info');
    let fleet: LabFleet | undefined;
    try {
      if (values.fleet) {
        const { startLabFleet } = await import('./lab-fleet.ts');
        fleet = await startLabFleet({ configDir: values.config, dir: join(labDirOf(values.dir), 'fleet') });
      }
    } catch (error) {
      await lab.stop();
      throw error;
    }
    const lines = [...lab.describe(), ...(fleet?.describe() ?? [])];
    process.stdout.write(`scaiprobe lab is running (Ctrl-C stops it):\n${lines.map((line) => `  ${line}\n`).join('')}`);
    stopOnSignals(async () => {
      await fleet?.stop();
      await lab.stop();
    });
    return untilSignalled();
  },
});
