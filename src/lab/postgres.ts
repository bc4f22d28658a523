// A private PostgreSQL cluster for the lab's fleet and the tests: initdb in a folder, one server on loopback, stopped by PID.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, makeTempDir, startProcess, waitForPort, type ManagedProcess } from './processes.ts';

export interface PostgresServer {
  /** `postgres://scaiprobe@127.0.0.1:<port>/scaiprobe` */
  readonly url: string;
  readonly port: number;
  /** The server's PID while it runs (undefined while stopped). */
  pid(): number | undefined;
  /** Stops the server (a clean shutdown); the data stays for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data (after stop()). */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

export interface PostgresOptions {
  port?: number;
  /**
   * Skip fsync and synchronous commit: for tests and benchmarks of scaiprobe, not of the disk.
   * A server stopped cleanly keeps everything either way.
   */
  fast?: boolean;
}

/** Where Debian installs the server's programs: the newest major version present. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'postgres')));
  if (!version) throw new Error(`PostgreSQL is not installed (no ${root}/<version>/bin/postgres): run npm run setup`);
  return join(root, version, 'bin');
}

/** PostgreSQL refuses to run as root: root runs it as Debian's `postgres` user, anyone else as themselves. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root needs the postgres user (npm run setup)');
  return { uid, gid };
}

function initCluster(bin: string, data: string, user: { uid: number; gid: number } | undefined): void {
  mkdirSync(data, { recursive: true, mode: 0o700 });
  if (user) chownSync(data, user.uid, user.gid);
  const result = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'scaiprobe', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
    { encoding: 'utf8', ...(user ?? {}) },
  );
  if (result.status !== 0) throw new Error(`initdb failed: ${result.stderr || result.stdout}`);
}

function serverArgs(data: string, port: number, fast: boolean): string[] {
  const settings = [
    'listen_addresses=127.0.0.1',
    `port=${port}`,
    'unix_socket_directories=',
    'max_connections=200',
    'log_min_messages=warning',
    ...(fast ? ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'] : []),
  ];
  return ['-D', data, ...settings.flatMap((s) => ['-c', s])];
}

/** The port opens before recovery ends; pg_isready says when connections are accepted. */
async function waitUntilReady(bin: string, port: number, proc: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = spawnSync(join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]);
    if (ready.status === 0) return;
    if (proc.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`postgres did not become ready on ${port}:\n${proc.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates the cluster with a `scaiprobe` superuser and database (trust on loopback), and starts it. Its data
 * lives in a fresh folder of the system's temporary directory, which the server's user can reach (a project
 * folder may sit below one only its owner can enter).
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const { dir, remove } = await makeTempDir('scaiprobe-pg-');
  const data = join(dir, 'pgdata');
  if (user) chownSync(dir, user.uid, user.gid);
  initCluster(bin, data, user);
  const port = options.port ?? (await freePort());
  let process: ManagedProcess | undefined;
  const start = async () => {
    const proc = startProcess({
      name: 'postgres',
      command: join(bin, 'postgres'),
      args: serverArgs(data, port, options.fast ?? false),
      ...(user ? { user } : {}),
    });
    process = proc;
    await waitForPort(port, '127.0.0.1', 30_000, proc);
    await waitUntilReady(bin, port, proc);
  };
  await start();
  const createdb = spawnSync(
    join(bin, 'createdb'),
    ['-h', '127.0.0.1', '-p', String(port), '-U', 'scaiprobe', 'scaiprobe'],
    {
      encoding: 'utf8',
    },
  );
  if (createdb.status !== 0) {
    await process?.stop();
    await remove();
    throw new Error(`createdb failed: ${createdb.stderr}`);
  }
  const stop = async () => {
    // SIGTERM is PostgreSQL's "smart" shutdown, which waits for clients; SIGINT ends their sessions.
    const proc = process;
    process = undefined;
    if (!proc) return;
    proc.child.kill('SIGINT');
    await proc.stop(15_000);
  };
  return {
    url: `postgres://scaiprobe@127.0.0.1:${port}/scaiprobe`,
    port,
    pid: () => process?.pid,
    stop,
    start,
    async destroy() {
      await stop();
      await remove();
    },
  };
}
