// PostgreSQL alerts: one row per rule and target (alerts), saved with the notifications and state change its change caused.
import type { Clock } from '../../util/clock.ts';
import type { AlertRepository, AsyncRepository } from '../repositories.ts';
import type { NewOutboxRow, NewStateChange, StoredAlert } from '../types.ts';
import type { PostgresDb } from './db.ts';
import { insertOutboxRows } from './outbox.ts';
import { insertStateChanges } from './run-effects.ts';
import { alertOf } from '../row-mappers.ts';

/** A resolution still owed: heldResolution present and not JSON null (as json_extract reads it in SQLite). */
const OWES_RESOLUTION = `coalesce(jsonb_typeof(state::jsonb -> 'heldResolution'), 'null') <> 'null'`;

export class PostgresAlerts implements AsyncRepository<AlertRepository> {
  constructor(
    private readonly db: PostgresDb,
    private readonly clock: Clock,
  ) {}

  private async select(where: string, values: unknown[] = []): Promise<StoredAlert[]> {
    const { rows } = await this.db.query<Record<string, string>>(`SELECT * FROM alerts ${where}`, values);
    return rows.map(alertOf);
  }

  async get(rule: string, target: string): Promise<StoredAlert | undefined> {
    const [found] = await this.select('WHERE rule = $1 AND target = $2', [rule, target]);
    return found;
  }

  open(): Promise<StoredAlert[]> {
    return this.select(`WHERE status <> 'ok'`);
  }

  owing(): Promise<StoredAlert[]> {
    return this.select(`WHERE status <> 'ok' OR ${OWES_RESOLUTION}`);
  }

  recent(limit: number): Promise<StoredAlert[]> {
    return this.select('ORDER BY updated_at DESC LIMIT $1', [limit]);
  }

  async save(
    alert: StoredAlert,
    effects: { notifications?: NewOutboxRow[]; change?: NewStateChange } = {},
  ): Promise<void> {
    await this.db.tx(async (client) => {
      await insertOutboxRows(client, effects.notifications ?? []);
      await client.query(
        `INSERT INTO alerts (rule, target, alert_id, status, state, severity, summary, labels, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (rule, target) DO UPDATE SET status = excluded.status, state = excluded.state, severity = excluded.severity,
           summary = excluded.summary, labels = excluded.labels, updated_at = excluded.updated_at`,
        [
          alert.rule,
          alert.target,
          alert.id,
          alert.status,
          JSON.stringify(alert.state),
          alert.severity,
          alert.summary,
          JSON.stringify(alert.labels),
          this.clock.now(),
        ],
      );
      if (effects.change) await insertStateChanges(client, [effects.change]);
    });
  }
}

export { OWES_RESOLUTION };
