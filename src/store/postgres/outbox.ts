// PostgreSQL outbox: alert notifications (alert_outbox), leased to one sender at a time under row locks (FOR UPDATE SKIP LOCKED).
import type { AsyncRepository, OutboxRepository } from '../repositories.ts';
import type { LeasedRow, NewOutboxRow, OutboxRow, OutboxStatus, Settlement } from '../types.ts';
import { outboxRowOf } from '../sqlite/outbox.ts';
import type { PostgresDb, Queryable } from './db.ts';
import { columnsOf, insertFrom } from './rows.ts';

/**
 * What may be claimed ($1 is now): pending, due, not expired, not leased by a live claim, and first in line
 * for its alert and channel (a resolution never overtakes the firing queued before it; tests are in no line).
 */
const CLAIMABLE = `o.status = 'pending' AND o.next_attempt_at <= $1 AND o.expires_at > $1
  AND (o.lease_until IS NULL OR o.lease_until <= $1)
  AND (o.event = 'test' OR NOT EXISTS (
    SELECT 1 FROM alert_outbox e WHERE e.alert_id = o.alert_id AND e.channel = o.channel AND e.status = 'pending' AND e.id < o.id AND e.event <> 'test'))`;

/** Queues notifications in one statement (inside the caller's transaction when given its client). */
export async function insertOutboxRows(db: Queryable, rows: NewOutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    insertFrom(
      'alert_outbox',
      [
        ['idempotency_key', 'text'],
        ['alert_id', 'text'],
        ['channel', 'text'],
        ['event', 'text'],
        ['body', 'text'],
        ['created_at', 'int8'],
        ['expires_at', 'int8'],
        ['next_attempt_at', 'int8'],
      ],
      'ON CONFLICT (idempotency_key, channel) DO NOTHING',
    ),
    columnsOf(rows, [
      (r) => r.key,
      (r) => r.alertId,
      (r) => r.channel,
      (r) => r.event,
      (r) => r.body,
      (r) => r.createdAt,
      (r) => r.expiresAt,
      (r) => r.createdAt,
    ]),
  );
}

async function lease(
  client: Queryable,
  found: Record<string, unknown>,
  holder: { owner: string; until: number },
): Promise<LeasedRow> {
  await client.query('UPDATE alert_outbox SET lease_owner = $1, lease_until = $2 WHERE id = $3', [
    holder.owner,
    holder.until,
    found.id,
  ]);
  return {
    row: outboxRowOf({ ...found, lease_owner: holder.owner, lease_until: holder.until }),
    body: found.body as string,
  };
}

export class PostgresOutbox implements AsyncRepository<OutboxRepository> {
  constructor(private readonly db: PostgresDb) {}

  add(rows: NewOutboxRow[]): Promise<void> {
    return insertOutboxRows(this.db, rows);
  }

  async hasWork(channel: string, now: number): Promise<boolean> {
    const { rows } = await this.db.query<{ work: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM alert_outbox WHERE channel = $1 AND status = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2))
           OR EXISTS (SELECT 1 FROM alert_outbox WHERE channel = $1 AND status = 'pending' AND expires_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)) AS work`,
      [channel, now],
    );
    return rows[0]?.work === true;
  }

  /** The row is locked (SKIP LOCKED: a row another sender is leasing is passed over, never waited for). */
  claimNext(
    channel: string,
    now: number,
    holder: { owner: string; until: number },
  ): Promise<{ leased: LeasedRow | undefined; expired: number }> {
    return this.db.tx(async (client) => {
      const expired = await client.query(
        `UPDATE alert_outbox SET status = 'expired', finished_at = $1, last_error = coalesce(last_error, 'expired before the first attempt'), lease_owner = NULL, lease_until = NULL
         WHERE channel = $2 AND status = 'pending' AND expires_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)`,
        [now, channel],
      );
      const { rows } = await client.query(
        `SELECT o.* FROM alert_outbox o WHERE o.channel = $2 AND ${CLAIMABLE} ORDER BY o.next_attempt_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED`,
        [now, channel],
      );
      return { leased: rows[0] ? await lease(client, rows[0], holder) : undefined, expired: expired.rowCount ?? 0 };
    });
  }

  claim(
    id: number,
    now: number,
    leaseFor: (channel: string) => { owner: string; until: number } | undefined,
  ): Promise<LeasedRow | undefined> {
    return this.db.tx(async (client) => {
      const { rows } = await client.query(
        `SELECT o.* FROM alert_outbox o WHERE o.id = $2 AND ${CLAIMABLE} FOR UPDATE OF o SKIP LOCKED`,
        [now, id],
      );
      const found = rows[0];
      const holder = found ? leaseFor(found.channel as string) : undefined;
      return found && holder ? lease(client, found, holder) : undefined;
    });
  }

  async settle(s: Settlement): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE alert_outbox SET status = $1, attempts = attempts + 1, last_status = $2, last_error = $3, last_response = $4,
         next_attempt_at = $5, finished_at = $6, lease_owner = NULL, lease_until = NULL
       WHERE id = $7 AND lease_owner = $8`,
      [s.status, s.lastStatus, s.lastError, s.lastResponse, s.nextAttemptAt, s.finishedAt, s.id, s.owner],
    );
    return (rowCount ?? 0) > 0;
  }

  private async rows(where: string, values: unknown[]): Promise<OutboxRow[]> {
    const { rows } = await this.db.query(`SELECT * FROM alert_outbox ${where}`, values);
    return rows.map(outboxRowOf);
  }

  async get(id: number): Promise<OutboxRow | undefined> {
    return (await this.rows('WHERE id = $1', [id]))[0];
  }

  async find(key: string, channel: string): Promise<OutboxRow | undefined> {
    return (await this.rows('WHERE idempotency_key = $1 AND channel = $2', [key, channel]))[0];
  }

  list(options: { status?: OutboxStatus; limit?: number } = {}): Promise<OutboxRow[]> {
    return this.rows('WHERE ($1::text IS NULL OR status = $1) ORDER BY id DESC LIMIT $2', [
      options.status ?? null,
      options.limit ?? 100,
    ]);
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    const counts = { pending: 0, delivered: 0, failed: 0, expired: 0 };
    const { rows } = await this.db.query<{ status: OutboxStatus; n: number }>(
      'SELECT status, count(*) AS n FROM alert_outbox GROUP BY status',
    );
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async waiting(alertId: string, channel: string): Promise<boolean> {
    const { rows } = await this.db.query<{ waiting: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM alert_outbox WHERE alert_id = $1 AND channel = $2 AND status = 'pending' AND event <> 'test') AS waiting`,
      [alertId, channel],
    );
    return rows[0]?.waiting === true;
  }

  async byChannel(): Promise<Array<{ channel: string; status: OutboxStatus; count: number; oldestCreatedAt: number }>> {
    const { rows } = await this.db.query<{ channel: string; status: OutboxStatus; count: number; oldest: number }>(
      'SELECT channel, status, count(*) AS count, min(created_at) AS oldest FROM alert_outbox GROUP BY channel, status ORDER BY channel COLLATE "C", status',
    );
    return rows.map((r) => ({ channel: r.channel, status: r.status, count: r.count, oldestCreatedAt: r.oldest }));
  }

  async expireUnconfigured(channels: string[], now: number, dueBefore: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE alert_outbox SET status = 'expired', finished_at = $1, last_error = 'channel ' || channel || ' is not in the daemon''s configuration', lease_owner = NULL, lease_until = NULL
       WHERE status = 'pending' AND channel <> ALL($2::text[]) AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $1)`,
      [now, channels, dueBefore],
    );
    return rowCount ?? 0;
  }

  async leaseOwners(now: number): Promise<string[]> {
    const { rows } = await this.db.query<{ owner: string }>(
      `SELECT DISTINCT lease_owner AS owner FROM alert_outbox WHERE status = 'pending' AND lease_until > $1`,
      [now],
    );
    return rows.map((r) => r.owner);
  }

  async releaseLeases(owner: string): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE alert_outbox SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_owner = $1`,
      [owner],
    );
    return rowCount ?? 0;
  }
}
