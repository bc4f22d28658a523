// SQLite items: what runs reported (run_items) and each item's current state (item_states).
import type { Database } from 'better-sqlite3';
import type { ItemRepository } from '../repositories.ts';
import type { CurrentItem, ItemQuery, ItemState, MailMessageFields, StoredItem } from '../types.ts';

export class SqliteItems implements ItemRepository {
  constructor(private readonly db: Database) {}

  list(options: ItemQuery): StoredItem[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM run_items WHERE type = @type AND at >= @since AND at < @until AND (@probe IS NULL OR probe = @probe)
         AND (@tenant IS NULL OR tenant = @tenant) ORDER BY at DESC, id DESC LIMIT @limit`,
      )
      .all({
        type: options.type,
        since: options.since ?? 0,
        until: options.until ?? Number.MAX_SAFE_INTEGER,
        probe: options.probe ?? null,
        tenant: options.tenant ?? null,
        limit: options.limit ?? 100_000,
      }) as Array<Record<string, unknown>>;
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
      data: JSON.parse(row.data as string) as Record<string, unknown>,
    }));
  }

  inState(type: string, state: string): CurrentItem[] {
    const rows = this.db
      .prepare(
        `SELECT s.probe, s.key, p.tenant, (SELECT data FROM run_items i WHERE i.probe = s.probe AND i.type = s.type AND i.key = s.key ORDER BY i.at DESC LIMIT 1) AS data
         FROM item_states s LEFT JOIN probes p ON p.name = s.probe WHERE s.type = ? AND s.state = ? AND p.removed_at IS NULL`,
      )
      .all(type, state) as Array<{ probe: string; key: string; tenant: string | null; data: string | null }>;
    return rows.map((row) => ({
      probe: row.probe,
      key: row.key,
      tenant: row.tenant,
      data: row.data ? (JSON.parse(row.data) as Record<string, unknown>) : {},
    }));
  }

  states(options: { tenant: string; typePrefix: string }): ItemState[] {
    return this.db
      .prepare(
        `SELECT s.probe, s.type, s.key, s.state, s.since FROM item_states s JOIN probes p ON p.name = s.probe
         WHERE p.tenant = ? AND p.removed_at IS NULL AND s.type LIKE ? || '%' ORDER BY s.state = 'listed' DESC, s.key`,
      )
      .all(options.tenant, options.typePrefix) as ItemState[];
  }

  /** Reduced in SQL to the fields a report reads (the rest of each item's data is never parsed); the location is the run's. */
  mailMessages(options: { type: string; tenant: string; since: number; until: number }): MailMessageFields[] {
    return this.db
      .prepare(
        `SELECT at, json_extract(data, '$.seed') AS seed, json_extract(data, '$.provider') AS provider,
           json_extract(data, '$.placement') AS placement, json_extract(data, '$.timeToInboxMs') AS tti,
           json_type(data, '$.auth') = 'object' AS auth,
           json_extract(data, '$.auth.spf') AS spf, json_extract(data, '$.auth.dkim') AS dkim, json_extract(data, '$.auth.dmarc') AS dmarc,
           json_extract(data, '$.auth.dkimDomain') AS dkimDomain, json_extract(data, '$.auth.compauthReason') AS compauthReason,
           json_extract(data, '$.auth.receivedSpf') AS receivedSpf,
           (SELECT r.location FROM run_log r WHERE r.id = i.run_id) AS location
         FROM run_items i WHERE type = ? AND tenant = ? AND at >= ? AND at < ? ORDER BY at, id`,
      )
      .all(options.type, options.tenant, options.since, options.until) as MailMessageFields[];
  }
}
