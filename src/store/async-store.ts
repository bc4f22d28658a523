// A synchronous store seen through the async contract: the same calls answering through Promises (for code and tests written once for both).
import type { AsyncRepository, AsyncStore, Store } from './repositories.ts';

/** Each method of `repository` as one answering through a Promise; a throw becomes a rejection. */
function asyncRepository<R extends object>(repository: R): AsyncRepository<R> {
  return new Proxy(repository, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        Promise.resolve().then(() => (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  }) as unknown as AsyncRepository<R>;
}

/** The store `store` behind the AsyncStore contract. */
export function asyncStoreOf(store: Store): AsyncStore {
  return {
    probes: asyncRepository(store.probes),
    runs: asyncRepository(store.runs),
    items: asyncRepository(store.items),
    stateChanges: asyncRepository(store.stateChanges),
    alerts: asyncRepository(store.alerts),
    outbox: asyncRepository(store.outbox),
    rollups: asyncRepository(store.rollups),
    lock: asyncRepository(store.lock),
    maintenanceWindows: asyncRepository(store.maintenanceWindows),
    location: store.location,
    storageCondition: (error) => store.storageCondition(error),
    maintain: (retention) => Promise.resolve().then(() => store.maintain(retention)),
    close: () => Promise.resolve().then(() => store.close()),
  };
}
