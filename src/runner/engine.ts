// The engine: probers built once, runs executed, recorded and handed to listeners.
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import type { HttpClient } from '../protocols/http/client.ts';
import type { ProbeSpec } from '../config/load.ts';
import { findKind } from '../probers/registry.ts';
import type { Prober } from '../probers/kind.ts';
import type { RecordedItems } from '../core/probe.ts';
import type { Store } from '../store/repositories.ts';
import type { NewStateChange, RunRecord } from '../store/types.ts';
import type { Redactor } from '../util/redact.ts';
import { RunWriter, type StoreHealth } from '../store/run-writer.ts';
import { runProbe } from './run-probe.ts';
import { RecentItems, storedItems } from './recorded-items.ts';

export interface FinishedRun extends RunRecord {
  /** Id in the store; absent when the engine runs without one (`scaiprobe check`). */
  runId?: number;
  changes: NewStateChange[];
}

/** What the engine counts runs into (the daemon's Prometheus metrics); declared here so the runner needs no server. */
export interface RunMetrics {
  observeRun(run: RunRecord): void;
  watchStore(health: () => StoreHealth): void;
}

export type RunListener = (run: FinishedRun) => void | Promise<void>;

export interface EngineDeps {
  clock: Clock;
  logger: Logger;
  http: HttpClient;
  redactor: Redactor;
  store?: Store;
  metrics?: RunMetrics;
  shutdown?: AbortSignal;
  /** In a fleet, where this agent probes from (probes that share a target across locations tell theirs apart). */
  location?: string;
}

/**
 * Holds one Prober per configured probe and runs them: run, judge, store,
 * count, tell listeners. The only place where results are written.
 */
export class Engine {
  private readonly probers = new Map<string, { spec: ProbeSpec; prober: Prober }>();
  private readonly listeners: RunListener[] = [];
  /** Without a store, what probes read of each other's runs (a browser probe: its mail probe's tokens). */
  private readonly recent: RecentItems | undefined;
  private readonly writer: RunWriter | undefined;
  /** Each probe's carried-over state, kept here too: a run the database cannot take yet must not reset it. */
  private readonly states = new Map<string, unknown>();

  constructor(
    probes: ProbeSpec[],
    private readonly deps: EngineDeps,
  ) {
    let recorded: RecordedItems;
    if (deps.store) recorded = storedItems(deps.store.items);
    else {
      this.recent = new RecentItems();
      recorded = this.recent;
    }
    for (const spec of probes) {
      const kind = findKind(spec.kind);
      if (!kind) throw new Error(`unknown kind ${spec.kind}`);
      this.probers.set(spec.name, {
        spec,
        prober: kind.create(spec, {
          clock: deps.clock,
          logger: deps.logger.child({ probe: spec.name }),
          http: deps.http,
          recorded,
          ...(deps.location !== undefined ? { location: deps.location } : {}),
        }),
      });
    }
    deps.store?.probes.sync(
      probes.map((p) => ({ name: p.name, kind: p.kind, tags: p.tags, ...(p.tenant ? { tenant: p.tenant } : {}) })),
    );
    if (deps.store) {
      const writer = new RunWriter(deps.store, { logger: deps.logger });
      this.writer = writer;
      deps.metrics?.watchStore(() => writer.health());
    }
  }

  /** Whether runs are being stored; undefined without a store. */
  storeHealth(): StoreHealth | undefined {
    return this.writer?.health();
  }

  specs(): ProbeSpec[] {
    return [...this.probers.values()].map((entry) => entry.spec);
  }

  onRun(listener: RunListener): void {
    this.listeners.push(listener);
  }

  async run(name: string): Promise<FinishedRun> {
    const entry = this.probers.get(name);
    if (!entry) throw new Error(`no probe named ${name}`);
    const previousState = this.states.has(name) ? this.states.get(name) : this.deps.store?.probes.state(name);
    const record = await runProbe(entry.spec, entry.prober, this.deps, previousState);
    if (record.state !== undefined) this.states.set(name, record.state);
    let finished: FinishedRun = { ...record, changes: [] };
    this.recent?.remember(record);
    // A run the database cannot take now is queued and stored later, with its state changes then.
    const recorded = await this.writer?.record(record);
    if (recorded) finished = { ...record, runId: recorded.runId, changes: recorded.changes };
    this.deps.metrics?.observeRun(record);
    for (const listener of this.listeners) {
      try {
        await listener(finished);
      } catch (error) {
        this.deps.logger.error({ err: error, probe: name }, 'a run listener failed');
      }
    }
    return finished;
  }

  async close(): Promise<void> {
    this.writer?.close();
    await Promise.allSettled([...this.probers.values()].map(async (entry) => entry.prober.close?.()));
  }
}
