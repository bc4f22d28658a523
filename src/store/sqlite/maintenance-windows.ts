// SQLite maintenance windows started at run time (maintenance_windows): a window is in force from starts_at until ends_at or ended_at.
import type { Database, Statement } from 'better-sqlite3';
import type { MaintenanceWindowRepository } from '../repositories.ts';
import type { MaintenanceWindow, NewMaintenanceWindow } from '../types.ts';
import { windowOf } from '../row-mappers.ts';

export class SqliteMaintenanceWindows implements MaintenanceWindowRepository {
  private readonly byId: Statement;
  private readonly inForce: Statement;

  constructor(private readonly db: Database) {
    this.byId = db.prepare('SELECT * FROM maintenance_windows WHERE id = ?');
    // The alert engine asks on every transition it may hold: the index on ends_at keeps this to the windows not yet over.
    this.inForce = db.prepare(
      'SELECT * FROM maintenance_windows WHERE ends_at > @at AND starts_at <= @at AND (ended_at IS NULL OR ended_at > @at) ORDER BY min(ends_at, coalesce(ended_at, ends_at)), id',
    );
  }

  add(window: NewMaintenanceWindow): MaintenanceWindow {
    const { lastInsertRowid } = this.db
      .prepare(
        'INSERT INTO maintenance_windows (probes, reason, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(JSON.stringify(window.probes), window.reason, window.startsAt, window.endsAt, window.createdAt);
    return { ...window, probes: [...window.probes], id: Number(lastInsertRowid), endedAt: null };
  }

  get(id: number): MaintenanceWindow | undefined {
    const row = this.byId.get(id) as Record<string, unknown> | undefined;
    return row ? windowOf(row) : undefined;
  }

  end(id: number, at: number): MaintenanceWindow | undefined {
    this.db
      .prepare(
        'UPDATE maintenance_windows SET ended_at = @at WHERE id = @id AND ends_at > @at AND (ended_at IS NULL OR ended_at > @at)',
      )
      .run({ id, at });
    return this.get(id);
  }

  active(at: number): MaintenanceWindow[] {
    return (this.inForce.all({ at }) as Array<Record<string, unknown>>).map(windowOf);
  }

  list(options: { limit?: number } = {}): MaintenanceWindow[] {
    return (
      this.db.prepare('SELECT * FROM maintenance_windows ORDER BY id DESC LIMIT ?').all(options.limit ?? 50) as Array<
        Record<string, unknown>
      >
    ).map(windowOf);
  }
}
