// The repositories alerting reads and writes, answering at once (SQLite) or through Promises (PostgreSQL).
import type {
  AlertRepository,
  MaintenanceWindowRepository,
  MaybeAsync,
  OutboxRepository,
} from '../store/repositories.ts';

export type { MaybeAsync };

/** What alerting needs of a store: alerts with their state, the outbox, and maintenance windows started at run time. */
export interface AlertingStore {
  readonly alerts: MaybeAsync<AlertRepository>;
  readonly outbox: MaybeAsync<OutboxRepository>;
  readonly maintenanceWindows: MaybeAsync<MaintenanceWindowRepository>;
}
