#!/usr/bin/env node
// Runs the TypeScript sources through tsx in this one process, on the project's Node.
//
// `npm run setup` installs a Node from the npm registry into node_modules (node_modules/.bin/node),
// the one the project is tested on. Started by any other Node (a system Node 20, say), this file
// starts itself again under that one: older Nodes lack what the code and its libraries use (on
// Node 20 better-sqlite3 13 crashes the process). This file must still parse on old Nodes, so it
// keeps to plain syntax.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DAEMON_V8_FLAGS } from './daemon-v8-flags.js';

const MINIMUM = [22, 19];
const projectNode = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));

function isProjectNode() {
  return realpathSync(process.execPath) === realpathSync(projectNode);
}

function recentEnough(version) {
  const [major, minor] = version.split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
}

/** The daemon's heap settings must be given when its Node starts; other commands do without them. */
function missingDaemonFlags() {
  if (process.argv[2] !== 'run') return [];
  return DAEMON_V8_FLAGS.filter((flag) => !process.execArgv.includes(flag));
}

function runUnder(node, flags) {
  const child = spawn(node, [...process.execArgv, ...flags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child from the terminal itself (same process group): passing it on as
  // well would count as a second signal, which stops the daemon at once instead of cleanly.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('error', (error) => {
    process.stderr.write(`scaiprobe: could not start ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}

if (existsSync(projectNode) && !isProjectNode()) {
  runUnder(projectNode, missingDaemonFlags());
} else if (!recentEnough(process.versions.node)) {
  process.stderr.write(
    `scaiprobe: needs Node ${MINIMUM.join('.')} or newer; this is ${process.version}.\n` +
      '  `npm run setup` installs one into node_modules from the npm registry (no root needed);\n' +
      '  npm scripts and this command use it from then on.\n',
  );
  process.exit(2);
} else if (missingDaemonFlags().length > 0) {
  runUnder(process.execPath, missingDaemonFlags());
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
