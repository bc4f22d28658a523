// SQLite alerts: one row per rule and target (alerts), saved with the notifications and state change its change caused.
import type { Database, Statement } from 'better-sqlite3';
import type { Clock } from '../../util/clock.ts';
import type { AlertRepository } from '../repositories.ts';
import type { NewOutboxRow, NewStateChange, StoredAlert } from '../types.ts';
import type { SqliteOutbox } from './outbox.ts';
import type { SqliteStateChanges } from './state-changes.ts';
import { alertOf } from '../row-mappers.ts';

export class SqliteAlerts implements AlertRepository {
  private readonly upsert: Statement;
  private readonly byKey: Statement;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly outbox: SqliteOutbox,
    private readonly stateChanges: SqliteStateChanges,
  ) {
    this.byKey = db.prepare('SELECT * FROM alerts WHERE rule = ? AND target = ?');
    this.upsert = db.prepare(
      `INSERT INTO alerts (rule, target, alert_id, status, state, severity, summary, labels, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (rule, target) DO UPDATE SET status = excluded.status, state = excluded.state, severity = excluded.severity, summary = excluded.summary, labels = excluded.labels, updated_at = excluded.updated_at`,
    );
  }

  get(rule: string, target: string): StoredAlert | undefined {
    const row = this.byKey.get(rule, target) as Record<string, string> | undefined;
    return row ? alertOf(row) : undefined;
  }

  open(): StoredAlert[] {
    return (this.db.prepare(`SELECT * FROM alerts WHERE status != 'ok'`).all() as Array<Record<string, string>>).map(
      alertOf,
    );
  }

  owing(): StoredAlert[] {
    return (
      this.db
        .prepare(`SELECT * FROM alerts WHERE status != 'ok' OR json_extract(state, '$.heldResolution') IS NOT NULL`)
        .all() as Array<Record<string, string>>
    ).map(alertOf);
  }

  recent(limit: number): StoredAlert[] {
    return (
      this.db.prepare('SELECT * FROM alerts ORDER BY updated_at DESC LIMIT ?').all(limit) as Array<
        Record<string, string>
      >
    ).map(alertOf);
  }

  save(alert: StoredAlert, effects: { notifications?: NewOutboxRow[]; change?: NewStateChange } = {}): void {
    this.db.transaction(() => {
      this.outbox.add(effects.notifications ?? []);
      this.upsert.run(
        alert.rule,
        alert.target,
        alert.id,
        alert.status,
        JSON.stringify(alert.state),
        alert.severity,
        alert.summary,
        JSON.stringify(alert.labels),
        this.clock.now(),
      );
      if (effects.change) this.stateChanges.record(effects.change);
    })();
  }
}
