// Clocks: the system one, a manual one for tests, and pause() on either.
/** Time source passed to everything that reads the time or waits, so tests can inject one and move it by hand. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Monotonic milliseconds for measuring durations. */
  monotonic(): number;
  /** Calls `callback` once `ms` milliseconds have passed on this clock. */
  setTimer(callback: () => void, ms: number): Timer;
}

export interface Timer {
  /** Stops the timer; nothing happens if it has fired already. */
  cancel(): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(callback, ms) {
    const timeout = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(timeout) };
  },
};

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts (never rejects). */
export function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = clock.setTimer(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

interface Pending {
  at: number;
  order: number;
  callback: () => void;
}

/** A clock tests move by hand: its timers fire, in order, only as `advance` or `set` passes their time. */
export class ManualClock implements Clock {
  private readonly pending: Pending[] = [];
  private created = 0;

  constructor(private current: number) {}

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.current;
  }

  setTimer(callback: () => void, ms: number): Timer {
    const entry: Pending = { at: this.current + Math.max(0, ms), order: this.created++, callback };
    this.pending.push(entry);
    return {
      cancel: () => {
        const index = this.pending.indexOf(entry);
        if (index >= 0) this.pending.splice(index, 1);
      },
    };
  }

  /** Timers not yet fired. */
  timers(): number {
    return this.pending.length;
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }

  /** Moves to `ms`; every timer due by then fires at its own time, earliest first (a timer set by a callback included). */
  set(ms: number): void {
    for (;;) {
      const next = this.nextDue(ms);
      if (!next) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.current = Math.max(this.current, next.at);
      next.callback();
    }
    this.current = ms;
  }

  private nextDue(until: number): Pending | undefined {
    let next: Pending | undefined;
    for (const entry of this.pending) {
      if (entry.at <= until && (!next || entry.at < next.at || (entry.at === next.at && entry.order < next.order)))
        next = entry;
    }
    return next;
  }
}
