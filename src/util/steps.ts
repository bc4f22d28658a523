// Long work as a generator of bounded steps: run at once (drain), or a step per turn of the event loop (inTurns).
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Runs every step now and returns the result. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * Runs one step per turn of the event loop, so requests and timers are served
 * between them; stops early (returning undefined) once `stopped()` says so.
 */
export async function inTurns<T>(steps: Generator<void, T>, stopped: () => boolean): Promise<T | undefined> {
  for (;;) {
    if (stopped()) {
      steps.return(undefined as T);
      return undefined;
    }
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}
