#!/usr/bin/env node
// Runs the TypeScript sources through tsx in this one process.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
