// `scaiprobe lab --fleet`: a private PostgreSQL and three agents in two locations, on a copy of a configuration, for people to try a fleet.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { startPostgres, type PostgresServer } from '../../lab/postgres.ts';
import { DAEMON_V8_FLAGS } from '../../../bin/daemon-v8-flags.js';

/** The lab fleet's agents: two in eu-west, one in us-east, each on its own port from `basePort` on. */
export const LAB_FLEET_AGENTS = [
  { name: 'eu-west-1', location: 'eu-west' },
  { name: 'eu-west-2', location: 'eu-west' },
  { name: 'us-east-1', location: 'us-east' },
] as const;

export const LAB_FLEET_BASE_PORT = 9465;
const DATABASE_ENV = 'SCAIPROBE_DATABASE_URL';
const HEALTHY_WITHIN_MS = 120_000;

export interface LabFleet {
  postgres: PostgresServer;
  agents: Array<{ name: string; location: string; url: string; log: string; child: ChildProcess }>;
  /** The copy of the configuration the agents load (its store section names the fleet's PostgreSQL). */
  configDir: string;
  describe(): string[];
  stop(): Promise<void>;
}

/**
 * Copies the configuration folder's files, the store section of the one that has it given
 * `url: ${SCAIPROBE_DATABASE_URL}` (comments and layout kept), so the agents share one database.
 */
export function copyConfigForFleet(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const source = join(from, entry.name);
    if (!entry.name.endsWith('.yaml')) {
      copyFileSync(source, join(to, entry.name));
      continue;
    }
    const doc = parseDocument(readFileSync(source, 'utf8'));
    if (doc.has('store')) doc.setIn(['store', 'url'], `\${${DATABASE_ENV}}`);
    writeFileSync(join(to, entry.name), doc.toString());
  }
}

function startAgent(options: {
  configDir: string;
  dir: string;
  name: string;
  location: string;
  port: number;
  databaseUrl: string;
}): LabFleet['agents'][number] {
  const bin = fileURLToPath(new URL('../../../bin/scaiprobe.js', import.meta.url));
  const log = join(options.dir, `${options.name}.log`);
  const out = openSync(log, 'a');
  const listen = `127.0.0.1:${options.port}`;
  const args = ['run', '--config', options.configDir, '--location', options.location, '--name', options.name];
  // The daemon's heap flags given here, so bin/scaiprobe.js runs it in this child rather than in one more.
  const child = spawn(
    process.execPath,
    [...DAEMON_V8_FLAGS, bin, ...args, '--listen', listen, '--store', join(options.dir, `${options.name}.db`)],
    { env: { ...process.env, [DATABASE_ENV]: options.databaseUrl }, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  return { name: options.name, location: options.location, url: `http://${listen}`, log, child };
}

async function healthy(agent: LabFleet['agents'][number]): Promise<void> {
  const deadline = Date.now() + HEALTHY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (agent.child.exitCode !== null) break;
    const ok = await fetch(`${agent.url}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const tail = readFileSync(agent.log, 'utf8').split('\n').slice(-15).join('\n');
  throw new Error(`agent ${agent.name} did not start (its log, ${agent.log}):\n${tail}`);
}

async function stopAgents(agents: LabFleet['agents']): Promise<void> {
  await Promise.all(
    agents.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Starts PostgreSQL and the three agents on a copy of `configDir` in `dir`; resolves once every agent answers /health. */
export async function startLabFleet(options: { configDir: string; dir: string; basePort?: number }): Promise<LabFleet> {
  // The fleet's PostgreSQL is new at each start: so are its agents' local stores.
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true });
  const configDir = join(options.dir, 'config');
  copyConfigForFleet(options.configDir, configDir);
  const postgres = await startPostgres();
  const basePort = options.basePort ?? LAB_FLEET_BASE_PORT;
  const agents = LAB_FLEET_AGENTS.map((agent, index) =>
    startAgent({ ...agent, configDir, dir: options.dir, port: basePort + index, databaseUrl: postgres.url }),
  );
  const stop = async () => {
    await stopAgents(agents);
    await postgres.destroy();
  };
  try {
    for (const agent of agents) await healthy(agent);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    postgres,
    agents,
    configDir,
    describe: () => [
      `PostgreSQL ${postgres.url}`,
      ...agents.map((a) => `agent ${a.name} (${a.location}): ${a.url}/ (log ${a.log})`),
      'make ScaiSend fail for eu-west only:',
      `  curl -X POST localhost:8000/__lab/faults -d '{"failLocations":["eu-west"]}'`,
    ],
    stop,
  };
}
