#!/usr/bin/env node
// The `scaiprobe` command line: the command found, its help or its run, and every error in one sentence.
import { dispatch, explain } from './dispatch.ts';

dispatch(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`scaiprobe: ${explain(error, process.env.SCAIPROBE_DEBUG === '1')}\n`);
    process.exit(1);
  },
);
