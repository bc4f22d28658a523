// The local store as a fleet agent's engine sees it: each run stamped with location and agent, and spooled for PostgreSQL before it is stored.
import type { RunRepository, Store } from '../store/repositories.ts';
import type { RunRecord } from '../store/types.ts';
import type { RunSpool } from './spool.ts';

/** Calls on `target` as they are, except the keys in `overrides`. */
function overriding<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.prototype.hasOwnProperty.call(overrides, key)) return (overrides as Record<PropertyKey, unknown>)[key];
      const value: unknown = Reflect.get(object, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}

/**
 * The spool is written first: a run the local store has is always on its way
 * to the fleet. A batch the local store refuses (disk full) is spooled again
 * when the run writer retries it; PostgreSQL keeps one copy per run id.
 */
export function spoolingStore(store: Store, spool: RunSpool, stamp: { location: string; agent: string }): Store {
  const recordAll = (runs: RunRecord[]) => {
    const stamped = runs.map((run) => ({ ...run, location: stamp.location, agent: stamp.agent }));
    spool.add(stamped);
    return store.runs.recordAll(stamped);
  };
  const record = (run: RunRecord) => {
    const [recorded] = recordAll([run]);
    if (!recorded) throw new Error('the run was not recorded');
    return recorded;
  };
  const runs = overriding<RunRepository>(store.runs, { record, recordAll });
  return overriding<Store>(store, { runs });
}
