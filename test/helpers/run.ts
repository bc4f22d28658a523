import pino from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { Engine, type FinishedRun } from '../../src/runner/engine.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import { Redactor } from '../../src/util/redact.ts';
import { systemClock } from '../../src/util/clock.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteStore } from '../../src/store/sqlite/store.ts';

/** Loads a YAML text as a user would write it and runs each probe once through the real engine. */
export async function runYaml(
  yaml: string,
  options: { env?: NodeJS.ProcessEnv; store?: SqliteStore } = {},
): Promise<Map<string, FinishedRun>> {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-run-'));
  const file = join(dir, 'probes.yaml');
  writeFileSync(file, yaml);
  const config = loadConfig(file, options.env ?? process.env);
  const engine = new Engine(config.probes, {
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    http: createHttpClient(),
    redactor: new Redactor(config.secrets),
    ...(options.store ? { store: options.store } : {}),
  });
  try {
    const results = await Promise.all(config.probes.map((p) => engine.run(p.name)));
    return new Map(results.map((r) => [r.probe, r]));
  } finally {
    await engine.close();
  }
}
