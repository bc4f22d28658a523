// One channel's senders: a bounded number of attempts in flight, refilled from the outbox.
/**
 * One channel's senders: at most `slots` attempts in flight, each freed slot
 * refilled from the outbox at once. Lanes share nothing, so a receiver that
 * hangs until its timeout, or fails every time, holds up only its own channel.
 *
 * A claim may answer through a Promise (a store over the network): its slot
 * is taken before the claim is asked, so claims under way and attempts in
 * flight together never exceed `slots`, however many pumps run at once.
 */
export class Lane<T> {
  /** Slots taken: claims under way and attempts in flight. */
  private active = 0;
  private stopped = false;
  private quiet: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    private readonly deps: {
      slots: number;
      /** The next item due, now leased to us; undefined when nothing is due. */
      claim: () => T | undefined | Promise<T | undefined>;
      send: (item: T) => Promise<void>;
      onError: (error: unknown) => void;
    },
  ) {}

  /** Starts attempts for what is due, up to the free slots; resolves, with how many it started, once its claims are answered. */
  async pump(): Promise<number> {
    let started = 0;
    while (!this.stopped && this.active < this.deps.slots) {
      this.take();
      let item: T | undefined;
      try {
        item = await this.deps.claim();
      } catch (error) {
        // A database that cannot be written (full, locked, away) now: the next pump tries again.
        this.free();
        this.deps.onError(error);
        break;
      }
      if (item === undefined) {
        this.free();
        break;
      }
      this.run(item);
      started++;
    }
    return started;
  }

  private take(): void {
    this.active++;
    if (!this.quiet) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => (resolve = r));
      this.quiet = { promise, resolve };
    }
  }

  /** Gives a slot back; `refill` first asks for the next item (which takes a slot before this one can look idle). */
  private free(refill = false): void {
    this.active--;
    if (refill) void this.pump();
    if (this.active === 0) {
      this.quiet?.resolve();
      this.quiet = undefined;
    }
  }

  private run(item: T): void {
    void this.deps
      .send(item)
      .catch((error: unknown) => this.deps.onError(error))
      .finally(() => this.free(true));
  }

  /** Resolves once nothing is in flight: what was due has been tried (what became due meanwhile too). */
  settled(): Promise<void> {
    return this.quiet?.promise ?? Promise.resolve();
  }

  /** No new attempts; resolves when those in flight have ended and been recorded. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.settled();
  }
}
