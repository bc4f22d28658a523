// PostgreSQL probes: the configured probes (probes), each one's latest run overall and per location, and carried-over state.
import type { Clock } from '../../util/clock.ts';
import type { AsyncRepository, ProbeRepository } from '../repositories.ts';
import type { ConfiguredProbe, LatestFilter, ProbeLatest } from '../types.ts';
import { locationsByProbe, withLocations, type LocationRow } from '../probe-locations.ts';
import type { PostgresDb } from './db.ts';
import { columnsOf, insertFrom } from './rows.ts';
import { latestOf } from '../row-mappers.ts';

export class PostgresProbes implements AsyncRepository<ProbeRepository> {
  constructor(
    private readonly db: PostgresDb,
    private readonly clock: Clock,
  ) {}

  async sync(probes: ConfiguredProbe[]): Promise<void> {
    if (probes.length === 0) return;
    const now = this.clock.now();
    await this.db.query(
      insertFrom(
        'probes',
        [
          ['name', 'text'],
          ['kind', 'text'],
          ['tenant', 'text'],
          ['tags', 'text'],
          ['first_seen', 'int8'],
          ['last_configured', 'int8'],
        ],
        `ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, tenant = excluded.tenant, tags = excluded.tags,
           last_configured = excluded.last_configured, removed_at = NULL`,
      ),
      columnsOf(probes, [
        (p) => p.name,
        (p) => p.kind,
        (p) => p.tenant ?? null,
        (p) => JSON.stringify(p.tags),
        () => now,
        () => now,
      ]),
    );
  }

  async retireUnconfigured(configured: string[]): Promise<string[]> {
    const { rows } = await this.db.query<{ name: string }>(
      `UPDATE probes SET removed_at = $1 WHERE removed_at IS NULL AND name <> ALL($2::text[]) RETURNING name`,
      [this.clock.now(), configured],
    );
    return rows.map((row) => row.name).sort();
  }

  async removed(): Promise<string[]> {
    const { rows } = await this.db.query<{ name: string }>(
      'SELECT name FROM probes WHERE removed_at IS NOT NULL ORDER BY name',
    );
    return rows.map((row) => row.name);
  }

  async latest(filter: LatestFilter = {}): Promise<ProbeLatest[]> {
    const { rows } = await this.db.query(
      `SELECT p.name, p.kind, p.tenant, p.tags, p.removed_at, l.run_id, l.status, l.status_since, l.started_at, l.duration_ms, l.message, l.error_code
       FROM probes p LEFT JOIN probe_latest l ON l.probe = p.name WHERE $1 OR p.removed_at IS NULL ORDER BY p.name COLLATE "C"`,
      [filter.includeRemoved === true],
    );
    const located = await this.db.query<LocationRow>(
      'SELECT probe, location, status, started_at, status_since, message FROM probe_location_latest ORDER BY probe, location COLLATE "C"',
    );
    const locations = locationsByProbe(located.rows);
    const names = filter.names ? new Set(filter.names) : undefined;
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

  async state(probe: string): Promise<unknown> {
    const { rows } = await this.db.query<{ data: string }>('SELECT data FROM probe_state WHERE probe = $1', [probe]);
    return rows[0] ? (JSON.parse(rows[0].data) as unknown) : undefined;
  }
}
