// Runs each probe of the YAML text in argv[2] once through the real engine and prints
// { name: { status, code, message } } as JSON: for tests that need a process of its own
// (environment read at start-up, such as NODE_EXTRA_CA_CERTS).
import { runYaml } from './run.ts';

const results = await runYaml(process.argv[2] ?? '');
const summary = Object.fromEntries(
  [...results].map(([name, run]) => [
    name,
    { status: run.status, code: run.error?.code ?? null, message: run.message },
  ]),
);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
