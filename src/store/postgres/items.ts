// PostgreSQL items: what runs reported (run_items) and each item's current state (item_states).
import type { AsyncRepository, ItemRepository } from '../repositories.ts';
import type { CurrentItem, ItemQuery, ItemState, MailMessageFields, StoredItem } from '../types.ts';
import type { RunItem } from '../../core/probe.ts';
import type { PostgresDb } from './db.ts';

export class PostgresItems implements AsyncRepository<ItemRepository> {
  constructor(private readonly db: PostgresDb) {}

  async list(options: ItemQuery): Promise<StoredItem[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM run_items WHERE type = $1 AND at >= $2 AND at < $3 AND ($4::text IS NULL OR probe = $4)
       AND ($5::text IS NULL OR tenant = $5) ORDER BY at DESC, id DESC LIMIT $6`,
      [
        options.type,
        options.since ?? 0,
        options.until ?? Number.MAX_SAFE_INTEGER,
        options.probe ?? null,
        options.tenant ?? null,
        options.limit ?? 100_000,
      ],
    );
    if (!options.newest) rows.reverse();
    return rows.map((row) => ({
      id: row.id as number,
      runId: row.run_id as number,
      probe: row.probe as string,
      tenant: (row.tenant as string | null) ?? null,
      type: row.type as string,
      key: row.key as string,
      state: (row.state as string | null) ?? null,
      at: row.at as number,
      data: row.data as Record<string, unknown>,
    }));
  }

  async inState(type: string, state: string): Promise<CurrentItem[]> {
    const { rows } = await this.db.query<{ probe: string; key: string; tenant: string | null; data: unknown }>(
      `SELECT s.probe, s.key, p.tenant,
         (SELECT data FROM run_items i WHERE i.probe = s.probe AND i.type = s.type AND i.key = s.key ORDER BY i.at DESC, i.id DESC LIMIT 1) AS data
       FROM item_states s JOIN probes p ON p.name = s.probe WHERE s.type = $1 AND s.state = $2 AND p.removed_at IS NULL`,
      [type, state],
    );
    return rows.map((row) => ({
      probe: row.probe,
      key: row.key,
      tenant: row.tenant,
      data: (row.data as Record<string, unknown> | null) ?? {},
    }));
  }

  async states(options: { tenant: string; typePrefix: string }): Promise<ItemState[]> {
    const { rows } = await this.db.query<ItemState>(
      `SELECT s.probe, s.type, s.key, s.state, s.since FROM item_states s JOIN probes p ON p.name = s.probe
       WHERE p.tenant = $1 AND p.removed_at IS NULL AND starts_with(s.type, $2) ORDER BY s.state = 'listed' DESC, s.key COLLATE "C"`,
      [options.tenant, options.typePrefix],
    );
    return rows;
  }

  /** The items of the runs named, by run id, each run's in the order they were reported. */
  async ofRuns(runIds: number[]): Promise<Map<number, RunItem[]>> {
    const byRun = new Map<number, RunItem[]>();
    if (runIds.length === 0) return byRun;
    const { rows } = await this.db.query<{
      run_id: number;
      type: string;
      key: string;
      state: string | null;
      data: unknown;
    }>('SELECT run_id, type, key, state, data FROM run_items WHERE run_id = ANY($1::int8[]) ORDER BY id', [runIds]);
    for (const row of rows) {
      const items = byRun.get(row.run_id) ?? [];
      items.push({
        type: row.type,
        key: row.key,
        ...(row.state !== null ? { state: row.state } : {}),
        data: row.data as Record<string, unknown>,
      });
      byRun.set(row.run_id, items);
    }
    return byRun;
  }

  /** Reduced in SQL to the fields a report reads; the location is the run's. */
  async mailMessages(options: {
    type: string;
    tenant: string;
    since: number;
    until: number;
  }): Promise<MailMessageFields[]> {
    const { rows } = await this.db.query<MailMessageFields>(
      `SELECT at, data->'seed' AS seed, data->'provider' AS provider, data->'placement' AS placement,
         data->'timeToInboxMs' AS tti, (jsonb_typeof(data->'auth') = 'object')::int AS auth,
         data->'auth'->'spf' AS spf, data->'auth'->'dkim' AS dkim, data->'auth'->'dmarc' AS dmarc,
         data->'auth'->'dkimDomain' AS "dkimDomain", data->'auth'->'compauthReason' AS "compauthReason",
         data->'auth'->'receivedSpf' AS "receivedSpf",
         (SELECT r.location FROM runs r WHERE r.id = i.run_id LIMIT 1) AS location
       FROM run_items i WHERE type = $1 AND tenant = $2 AND at >= $3 AND at < $4 ORDER BY at, id`,
      [options.type, options.tenant, options.since, options.until],
    );
    return rows;
  }
}
