// PostgreSQL maintenance windows started at run time (maintenance_windows): in force from starts_at until ends_at or ended_at.
import type { AsyncRepository, MaintenanceWindowRepository } from '../repositories.ts';
import type { MaintenanceWindow, NewMaintenanceWindow } from '../types.ts';
import type { PostgresDb } from './db.ts';
import { windowOf } from '../row-mappers.ts';

export class PostgresMaintenanceWindows implements AsyncRepository<MaintenanceWindowRepository> {
  constructor(private readonly db: PostgresDb) {}

  private async select(where: string, values: unknown[]): Promise<MaintenanceWindow[]> {
    const { rows } = await this.db.query(`SELECT * FROM maintenance_windows ${where}`, values);
    return rows.map(windowOf);
  }

  async add(window: NewMaintenanceWindow): Promise<MaintenanceWindow> {
    // bigserial: ids are never reused, so a window's id never names a later one.
    const { rows } = await this.db.query<{ id: number }>(
      'INSERT INTO maintenance_windows (probes, reason, starts_at, ends_at, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [JSON.stringify(window.probes), window.reason, window.startsAt, window.endsAt, window.createdAt],
    );
    return { ...window, probes: [...window.probes], id: rows[0]?.id ?? 0, endedAt: null };
  }

  async get(id: number): Promise<MaintenanceWindow | undefined> {
    return (await this.select('WHERE id = $1', [id]))[0];
  }

  async end(id: number, at: number): Promise<MaintenanceWindow | undefined> {
    await this.db.query(
      'UPDATE maintenance_windows SET ended_at = $2 WHERE id = $1 AND ends_at > $2 AND (ended_at IS NULL OR ended_at > $2)',
      [id, at],
    );
    return this.get(id);
  }

  active(at: number): Promise<MaintenanceWindow[]> {
    return this.select(
      'WHERE ends_at > $1 AND starts_at <= $1 AND (ended_at IS NULL OR ended_at > $1) ORDER BY least(ends_at, coalesce(ended_at, ends_at)), id',
      [at],
    );
  }

  list(options: { limit?: number } = {}): Promise<MaintenanceWindow[]> {
    return this.select('ORDER BY id DESC LIMIT $1', [options.limit ?? 50]);
  }
}
