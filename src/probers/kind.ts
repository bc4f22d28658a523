// The interface every probe kind implements, and what a prober gets and returns.
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import type { HttpClient } from '../protocols/http/client.ts';
import type { CommonProbeSpec, Measurement, RecordedItems } from '../core/probe.ts';
import type { KindFeeds } from '../core/feeds.ts';

export interface ProbeContext {
  /** Aborts at the run's deadline or at shutdown. Every socket, fetch and IMAP call takes it. */
  signal: AbortSignal;
  /** Epoch milliseconds at which `signal` aborts. */
  deadline: number;
  clock: Clock;
  logger: Logger;
  http: HttpClient;
  /** What this probe returned as `state` on its previous run (persisted across restarts). */
  previousState: unknown;
  /** A unique id of this run (also in logs as run_id). */
  runId: string;
}

/** One configured probe of a kind, ready to run repeatedly. */
export interface Prober {
  probe(ctx: ProbeContext): Promise<Measurement>;
  /** Releases connections kept across runs (IMAP IDLE, browsers). */
  close?(): Promise<void>;
}

export interface ProberDeps {
  clock: Clock;
  logger: Logger;
  http: HttpClient;
  recorded: RecordedItems;
  /** The fleet location this agent probes from (undefined for a single daemon). */
  location?: string;
}

/**
 * A probe kind: its own config fields (a zod object of only the kind's keys;
 * the common keys are added by the config loader) and a factory.
 */
export interface ProbeKind<Spec extends Record<string, unknown> = Record<string, unknown>> {
  kind: string;
  /** The kind's own keys. Must be a z.object (the loader merges it with the common keys and makes it strict). */
  fields: z.ZodObject<z.ZodRawShape>;
  /**
   * Cross-field checks the schema cannot express; messages keyed by path
   * (relative to the probe). `warning: true` reports without rejecting the
   * configuration (e.g. a public resolver that blocklists refuse).
   */
  check?(spec: Spec): Array<{ path: (string | number)[]; message: string; warning?: boolean }>;
  /**
   * Assertions added to every probe of the kind unless the user asserts on the
   * same observation (e.g. http: `status < 400`), so a probe without `expect`
   * still fails when its target is plainly broken.
   */
  implicitExpect?: string[];
  /** The observations and items of its runs that indicators and reports read, by role. */
  feeds?: KindFeeds;
  /**
   * The probes whose runs this probe reads (RecordedItems), with where the
   * configuration names each: its first run waits for theirs, in the daemon
   * and in `check`, rather than failing for want of their output.
   */
  consumes?(spec: Spec): Array<{ probe: string; path: (string | number)[] }>;
  create(spec: Spec & CommonProbeSpec, deps: ProberDeps): Prober;
}
