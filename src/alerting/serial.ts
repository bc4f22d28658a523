// One task at a time, in the order asked: alert evaluations never interleave their reads and writes of one alert.
/**
 * Runs tasks one after another. An evaluation reads an alert, decides and
 * writes it back; with a store that answers through Promises two of them
 * could otherwise read the same state and the second write would undo the
 * first (two notifications for one firing, or none).
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `task` once every task asked before it has ended (whether it succeeded or not). */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task asked so far has ended. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
