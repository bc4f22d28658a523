// SQLite probes: the configured probes (probes), each one's latest run (probe_latest) and carried-over state (probe_state).
import type { Database } from 'better-sqlite3';
import type { Clock } from '../../util/clock.ts';
import type { ProbeRepository } from '../repositories.ts';
import type { ConfiguredProbe, LatestFilter, ProbeLatest } from '../types.ts';
import { locationsByProbe, withLocations, type LocationRow } from '../probe-locations.ts';
import { latestOf } from '../row-mappers.ts';

export class SqliteProbes implements ProbeRepository {
  private readonly probeState;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {
    this.probeState = db.prepare('SELECT data FROM probe_state WHERE probe = ?');
  }

  sync(probes: ConfiguredProbe[]): void {
    const now = this.clock.now();
    const upsert = this.db
      .prepare(`INSERT INTO probes (name, kind, tenant, tags, first_seen, last_configured) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, tenant = excluded.tenant, tags = excluded.tags, last_configured = excluded.last_configured, removed_at = NULL`);
    this.db.transaction(() => {
      for (const probe of probes)
        upsert.run(probe.name, probe.kind, probe.tenant ?? null, JSON.stringify(probe.tags), now, now);
    })();
  }

  retireUnconfigured(configured: string[]): string[] {
    const now = this.clock.now();
    return this.db.transaction(() => {
      const removed = this.db
        .prepare(
          'SELECT name FROM probes WHERE removed_at IS NULL AND name NOT IN (SELECT value FROM json_each(?)) ORDER BY name',
        )
        .all(JSON.stringify(configured)) as Array<{ name: string }>;
      const mark = this.db.prepare('UPDATE probes SET removed_at = ? WHERE name = ?');
      for (const { name } of removed) mark.run(now, name);
      return removed.map((row) => row.name);
    })();
  }

  removed(): string[] {
    return (
      this.db.prepare('SELECT name FROM probes WHERE removed_at IS NOT NULL ORDER BY name').all() as Array<{
        name: string;
      }>
    ).map((row) => row.name);
  }

  /** One indexed read, whatever the number of runs. */
  latest(filter: LatestFilter = {}): ProbeLatest[] {
    const rows = this.db
      .prepare(
        `SELECT p.name, p.kind, p.tenant, p.tags, p.removed_at, l.run_id, l.status, l.status_since, l.started_at, l.duration_ms, l.message, l.error_code
         FROM probes p LEFT JOIN probe_latest l ON l.probe = p.name WHERE ? OR p.removed_at IS NULL ORDER BY p.name`,
      )
      .all(filter.includeRemoved ? 1 : 0) as Array<Record<string, unknown>>;
    const names = filter.names ? new Set(filter.names) : undefined;
    const locations = locationsByProbe(
      this.db
        .prepare(
          'SELECT probe, location, status, started_at, status_since, message FROM probe_location_latest ORDER BY probe, location',
        )
        .all() as LocationRow[],
    );
    return rows
      .map((row) => withLocations(latestOf(row), locations))
      .filter(
        (p) =>
          (!names || names.has(p.probe)) &&
          (!filter.status || p.status === filter.status) &&
          (!filter.tenant || p.tenant === filter.tenant) &&
          (!filter.tag || p.tags.includes(filter.tag)),
      );
  }

  state(probe: string): unknown {
    const row = this.probeState.get(probe) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as unknown) : undefined;
  }
}
