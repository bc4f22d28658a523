// `scaiprobe run`: the daemon in the foreground (with the lab in the same process when asked), until a signal.
import { existsSync } from 'node:fs';
import type { LoadedConfig } from '../../config/load.ts';
import type { z } from 'zod';
import { agentSchema, exposedWithoutToken, listenAddress, locationName } from '../../config/schema.ts';
import { systemClock } from '../../util/clock.ts';
import { createLogger } from '../../util/logger.ts';
import { defineCommand } from '../command.ts';
import { CONFIG_OPTION, loadForCommand } from '../config.ts';
import { guardProcess } from '../process-guards.ts';
import { stopOnSignals, untilSignalled } from '../signals.ts';
import { UsageError } from '../usage-error.ts';
import { startDaemon } from './daemon.ts';
import { LAB_DIR_OPTION, startLabFor } from './lab.ts';

/** `value` checked as the configuration checks its key, for the flag that overrides it. */
function checked<T>(flag: string, value: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag} ${value}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** The configuration with agent.location set from --location (when given), checked as the configuration checks it. */
export function withLocation(config: LoadedConfig, location: string | undefined): LoadedConfig {
  if (location === undefined) return config;
  return { ...config, agent: { ...config.agent, location: checked('--location', location, locationName) } };
}

/**
 * The flags that let several agents of a fleet share one configuration on one host: each its own name,
 * address and local store (--location too, above).
 */
export function withAgentFlags(
  config: LoadedConfig,
  flags: {
    location?: string | undefined;
    name?: string | undefined;
    listen?: string | undefined;
    store?: string | undefined;
  },
): LoadedConfig {
  let next = withLocation(config, flags.location);
  if (flags.name !== undefined)
    next = { ...next, agent: { ...next.agent, name: checked('--name', flags.name, agentSchema.shape.name.unwrap()) } };
  if (flags.listen !== undefined) {
    const server = { ...next.server, listen: checked('--listen', flags.listen, listenAddress) };
    const exposed = exposedWithoutToken(server);
    if (exposed) throw new UsageError(`--listen ${exposed}`);
    next = { ...next, server };
  }
  if (flags.store !== undefined) next = { ...next, store: { ...next.store, path: flags.store } };
  return next;
}

export const runCommand = defineCommand({
  name: 'run',
  summary: 'run every probe on its schedule: the daemon, with its API, status page and /metrics',
  synopsis:
    '[--config FILE|DIR] [--location NAME] [--name NAME] [--listen HOST:PORT] [--store FILE] [--lab [--dir DIR]]',
  description: [
    'Runs every probe on its schedule, stores the runs, evaluates alerts and serves the status page, the API',
    'and /metrics on server.listen, until SIGTERM or Ctrl-C (runs in flight finish and are stored first).',
    'In a fleet (store.url), --location names where this agent probes from (agent.location); --name, --listen',
    'and --store let several agents share one configuration on one host.',
  ].join('\n'),
  options: {
    config: CONFIG_OPTION,
    lab: { type: 'boolean', description: 'also start the local lab in this process, and use its credentials' },
    dir: LAB_DIR_OPTION,
    location: {
      type: 'string',
      value: 'NAME',
      description: "this agent's location in a fleet, e.g. eu-west (overrides agent.location)",
    },
    name: { type: 'string', value: 'NAME', description: "this agent's name in a fleet (overrides agent.name)" },
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'where the API, status page and /metrics listen (overrides server.listen)',
    },
    store: { type: 'string', value: 'FILE', description: 'the local database file (overrides store.path)' },
  },
  examples: ['scaiprobe run --lab', 'scaiprobe run --config /etc/scaiprobe', 'scaiprobe run --location eu-west'],
  async run({ values }) {
    const lab = values.lab ? await startLabFor(values.dir, 'info') : undefined;
    if (lab) for (const line of lab.describe()) process.stderr.write(`lab: ${line}\n`);
    try {
      if (!existsSync(values.config)) throw new UsageError(`${values.config}: no such file or directory`);
      const config = withAgentFlags(loadForCommand(values.config), values);
      const logger = createLogger({ level: config.log.level, secrets: config.secrets, destination: process.stdout });
      guardProcess(logger);
      const daemon = await startDaemon(config, { clock: systemClock, logger });
      const fleet = daemon.fleet
        ? `agent ${daemon.fleet.name} in ${daemon.fleet.location} of the fleet at ${daemon.fleet.database}; `
        : '';
      process.stderr.write(
        `scaiprobe: ${fleet}${config.probes.length} probes running; API and /metrics on ${daemon.url} (${daemon.fleet ? 'local store' : 'database'} ${config.store.path})\n`,
      );
      stopOnSignals(async () => {
        await daemon.stop();
        await lab?.stop();
      });
    } catch (error) {
      // The lab's servers are child processes: they must not outlive a daemon that did not start.
      await lab?.stop();
      throw error;
    }
    return untilSignalled();
  },
});
