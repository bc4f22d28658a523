// A fleet world for tests and benchmarks: a private PostgreSQL, a target that can fail per location, and agents run as operators run them (child processes, killed and restarted).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/lab/processes.ts';
import { startPostgres, type PostgresServer } from '../../src/lab/postgres.ts';
import { DAEMON_V8_FLAGS } from '../../bin/daemon-v8-flags.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which requests the target fails: by the agent's location header and the probe's index. */
export type FaultRule = (location: string, probe: number) => boolean;

export interface Agent {
  name: string;
  location: string;
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
  stderr(): string;
}

export interface FleetWorld {
  dir: string;
  postgres: PostgresServer;
  db: pg.Pool;
  targetPort: number;
  setFault(rule: FaultRule | undefined): void;
  /** Writes the configuration every agent loads (the same file for all). */
  writeConfig(text: string): string;
  startAgent(name: string, location: string): Promise<Agent>;
  /** Waits for the agent's /health. */
  healthy(agent: Agent, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

function target(fault: () => FaultRule | undefined): Server {
  return createServer((req, res) => {
    const probe = Number((req.url ?? '').split('/').pop());
    const location = String(req.headers['x-scaiprobe-location'] ?? '');
    const down = fault()?.(location, probe) ?? false;
    res.writeHead(down ? 503 : 200).end(down ? 'down' : 'ok');
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function spawnAgent(
  configFile: string,
  dir: string,
  name: string,
  location: string,
  port: number,
  env: NodeJS.ProcessEnv,
): Agent {
  const args = ['run', '--config', configFile, '--location', location, '--listen', `127.0.0.1:${port}`];
  const child = spawn(
    process.execPath,
    [
      ...DAEMON_V8_FLAGS,
      '--import',
      'tsx',
      'src/cli/main.ts',
      ...args,
      '--store',
      join(dir, `${name}.db`),
      '--name',
      name,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  return {
    name,
    location,
    port,
    child,
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
    stderr: () => stderr,
  };
}

export async function startFleetWorld(options: { keep?: string; env?: NodeJS.ProcessEnv } = {}): Promise<FleetWorld> {
  const dir = options.keep ?? mkdtempSync(join(tmpdir(), 'scaiprobe-fleet-'));
  mkdirSync(dir, { recursive: true });
  const postgres = await startPostgres();
  const db = new pg.Pool({ connectionString: postgres.url, max: 2 });
  db.on('error', () => undefined);
  let fault: FaultRule | undefined;
  const server = target(() => fault);
  const targetPort = await listen(server);
  const configFile = join(dir, 'fleet.yaml');
  const agents: Agent[] = [];
  return {
    dir,
    postgres,
    db,
    targetPort,
    setFault: (rule) => (fault = rule),
    writeConfig(text) {
      writeFileSync(configFile, text);
      return configFile;
    },
    async startAgent(name, location) {
      const port = await freePort();
      const agent = spawnAgent(configFile, dir, name, location, port, {
        SCAIPROBE_DATABASE_URL: postgres.url,
        ...options.env,
      });
      agents.push(agent);
      return agent;
    },
    async healthy(agent, timeoutMs = 120_000) {
      const started = Date.now();
      while (Date.now() - started < timeoutMs && agent.child.exitCode === null) {
        const ok = await fetch(`http://127.0.0.1:${agent.port}/health`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return Date.now() - started;
        await sleep(50);
      }
      throw new Error(`agent ${agent.name} did not come up:\n${agent.stderr()}`);
    },
    async close() {
      for (const agent of agents) if (agent.child.exitCode === null) agent.child.kill('SIGKILL');
      await Promise.all(agents.map((agent) => agent.exited));
      server.closeAllConnections();
      server.close();
      await db.end();
      await postgres.destroy();
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    },
  };
}
