// Child processes and ports for the lab: start, wait for a port, find a free one, temp folders.
import { createSocket } from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, createConnection } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A real server process started for the lab or a test, stopped by PID. */
export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines it printed (stdout and stderr), for error messages. */
  output(): string;
  stop(timeoutMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Runs it as this user (servers such as PostgreSQL refuse to run as root). */
  user?: { uid: number; gid: number };
}

/** Starts a process in its own process group so that stop() ends it and anything it forked. */
export function startProcess(options: StartOptions): ManagedProcess {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(options.user ?? {}),
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 50) lines.splice(0, lines.length - 50);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('error', (error) => lines.push(`spawn failed: ${error.message}`));
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  registerForCleanup(pid);
  return {
    name: options.name,
    pid,
    child,
    output: () => lines.join('\n'),
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      unregisterForCleanup(pid);
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

const running = new Set<number>();
let exitHookInstalled = false;
function registerForCleanup(pid: number): void {
  running.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that fails or a lab that crashes must not leave servers behind.
  process.once('exit', () => {
    for (const leftover of running) signalGroup(leftover, 'SIGKILL');
  });
}
function unregisterForCleanup(pid: number): void {
  running.delete(pid);
}

/** A TCP port nobody listens on right now. */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Whether a UDP socket can bind the port (DNS servers take the same number for UDP and TCP). */
function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

/** Whether a TCP server can listen on the port. */
function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Above the lab's fixed ports (2525 … 10143, DESIGN.md), so a test's server never takes one a running lab needs. */
const FIRST_TEST_PORT = 12_000;

/** The lowest port the kernel hands out as an ephemeral (client) port. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A port free for both TCP and UDP right now (for tests that start private servers), taken below the
 * kernel's ephemeral range when it can be: DNS clients' UDP sockets take ephemeral ports all the time, and
 * one that took a DNS server's port between this check and the server's bind failed the server's start.
 */
export async function freePort(): Promise<number> {
  const top = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = FIRST_TEST_PORT + Math.floor(Math.random() * (top - FIRST_TEST_PORT));
    if ((await tcpPortFree(port)) && (await udpPortFree(port))) return port;
  }
  for (let attempt = 0; ; attempt += 1) {
    const port = await freeTcpPort();
    if ((await udpPortFree(port)) || attempt >= 20) return port;
  }
}

/** Resolves when something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(
  port: number,
  host = '127.0.0.1',
  timeoutMs = 10_000,
  proc?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (proc && proc.child.exitCode !== null) {
      throw new Error(
        `${proc.name} exited with code ${proc.child.exitCode} before listening on ${port}:\n${proc.output()}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms${proc ? `:\n${proc.output()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh private directory, removed by the returned function. */
export async function makeTempDir(prefix = 'scaiprobe-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
