// SQLite state changes: the history of probe, item and alert states (state_changes).
import type { Database, Statement } from 'better-sqlite3';
import type { StateChangeRepository } from '../repositories.ts';
import type { NewStateChange, StateChange, StateChangeQuery } from '../types.ts';
import { insertStateChange } from './runs.ts';

export class SqliteStateChanges implements StateChangeRepository {
  private readonly insert: Statement;

  constructor(private readonly db: Database) {
    this.insert =
      db.prepare(`INSERT INTO state_changes (probe, tenant, subject, from_state, to_state, at, run_id, message)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  record(change: NewStateChange): void {
    insertStateChange(this.insert, change);
  }

  list(options: StateChangeQuery = {}): StateChange[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM state_changes WHERE at >= @since AND at < @until AND (@probe IS NULL OR probe = @probe) AND (@tenant IS NULL OR tenant = @tenant)
         AND (@prefix IS NULL OR substr(subject, 1, length(@prefix)) = @prefix) ORDER BY at DESC, id DESC LIMIT @limit`,
      )
      .all({
        since: options.since ?? 0,
        until: options.until ?? Number.MAX_SAFE_INTEGER,
        probe: options.probe ?? null,
        tenant: options.tenant ?? null,
        prefix: options.subjectPrefix ?? null,
        limit: options.limit ?? 10_000,
      })
      .reverse() as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      id: row.id as number,
      probe: row.probe as string,
      tenant: (row.tenant as string | null) ?? null,
      subject: row.subject as string,
      from: (row.from_state as string | null) ?? null,
      to: row.to_state as string,
      at: row.at as number,
      runId: (row.run_id as number | null) ?? null,
      message: row.message as string,
    }));
  }
}
