// Bounds report rendering: a few renders at once, a short queue, and a clear "busy" beyond.

export class RenderGateBusy extends Error {
  constructor(
    readonly running: number,
    readonly waiting: number,
  ) {
    super(`${running} report renders are running and ${waiting} are waiting; try again shortly`);
    this.name = 'RenderGateBusy';
  }
}

/**
 * At most `concurrency` tasks run at once and at most `queue` wait for a
 * slot; a task beyond that is refused at once (the API answers 429) instead
 * of piling up renders that anyone with a token could start.
 */
export class RenderGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limits: { concurrency: number; queue: number }) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private acquire(): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.queue)
      return Promise.reject(new RenderGateBusy(this.running, this.waiting.length));
    // The slot is handed over by release(), so `running` stays counted.
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }
}
