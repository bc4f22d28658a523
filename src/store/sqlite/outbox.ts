// SQLite outbox: alert notifications (alert_outbox), leased to one sender at a time in write transactions.
import type { Database } from 'better-sqlite3';
import type { OutboxRepository } from '../repositories.ts';
import type { LeasedRow, NewOutboxRow, OutboxRow, OutboxStatus, Settlement } from '../types.ts';

export function outboxRowOf(r: Record<string, unknown>): OutboxRow {
  return {
    id: r.id as number,
    key: r.idempotency_key as string,
    alertId: r.alert_id as string,
    channel: r.channel as string,
    event: r.event as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number,
    nextAttemptAt: r.next_attempt_at as number,
    attempts: r.attempts as number,
    status: r.status as OutboxStatus,
    lastStatus: (r.last_status as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    lastResponse: (r.last_response as string | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseUntil: (r.lease_until as number | null) ?? null,
  };
}

/**
 * What may be claimed: pending, due, not expired, not leased by a live claim,
 * and first in line for its alert and channel, so a resolution never overtakes
 * the firing (or reminder) queued before it. Tests are not part of any alert's story.
 */
const CLAIMABLE = `o.status = 'pending' AND o.next_attempt_at <= @now AND o.expires_at > @now
  AND (o.lease_until IS NULL OR o.lease_until <= @now)
  AND (o.event = 'test' OR NOT EXISTS (
    SELECT 1 FROM alert_outbox e WHERE e.alert_id = o.alert_id AND e.channel = o.channel AND e.status = 'pending' AND e.id < o.id AND e.event != 'test'))`;

export function insertOutboxStatement(db: Database) {
  return db.prepare(
    `INSERT OR IGNORE INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
}

function statements(db: Database) {
  return {
    insert: insertOutboxStatement(db),
    // Read without a write lock: most pumps find nothing, and must not queue behind writers for that.
    // Two index range scans (due, overdue); one condition with OR would read every pending row of the channel.
    laneHasWork: db.prepare(
      `SELECT EXISTS (SELECT 1 FROM alert_outbox WHERE channel = @channel AND status = 'pending' AND next_attempt_at <= @now AND (lease_until IS NULL OR lease_until <= @now))
           OR EXISTS (SELECT 1 FROM alert_outbox WHERE channel = @channel AND status = 'pending' AND expires_at <= @now AND (lease_until IS NULL OR lease_until <= @now)) AS work`,
    ),
    expireOverdue: db.prepare(
      `UPDATE alert_outbox SET status = 'expired', finished_at = @now, last_error = coalesce(last_error, 'expired before the first attempt'), lease_owner = NULL, lease_until = NULL
       WHERE channel = @channel AND status = 'pending' AND expires_at <= @now AND (lease_until IS NULL OR lease_until <= @now)`,
    ),
    nextInLane: db.prepare(
      `SELECT o.* FROM alert_outbox o WHERE o.channel = @channel AND ${CLAIMABLE} ORDER BY o.next_attempt_at, o.id LIMIT 1`,
    ),
    claimableById: db.prepare(`SELECT o.* FROM alert_outbox o WHERE o.id = @id AND ${CLAIMABLE}`),
    lease: db.prepare('UPDATE alert_outbox SET lease_owner = @owner, lease_until = @until WHERE id = @id'),
    settle: db.prepare(
      `UPDATE alert_outbox SET status = @status, attempts = attempts + 1, last_status = @lastStatus, last_error = @lastError, last_response = @lastResponse,
         next_attempt_at = @nextAttemptAt, finished_at = @finishedAt, lease_owner = NULL, lease_until = NULL
       WHERE id = @id AND lease_owner = @owner`,
    ),
    byId: db.prepare('SELECT * FROM alert_outbox WHERE id = ?'),
    byKey: db.prepare('SELECT * FROM alert_outbox WHERE idempotency_key = ? AND channel = ?'),
  };
}

export class SqliteOutbox implements OutboxRepository {
  private readonly sql: ReturnType<typeof statements>;

  constructor(private readonly db: Database) {
    this.sql = statements(db);
  }

  /** Inside the caller's transaction when there is one. */
  add(rows: NewOutboxRow[]): void {
    for (const row of rows)
      this.sql.insert.run(
        row.key,
        row.alertId,
        row.channel,
        row.event,
        row.body,
        row.createdAt,
        row.expiresAt,
        row.createdAt,
      );
  }

  hasWork(channel: string, now: number): boolean {
    return (this.sql.laneHasWork.get({ channel, now }) as { work: number }).work !== 0;
  }

  private lease(found: Record<string, unknown>, lease: { owner: string; until: number }): LeasedRow {
    this.sql.lease.run({ owner: lease.owner, until: lease.until, id: found.id });
    return {
      row: outboxRowOf({ ...found, lease_owner: lease.owner, lease_until: lease.until }),
      body: found.body as string,
    };
  }

  claimNext(
    channel: string,
    now: number,
    lease: { owner: string; until: number },
  ): { leased: LeasedRow | undefined; expired: number } {
    return this.db
      .transaction(() => {
        const expired = this.sql.expireOverdue.run({ channel, now }).changes;
        const found = this.sql.nextInLane.get({ channel, now }) as Record<string, unknown> | undefined;
        return { leased: found ? this.lease(found, lease) : undefined, expired };
      })
      .immediate();
  }

  claim(
    id: number,
    now: number,
    leaseFor: (channel: string) => { owner: string; until: number } | undefined,
  ): LeasedRow | undefined {
    return this.db
      .transaction(() => {
        const found = this.sql.claimableById.get({ id, now }) as Record<string, unknown> | undefined;
        const lease = found ? leaseFor(found.channel as string) : undefined;
        return found && lease ? this.lease(found, lease) : undefined;
      })
      .immediate();
  }

  settle(settlement: Settlement): boolean {
    return this.sql.settle.run(settlement).changes > 0;
  }

  get(id: number): OutboxRow | undefined {
    const found = this.sql.byId.get(id) as Record<string, unknown> | undefined;
    return found ? outboxRowOf(found) : undefined;
  }

  find(key: string, channel: string): OutboxRow | undefined {
    const found = this.sql.byKey.get(key, channel) as Record<string, unknown> | undefined;
    return found ? outboxRowOf(found) : undefined;
  }

  list(options: { status?: OutboxStatus; limit?: number } = {}): OutboxRow[] {
    return (
      this.db
        .prepare(`SELECT * FROM alert_outbox WHERE (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit`)
        .all({ status: options.status ?? null, limit: options.limit ?? 100 }) as Array<Record<string, unknown>>
    ).map(outboxRowOf);
  }

  counts(): Record<OutboxStatus, number> {
    const counts = { pending: 0, delivered: 0, failed: 0, expired: 0 };
    for (const r of this.db.prepare('SELECT status, count(*) AS n FROM alert_outbox GROUP BY status').all() as Array<{
      status: OutboxStatus;
      n: number;
    }>)
      counts[r.status] = r.n;
    return counts;
  }

  waiting(alertId: string, channel: string): boolean {
    // The partial index alert_outbox_order (alert_id, channel, id) WHERE status = 'pending' answers this.
    const found = this.db
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM alert_outbox WHERE alert_id = ? AND channel = ? AND status = 'pending' AND event != 'test') AS waiting`,
      )
      .get(alertId, channel);
    return (found as { waiting: number }).waiting === 1;
  }

  byChannel(): Array<{ channel: string; status: OutboxStatus; count: number; oldestCreatedAt: number }> {
    const rows = this.db
      .prepare(
        'SELECT channel, status, count(*) AS count, min(created_at) AS oldestCreatedAt FROM alert_outbox GROUP BY channel, status ORDER BY channel, status',
      )
      .all();
    return rows as Array<{ channel: string; status: OutboxStatus; count: number; oldestCreatedAt: number }>;
  }

  expireUnconfigured(channels: string[], now: number, dueBefore: number): number {
    return this.db
      .prepare(
        `UPDATE alert_outbox SET status = 'expired', finished_at = @now, last_error = 'channel ' || channel || ' is not in the daemon''s configuration', lease_owner = NULL, lease_until = NULL
         WHERE status = 'pending' AND channel NOT IN (SELECT value FROM json_each(@names)) AND next_attempt_at <= @cutoff AND (lease_until IS NULL OR lease_until <= @now)`,
      )
      .run({ now, names: JSON.stringify(channels), cutoff: dueBefore }).changes;
  }

  leaseOwners(now: number): string[] {
    return (
      this.db
        .prepare(`SELECT DISTINCT lease_owner AS owner FROM alert_outbox WHERE status = 'pending' AND lease_until > ?`)
        .all(now) as Array<{ owner: string }>
    ).map((r) => r.owner);
  }

  releaseLeases(owner: string): number {
    return this.db
      .prepare(
        `UPDATE alert_outbox SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_owner = ?`,
      )
      .run(owner).changes;
  }
}
