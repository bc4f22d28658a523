import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cruise as depcruise, type ICruiseOptions, type IForbiddenRuleType } from 'dependency-cruiser';

// The layer rules of .dependency-cruiser.cjs, run by `npm run deps` in `npm test`, checked
// on small trees laid out like src/: each breach below must be reported by the rule's name.
const ROOT = resolve(import.meta.dirname, '../..');
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as {
  forbidden: IForbiddenRuleType[];
  options: ICruiseOptions;
};

/** Lays out `files` (path → source) under a temporary folder and runs the rules over its src/, as `npm run deps` does. */
async function cruise(files: Record<string, string>): Promise<{ status: number; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-layers-'));
  try {
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const result = await depcruise(['src'], {
      ...config.options,
      ruleSet: { forbidden: config.forbidden },
      validate: true,
      outputType: 'err',
      baseDir: dir,
    });
    return {
      status: result.exitCode,
      output: typeof result.output === 'string' ? result.output : JSON.stringify(result.output),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A tree that keeps every rule: each layer imports only the ones below it. */
const LAWFUL = {
  'src/util/clock.ts': 'export const now = () => Date.now();\n',
  'src/core/probe.ts': 'export type Status = "pass" | "fail";\n',
  'src/protocols/dns/wire.ts':
    "import { now } from '../../util/clock.ts';\nimport type { Status } from '../../core/probe.ts';\nexport const ask = (): Status => (now() > 0 ? 'pass' : 'fail');\n",
  'src/probers/dns.ts': "import { ask } from '../protocols/dns/wire.ts';\nexport const dnsKind = { probe: ask };\n",
  'src/runner/engine.ts': "import { dnsKind } from '../probers/dns.ts';\nexport const run = () => dnsKind.probe();\n",
  'src/lab/lab.ts': "import { now } from '../util/clock.ts';\nexport const startLab = () => now();\n",
  'src/fleet/fleet.ts': "import { now } from '../util/clock.ts';\nexport const owns = () => now() > 0;\n",
  'src/server/agents.ts': "import { owns } from '../fleet/fleet.ts';\nexport const agents = () => owns();\n",
  'src/cli/main.ts':
    "import { run } from '../runner/engine.ts';\nimport { startLab } from '../lab/lab.ts';\nexport const main = () => [run(), startLab()];\n",
};

test('a tree whose layers import only downwards passes', async () => {
  const { status, output } = await cruise(LAWFUL);
  assert.equal(status, 0, output);
  assert.match(output, /no dependency violations found/);
});

const BREACHES: Array<{ what: string; files: Record<string, string>; rule: RegExp }> = [
  {
    what: 'core importing a layer of ours',
    files: {
      'src/core/probe.ts': "import type { dnsKind } from '../probers/dns.ts';\nexport type Kind = typeof dnsKind;\n",
    },
    rule: /core-imports-nothing-of-ours: src\/core\/probe\.ts → src\/probers\/dns\.ts/,
  },
  {
    what: 'a protocol importing a kind (type-only imports count)',
    files: {
      'src/protocols/dns/wire.ts':
        "import type { dnsKind } from '../../probers/dns.ts';\nexport type K = typeof dnsKind;\nexport const ask = () => 'pass';\n",
    },
    rule: /protocols-not-above: src\/protocols\/dns\/wire\.ts → src\/probers\/dns\.ts/,
  },
  {
    what: 'the runner importing the server',
    files: {
      'src/server/metrics.ts': 'export class Metrics {}\n',
      'src/runner/engine.ts':
        "import { Metrics } from '../server/metrics.ts';\nexport const run = () => new Metrics();\n",
    },
    rule: /runner-not-above: src\/runner\/engine\.ts → src\/server\/metrics\.ts/,
  },
  {
    what: 'util importing a layer above core',
    files: {
      'src/util/clock.ts':
        "import type { Status } from '../core/probe.ts';\nimport { ask } from '../protocols/dns/wire.ts';\nexport const now = (): Status => ask();\n",
    },
    rule: /util-imports-only-core: src\/util\/clock\.ts → src\/protocols\/dns\/wire\.ts/,
  },
  {
    what: 'the lab importing the product',
    files: { 'src/lab/lab.ts': "import { run } from '../runner/engine.ts';\nexport const startLab = () => run();\n" },
    rule: /lab-stands-apart: src\/lab\/lab\.ts → src\/runner\/engine\.ts/,
  },
  {
    what: 'the fleet importing the runner',
    files: {
      'src/fleet/fleet.ts': "import { run } from '../runner/engine.ts';\nexport const beat = () => run();\n",
    },
    rule: /fleet-imports-only-store-config-util: src\/fleet\/fleet\.ts → src\/runner\/engine\.ts/,
  },
  {
    what: 'the runner importing the fleet',
    files: {
      'src/fleet/leases.ts': 'export const owns = () => true;\n',
      'src/runner/scheduler.ts': "import { owns } from '../fleet/leases.ts';\nexport const gate = () => owns();\n",
    },
    rule: /only-cli-and-server-use-the-fleet: src\/runner\/scheduler\.ts → src\/fleet\/leases\.ts/,
  },
  {
    what: 'two modules of one layer importing each other',
    files: {
      'src/probers/dns.ts': "import { other } from './other.ts';\nexport const dnsKind = { probe: () => other };\n",
      'src/probers/other.ts':
        "import { dnsKind } from './dns.ts';\nexport const other = 1;\nexport const again = dnsKind;\n",
    },
    rule: /no-circular: src\/probers\/(dns|other)\.ts/,
  },
];

test('the rules refuse each breach, named by its rule', async () => {
  // One tree holding every breach at once: they touch different files, and each must be reported on its own.
  const files = Object.assign({}, LAWFUL, ...BREACHES.map((breach) => breach.files));
  const { status, output } = await cruise(files);
  assert.notEqual(status, 0, `expected a failure:\n${output}`);
  for (const breach of BREACHES) assert.match(output, breach.rule, `${breach.what} not reported:\n${output}`);
});
