import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import { processAlive, thisHost } from '../util/process-alive.ts';
import type { AlertsConfig, ChannelConfig } from './config.ts';
import { headersFor, outgoingBody, serialize, type Notification } from './channels.ts';
import { fetchTransport, judge, type Outcome, type Transport } from './delivery.ts';
import { Lane } from './lane.ts';

export { fetchTransport, retryAfterMs, type SendResult, type Transport } from './delivery.ts';

export const OUTBOX_STATUSES = ['pending', 'delivered', 'failed', 'expired'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export function isOutboxStatus(text: string): text is OutboxStatus {
  return (OUTBOX_STATUSES as readonly string[]).includes(text);
}

export interface OutboxRow {
  id: number;
  key: string;
  alertId: string;
  channel: string;
  event: string;
  createdAt: number;
  expiresAt: number;
  nextAttemptAt: number;
  attempts: number;
  status: OutboxStatus;
  lastStatus: number | null;
  lastError: string | null;
  /** The start of the receiver's answer to the last attempt that was not a 2xx. */
  lastResponse: string | null;
  finishedAt: number | null;
  /** Who is sending it right now (`pid@host/…`), and until when that claim holds. */
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/** A lease outlives the attempt it covers (the channel's timeout) by this much, so only a stalled or dead sender loses one. */
const LEASE_MARGIN_MS = 30_000;
/**
 * A row of a channel this configuration does not have is left alone until it
 * has been due this long: whoever queued it (an `alert test` with another
 * configuration) is still trying it before then.
 */
const FOREIGN_ROW_GRACE_MS = 60_000;

interface Claimed {
  row: OutboxRow;
  body: string;
  channel: ChannelConfig;
}

function rowOf(r: Record<string, unknown>): OutboxRow {
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

/** `pid@host/…` of a lease owner; undefined for an owner written some other way. */
function ownerProcess(owner: string): { pid: number; host: string } | undefined {
  const match = /^(\d+)@(.+)\/[^/]*$/.exec(owner);
  return match?.[1] && match[2] ? { pid: Number(match[1]), host: match[2] } : undefined;
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

function statements(db: Database) {
  return {
    insert: db.prepare(
      `INSERT OR IGNORE INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
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
    nextInLane: db.prepare(`SELECT o.* FROM alert_outbox o WHERE o.channel = @channel AND ${CLAIMABLE} ORDER BY o.next_attempt_at, o.id LIMIT 1`),
    claimableById: db.prepare(`SELECT o.* FROM alert_outbox o WHERE o.id = @id AND ${CLAIMABLE}`),
    lease: db.prepare('UPDATE alert_outbox SET lease_owner = @owner, lease_until = @until WHERE id = @id'),
    settle: db.prepare(
      `UPDATE alert_outbox SET status = @status, attempts = attempts + 1, last_status = @lastStatus, last_error = @lastError, last_response = @answer,
         next_attempt_at = @next, finished_at = @finished, lease_owner = NULL, lease_until = NULL
       WHERE id = @id AND lease_owner = @owner`,
    ),
    byId: db.prepare('SELECT * FROM alert_outbox WHERE id = ?'),
    byKey: db.prepare('SELECT * FROM alert_outbox WHERE idempotency_key = ? AND channel = ?'),
  };
}

/**
 * Durable delivery: a notification is a row before any byte is sent, so a
 * crash (even kill -9) loses nothing — the next process picks up every
 * pending row. Delivery is at-least-once; the Idempotency-Key lets receivers
 * drop a repeat after a crash between their 2xx and our commit.
 *
 * A row is leased (owner and expiry, in one write transaction) before it is
 * sent, so no row is ever in flight twice, whatever the number of processes
 * on the database. Each channel drains in its own lane.
 */
export class Outbox {
  /** This instance's lease owner: `pid@host/random` (the pid lets a restarted daemon free a dead process's leases at once). */
  readonly owner: string;
  private readonly sql: ReturnType<typeof statements>;
  private readonly lanes: Map<string, Lane<Claimed>>;
  private attempted = 0;

  constructor(
    private readonly deps: {
      db: Database;
      clock: Clock;
      logger: Logger;
      channels: ChannelConfig[];
      delivery: AlertsConfig['delivery'];
      transport?: Transport;
      random?: () => number;
    },
  ) {
    this.owner = `${process.pid}@${thisHost()}/${randomUUID().slice(0, 8)}`;
    this.sql = statements(deps.db);
    this.lanes = new Map(
      deps.channels.map((channel) => [
        channel.name,
        new Lane<Claimed>({
          slots: deps.delivery.concurrency,
          claim: () => this.claimNext(channel),
          send: (claimed) => this.attempt(claimed),
          onError: (error) => deps.logger.error({ err: error, channel: channel.name }, 'alert delivery could not use the outbox'),
        }),
      ]),
    );
  }

  channel(name: string): ChannelConfig | undefined {
    return this.deps.channels.find((c) => c.name === name);
  }

  /** Writes the notification for each channel (inside the caller's transaction when there is one). Duplicates are ignored. */
  enqueue(notification: Notification, channels: string[]): void {
    const now = this.deps.clock.now();
    for (const name of channels) {
      const channel = this.channel(name);
      if (!channel) continue;
      this.sql.insert.run(notification.key, notification.alert.id, name, notification.event, serialize(channel, notification), now, now + this.deps.delivery.expireAfter, now);
    }
  }

  /** Backoff before attempt n+1: exponential from initialBackoff, capped, with jitter in [50%, 100%]. */
  backoff(attempts: number): number {
    const { initialBackoff, maxBackoff } = this.deps.delivery;
    const base = Math.min(maxBackoff, initialBackoff * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.5 + 0.5 * (this.deps.random ?? Math.random)()));
  }

  private lease(found: Record<string, unknown>, channel: ChannelConfig, now: number): Claimed {
    const until = now + channel.timeout + LEASE_MARGIN_MS;
    this.sql.lease.run({ owner: this.owner, until, id: found.id });
    return { row: rowOf({ ...found, lease_owner: this.owner, lease_until: until }), body: found.body as string, channel };
  }

  /** The channel's next row in line, leased to us; expires what outlived `expireAfter` on the way. */
  private claimNext(channel: ChannelConfig): Claimed | undefined {
    const { db, clock, logger } = this.deps;
    if (!(this.sql.laneHasWork.get({ channel: channel.name, now: clock.now() }) as { work: number }).work) return undefined;
    return db
      .transaction(() => {
        const now = clock.now();
        const expired = this.sql.expireOverdue.run({ channel: channel.name, now }).changes;
        if (expired > 0) logger.error({ channel: channel.name, rows: expired }, 'alert notifications expired undelivered');
        const found = this.sql.nextInLane.get({ channel: channel.name, now }) as Record<string, unknown> | undefined;
        return found ? this.lease(found, channel, now) : undefined;
      })
      .immediate();
  }

  /** One given row, leased to us, if it may be sent now. */
  private claimRow(id: number): Claimed | undefined {
    const { db, clock } = this.deps;
    return db
      .transaction(() => {
        const now = clock.now();
        const found = this.sql.claimableById.get({ id, now }) as Record<string, unknown> | undefined;
        const channel = found ? this.channel(found.channel as string) : undefined;
        return found && channel ? this.lease(found, channel, now) : undefined;
      })
      .immediate();
  }

  private async attempt({ row, body, channel }: Claimed): Promise<void> {
    const { clock } = this.deps;
    const payload = outgoingBody(channel, body);
    const result = await (this.deps.transport ?? fetchTransport)(channel.url, { headers: headersFor(channel, payload, row.key, clock.now()), body: payload, timeoutMs: channel.timeout });
    const attempts = row.attempts + 1;
    const now = clock.now();
    const outcome = judge(result, { attempts, expiresAt: row.expiresAt, now, backoff: this.backoff(attempts), clientErrorAttempts: this.deps.delivery.clientErrorAttempts });
    this.attempted++;
    this.settle(row, outcome, now);
    this.report(row, attempts, outcome, now);
  }

  private settle(row: OutboxRow, outcome: Outcome, now: number): void {
    const finished = outcome.kind === 'retry' ? null : now;
    const failure = outcome.kind === 'delivered' ? { lastError: null, answer: null } : { lastError: outcome.error, answer: outcome.answer };
    const changed = this.sql.settle.run({
      id: row.id,
      owner: this.owner,
      status: outcome.kind === 'retry' ? 'pending' : outcome.kind,
      lastStatus: outcome.status,
      ...failure,
      next: outcome.kind === 'retry' ? outcome.at : row.nextAttemptAt,
      finished,
    }).changes;
    // Only a sender stalled past its lease gets here; the row is someone else's now, and their attempt counts.
    if (changed === 0) this.deps.logger.warn({ channel: row.channel, alert: row.alertId, key: row.key }, 'alert notification lease ran out before its attempt ended; another sender has the row');
  }

  private report(row: OutboxRow, attempts: number, outcome: Outcome, now: number): void {
    const about = { channel: row.channel, alert: row.alertId, event: row.event, attempts };
    if (outcome.kind === 'retry') this.deps.logger.warn({ ...about, error: outcome.error, retryInMs: outcome.at - now }, 'alert notification not delivered yet; will retry');
    if (outcome.kind === 'expired') this.deps.logger.error({ ...about, error: outcome.error }, 'alert notification expired undelivered');
    if (outcome.kind === 'failed') this.deps.logger.error({ ...about, error: outcome.error, answer: outcome.answer }, 'alert notification failed: the receiver refused it; not retried');
  }

  /** Starts sending what is due on every channel; does not wait. */
  pump(): void {
    for (const lane of this.lanes.values()) lane.pump();
  }

  /**
   * Sends what is due on every channel and resolves when those attempts have
   * ended. Channels do not wait for one another: a lane refills as soon as
   * one of its own attempts ends. Returns the attempts that ended meanwhile.
   */
  async drain(): Promise<number> {
    const before = this.attempted;
    this.pump();
    await Promise.all([...this.lanes.values()].map((lane) => lane.settled()));
    return this.attempted - before;
  }

  /** No new attempts; resolves when those in flight have ended and been recorded. */
  async stop(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.stop()));
  }

  /**
   * Tries one row until it is delivered, failed or expired, or `timeoutMs`
   * passes; sends nothing else (`scaiprobe alert test`). If another process
   * holds the row, this waits for its outcome.
   */
  async deliverOwn(id: number, timeoutMs: number): Promise<OutboxRow | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const claimed = this.claimRow(id);
      if (claimed) await this.attempt(claimed);
      const row = this.row(id);
      const left = deadline - Date.now();
      if (!row || row.status !== 'pending' || left <= 0) return row;
      const due = Math.max(row.nextAttemptAt, row.leaseUntil ?? 0) - this.deps.clock.now();
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, Math.max(50, Math.min(due, 500)))));
    }
  }

  /**
   * Expires pending rows of channels this configuration does not have (a
   * channel removed from it). Only the daemon calls this: it owns the
   * configuration; `alert test` with another one must not touch its rows.
   */
  expireUnconfigured(): number {
    const now = this.deps.clock.now();
    const names = JSON.stringify(this.deps.channels.map((c) => c.name));
    return this.deps.db
      .prepare(
        `UPDATE alert_outbox SET status = 'expired', finished_at = @now, last_error = 'channel ' || channel || ' is not in the daemon''s configuration', lease_owner = NULL, lease_until = NULL
         WHERE status = 'pending' AND channel NOT IN (SELECT value FROM json_each(@names)) AND next_attempt_at <= @cutoff AND (lease_until IS NULL OR lease_until <= @now)`,
      )
      .run({ now, names, cutoff: now - FOREIGN_ROW_GRACE_MS }).changes;
  }

  /**
   * Frees the leases of processes on this host that are gone (a daemon killed
   * mid-send), so their rows go out now rather than when the lease runs out.
   */
  releaseOrphanedLeases(): number {
    const now = this.deps.clock.now();
    const owners = (this.deps.db.prepare(`SELECT DISTINCT lease_owner AS owner FROM alert_outbox WHERE status = 'pending' AND lease_until > ?`).all(now) as Array<{ owner: string }>).map((r) => r.owner);
    const host = thisHost();
    const orphaned = owners.filter((owner) => {
      const holder = ownerProcess(owner);
      return owner !== this.owner && holder?.host === host && !processAlive(holder.pid);
    });
    const release = this.deps.db.prepare(`UPDATE alert_outbox SET lease_owner = NULL, lease_until = NULL WHERE status = 'pending' AND lease_owner = ?`);
    return orphaned.reduce((freed, owner) => freed + release.run(owner).changes, 0);
  }

  row(id: number): OutboxRow | undefined {
    const found = this.sql.byId.get(id) as Record<string, unknown> | undefined;
    return found ? rowOf(found) : undefined;
  }

  find(key: string, channel: string): OutboxRow | undefined {
    const found = this.sql.byKey.get(key, channel) as Record<string, unknown> | undefined;
    return found ? rowOf(found) : undefined;
  }

  rows(options: { status?: OutboxStatus; limit?: number } = {}): OutboxRow[] {
    return (this.deps.db.prepare(`SELECT * FROM alert_outbox WHERE (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit`).all({ status: options.status ?? null, limit: options.limit ?? 100 }) as Array<Record<string, unknown>>).map(rowOf);
  }

  counts(): Record<OutboxStatus, number> {
    const counts = { pending: 0, delivered: 0, failed: 0, expired: 0 };
    for (const r of this.deps.db.prepare('SELECT status, count(*) AS n FROM alert_outbox GROUP BY status').all() as Array<{ status: OutboxStatus; n: number }>) counts[r.status] = r.n;
    return counts;
  }
}
