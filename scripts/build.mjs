#!/usr/bin/env node
// Compiles src/ to JavaScript in dist/ (tsconfig.build.json): what the container image runs, with no
// TypeScript loader. Files the code reads beside itself (the status page's browser script) are copied
// as they are. dist/ mirrors src/, so paths relative to the code (../../data/...) hold in both.
import { cpSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = `${root}src`;
const dist = `${root}dist`;

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
cpSync(src, dist, { recursive: true, filter: (path) => statSync(path).isDirectory() || !path.endsWith('.ts') });
