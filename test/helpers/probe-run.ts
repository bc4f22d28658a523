import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { systemClock, type Clock } from '../../src/util/clock.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import type { CommonProbeSpec, Measurement } from '../../src/core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from '../../src/probers/kind.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';
import { loadConfig } from '../../src/config/load.ts';

/**
 * `value` with every string written as an environment reference (`${SPEC_n}`)
 * whose value goes to `env`: a test's inline passwords and keys reach the
 * loader as the configuration must write them.
 */
function asReferences(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === 'string') {
    if (value.includes('${')) return value;
    const name = `SPEC_${Object.keys(env).length}`;
    env[name] = value;
    return `\${${name}}`;
  }
  if (Array.isArray(value)) return value.map((item) => asReferences(item, env));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, asReferences(child, env)]));
  return value;
}

/**
 * The spec of one probe (named "test" unless `raw` names it) with the kind's
 * `raw` keys, built by the configuration loader itself from a file: strict
 * fields, defaults, the kind's check, implicit assertions. What a test runs is
 * what the daemon would; a configuration it would refuse throws ConfigError.
 */
export function specFor<Spec extends Record<string, unknown>>(
  kind: ProbeKind<Spec>,
  raw: Record<string, unknown>,
  expect: string[] = [],
  tenant?: string,
): Spec & CommonProbeSpec {
  const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-spec-'));
  try {
    const file = join(dir, 'probe.yaml');
    const env: Record<string, string> = {};
    const probe = {
      name: 'test',
      kind: kind.kind,
      ...(asReferences(raw, env) as Record<string, unknown>),
      expect,
      ...(tenant ? { tenant } : {}),
    };
    // JSON is YAML; no retries, as a test wants to see each run.
    writeFileSync(file, JSON.stringify({ defaults: { retries: 0, retryDelay: '0ms' }, probes: [probe] }));
    const [spec] = loadConfig(file, env).probes;
    if (!spec) throw new Error('the loader returned no probe');
    return spec as Spec & CommonProbeSpec;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a kind's create() gets in the daemon, on the given clock, with a silent logger. */
export function proberDeps(clock: Clock = systemClock): ProberDeps {
  return { clock, logger: pino({ level: 'silent' }), http: createHttpClient(), recorded: new RecentItems() };
}

export function makeProber<Spec extends Record<string, unknown>>(
  kind: ProbeKind<Spec>,
  spec: Spec & CommonProbeSpec,
  clock: Clock = systemClock,
): Prober {
  return kind.create(spec, proberDeps(clock));
}

/** One run with a deadline on the given clock, feeding back the previous state as the runner does. */
export async function probeOnce(
  prober: Prober,
  options: { previousState?: unknown; timeoutMs?: number; clock?: Clock } = {},
): Promise<Measurement> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  const ctx: ProbeContext = {
    signal: AbortSignal.timeout(timeoutMs),
    deadline: clock.now() + timeoutMs,
    clock,
    logger: pino({ level: 'silent' }),
    http: createHttpClient(),
    previousState: options.previousState,
    runId: 'test',
  };
  return prober.probe(ctx);
}
