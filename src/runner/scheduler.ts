// The scheduler: intervals and cron, jitter, concurrency, and producers run before their readers.
import { schedule as scheduleCron, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Clock, Timer } from '../util/clock.ts';
import { MAX_TIMER_MS } from '../core/duration.ts';
import type { SlotGrid } from './slot-grid.ts';

export interface SchedulableProbe {
  name: string;
  every?: number;
  cron?: string;
  /** Probes whose output this one reads: its first run waits until each of them has finished a run. */
  after?: string[];
}

export interface SchedulerOptions {
  probes: SchedulableProbe[];
  /** Most runs in flight at once across all probes; more wait their turn. */
  concurrency: number;
  /** Fraction of the interval by which a run may start early or late (spreads load). */
  jitter: number;
  /** Reads the time and sets the interval timers: a test moves a ManualClock instead of waiting. */
  clock: Clock;
  logger: Logger;
  /** Runs one probe once; must not throw (errors are values), but a throw is logged, never fatal. */
  execute(name: string, lateness: number): Promise<void>;
  /**
   * Whether this process runs the slot of `name` scheduled at `scheduledAt` (in a fleet: whether this agent owns
   * the probe then). A slot it declines is not run and not counted late; the next slot asks again. Absent: every slot.
   */
  shouldRun?(name: string, scheduledAt: number): boolean;
  /**
   * Interval slots on a grid other processes compute alike (a fleet's agents), instead of a random phase and
   * jitter: a slot is then the same slot on every agent, and handing a probe over hands over slots.
   */
  grid?: SlotGrid;
  random?: () => number;
}

export interface SchedulerStats {
  started: number;
  skippedOverlap: number;
  /** Slots declined by shouldRun (run elsewhere in the fleet). */
  skippedElsewhere: number;
  inFlight: number;
  queued: number;
}

/**
 * Starts each probe on its schedule: intervals on a fixed grid with jitter
 * (first runs spread over the interval), cron through node-cron. A probe never
 * overlaps itself; a global cap bounds runs in flight. A probe that reads
 * another's output (`after`) is held until that one has finished a run: its
 * first run would otherwise find nothing to read and fail.
 */
export class Scheduler {
  private readonly timers = new Map<string, Timer>();
  private readonly cronTasks: ScheduledTask[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting: Array<() => void> = [];
  /** Producers (among the scheduled probes) each probe waits for; probes that have finished a run; probes held for theirs. */
  private readonly after: Map<string, string[]>;
  private readonly finished = new Set<string>();
  private readonly held = new Set<string>();
  private active = 0;
  private stopped = false;
  private readonly random: () => number;
  readonly stats: SchedulerStats = {
    started: 0,
    skippedOverlap: 0,
    skippedElsewhere: 0,
    inFlight: 0,
    queued: 0,
  };

  constructor(private readonly options: SchedulerOptions) {
    this.random = options.random ?? Math.random;
    const names = new Set(options.probes.map((probe) => probe.name));
    this.after = new Map(
      options.probes.map((probe) => [
        probe.name,
        (probe.after ?? []).filter((name) => names.has(name) && name !== probe.name),
      ]),
    );
  }

  start(): void {
    const now = this.options.clock.now();
    for (const probe of this.options.probes) {
      if (probe.cron) this.startCron(probe.name, probe.cron);
      else if (probe.every && this.options.grid)
        this.scheduleSlot(
          this.options.grid,
          probe.name,
          probe.every,
          this.options.grid.indexAt(probe.name, probe.every, now) + 1,
        );
      else if (probe.every)
        this.scheduleInterval(probe.name, probe.every, now + this.random() * Math.min(probe.every, 60_000));
    }
  }

  /** The delay before the next run around a nominal time, within ±jitter/2 of the interval. */
  jittered(nominal: number, every: number): number {
    const spread = this.options.jitter * every;
    return nominal + (this.random() - 0.5) * spread;
  }

  private scheduleInterval(name: string, every: number, target: number): void {
    if (this.stopped) return;
    const delay = Math.max(0, target - this.options.clock.now());
    if (delay > MAX_TIMER_MS) {
      // Past a timer's range (every: 30d) the wait goes in steps, the clock read again at each.
      this.timers.set(
        name,
        this.options.clock.setTimer(() => this.scheduleInterval(name, every, target), MAX_TIMER_MS),
      );
      return;
    }
    const timer = this.options.clock.setTimer(() => {
      this.trigger(name, target);
      const nominalNext = target + every;
      this.scheduleInterval(name, every, Math.max(this.options.clock.now(), this.jittered(nominalNext, every)));
    }, delay);
    this.timers.set(name, timer);
  }

  /** Slot `index` on the grid; the next is the following one, or the latest due if this one ran over it. */
  private scheduleSlot(grid: SlotGrid, name: string, every: number, index: number): void {
    if (this.stopped) return;
    const at = grid.timeOf(name, every, index);
    const delay = Math.max(0, at - this.options.clock.now());
    if (delay > MAX_TIMER_MS) {
      this.timers.set(
        name,
        this.options.clock.setTimer(() => this.scheduleSlot(grid, name, every, index), MAX_TIMER_MS),
      );
      return;
    }
    const timer = this.options.clock.setTimer(() => {
      this.trigger(name, at);
      const next = Math.max(index + 1, grid.indexAt(name, every, this.options.clock.now()));
      this.scheduleSlot(grid, name, every, next);
    }, delay);
    this.timers.set(name, timer);
  }

  private startCron(name: string, expression: string): void {
    const task = scheduleCron(
      expression,
      (context) => {
        const scheduledAt = context.date;
        this.trigger(name, scheduledAt.getTime());
      },
      { name: `scaiprobe:${name}`, noOverlap: false },
    );
    this.cronTasks.push(task);
  }

  /** Starts a run now unless declined (shouldRun), one of the same probe is still in flight, or it waits for its producers' first runs. */
  trigger(name: string, scheduledAt: number): void {
    if (this.stopped) return;
    if (this.options.shouldRun && !this.options.shouldRun(name, scheduledAt)) {
      this.stats.skippedElsewhere++;
      return;
    }
    const waitingFor = this.waitingFor(name);
    if (waitingFor.length > 0) {
      if (!this.held.has(name))
        this.options.logger.info({ probe: name, waitingFor }, 'first run waits for the probes whose output it reads');
      this.held.add(name);
      return;
    }
    if (this.running.has(name)) {
      this.stats.skippedOverlap++;
      this.options.logger.warn({ probe: name }, 'previous run still in flight; this run is skipped');
      return;
    }
    const run = this.withSlot(() => {
      if (this.stopped) return Promise.resolve();
      this.stats.started++;
      return this.options.execute(name, this.options.clock.now() - scheduledAt);
    })
      .catch((error: unknown) =>
        this.options.logger.error({ err: error, probe: name }, 'run failed unexpectedly; the scheduler carries on'),
      )
      .finally(() => {
        this.running.delete(name);
        this.ran(name);
      });
    this.running.set(name, run);
  }

  private waitingFor(name: string): string[] {
    return (this.after.get(name) ?? []).filter((producer) => !this.finished.has(producer));
  }

  /** A probe finished a run: those held for it start now (the wait was by design, not lateness). */
  private ran(name: string): void {
    if (this.finished.has(name)) return;
    this.finished.add(name);
    for (const consumer of [...this.held]) {
      if (this.waitingFor(consumer).length > 0) continue;
      this.held.delete(consumer);
      this.trigger(consumer, this.options.clock.now());
    }
  }

  private async withSlot(work: () => Promise<void>): Promise<void> {
    if (this.active >= this.options.concurrency) {
      this.stats.queued++;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      this.stats.queued--;
    }
    this.active++;
    this.stats.inFlight = this.active;
    try {
      await work();
    } finally {
      this.active--;
      this.stats.inFlight = this.active;
      this.waiting.shift()?.();
    }
  }

  /** Stops scheduling; runs in flight finish (at their own deadline at the latest); queued runs are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    for (const task of this.cronTasks) await task.destroy();
    this.cronTasks.length = 0;
    for (const release of this.waiting.splice(0)) release();
    await Promise.allSettled([...this.running.values()]);
  }

  inFlight(): string[] {
    return [...this.running.keys()];
  }
}
