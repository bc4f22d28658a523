// PostgreSQL state changes: the history of probe, item and alert states (state_changes).
import type { AsyncRepository, StateChangeRepository } from '../repositories.ts';
import type { NewStateChange, StateChange, StateChangeQuery } from '../types.ts';
import type { PostgresDb } from './db.ts';
import { insertStateChanges } from './run-effects.ts';

export class PostgresStateChanges implements AsyncRepository<StateChangeRepository> {
  constructor(private readonly db: PostgresDb) {}

  async record(change: NewStateChange): Promise<void> {
    await insertStateChanges(this.db, [change]);
  }

  async list(options: StateChangeQuery = {}): Promise<StateChange[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM state_changes WHERE at >= $1 AND at < $2 AND ($3::text IS NULL OR probe = $3) AND ($4::text IS NULL OR tenant = $4)
       AND ($5::text IS NULL OR starts_with(subject, $5)) ORDER BY at DESC, id DESC LIMIT $6`,
      [
        options.since ?? 0,
        options.until ?? Number.MAX_SAFE_INTEGER,
        options.probe ?? null,
        options.tenant ?? null,
        options.subjectPrefix ?? null,
        options.limit ?? 10_000,
      ],
    );
    return rows.reverse().map((row) => ({
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
