// The repositories alerting reads and writes, answering at once (SQLite) or through Promises (PostgreSQL).
import type { AlertRepository, MaintenanceWindowRepository, OutboxRepository } from '../store/repositories.ts';

/**
 * The repository R with each method answering either at once or through a
 * Promise. Alerting awaits every call, so one code path serves the embedded
 * store (a Store) and a shared one over the network (an AsyncStore).
 */
export type MaybeAsync<R> = {
  [K in keyof R]: R[K] extends (...args: infer A) => infer T ? (...args: A) => T | Promise<Awaited<T>> : R[K];
};

/** What alerting needs of a store: alerts with their state, the outbox, and maintenance windows started at run time. */
export interface AlertingStore {
  readonly alerts: MaybeAsync<AlertRepository>;
  readonly outbox: MaybeAsync<OutboxRepository>;
  readonly maintenanceWindows: MaybeAsync<MaintenanceWindowRepository>;
}
