// Who an agent is: its name (configured or derived from host and store path), its configuration's hash, its version.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.ts';

export interface AgentIdentity {
  /** Unique in the fleet. */
  name: string;
  location: string;
  host: string;
  pid: number;
  version: string;
  configHash: string;
}

/** The longest agent name the configuration accepts (agent.name). */
const MAX_NAME = 100;

/**
 * The default name: host and store path, since two agents on one host need two
 * local stores. A path too long for a name is replaced by its hash.
 */
export function defaultAgentName(storePath: string, host = hostname()): string {
  const path = resolve(storePath);
  const name = `${host}:${path}`;
  if (name.length <= MAX_NAME) return name;
  const digest = createHash('sha256').update(path).digest('hex').slice(0, 12);
  return `${host.slice(0, MAX_NAME - digest.length - 1)}:${digest}`;
}

/** JSON with object keys sorted at every depth, so the same value always gives the same text. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/**
 * A hash of what the fleet must agree on: the probes (defaults applied), the
 * scheduler and the sections alerting, reports and indicators read. Left out is
 * what differs per agent by design: its own location and name, its listen
 * address and local store, its log level, and the file a probe came from (two
 * agents may read the same files from different folders). Secret values are in
 * the probes, so agents whose secrets differ are told apart too; only the hash
 * leaves the process.
 */
export function configHash(config: Pick<LoadedConfig, 'probes' | 'scheduler' | 'sections'>): string {
  const probes = config.probes.map(({ file: _file, ...probe }) => probe);
  const text = JSON.stringify(canonical({ probes, scheduler: config.scheduler, sections: config.sections }));
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** scaiprobe's version from its package.json (two folders up from src/fleet and dist/fleet alike), or `unknown`. */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const json = JSON.parse(text) as { name?: unknown; version?: unknown };
    return json.name === 'scaiprobe' && typeof json.version === 'string' ? json.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** This process's identity in the fleet. */
export function agentIdentity(config: LoadedConfig, version = packageVersion()): AgentIdentity {
  return {
    name: config.agent.name ?? defaultAgentName(config.store.path),
    location: config.agent.location,
    host: hostname(),
    pid: process.pid,
    version,
    configHash: configHash(config),
  };
}
