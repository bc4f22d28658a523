import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import type { AlertsConfig, ChannelConfig } from './config.ts';
import { headersFor, outgoingBody, serialize, type Notification } from './channels.ts';

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
  status: 'pending' | 'delivered' | 'expired';
  lastStatus: number | null;
  lastError: string | null;
  finishedAt: number | null;
}

export type SendResult = { status: number; retryAfter?: string | null } | { error: string };
/** One HTTP attempt; injectable for tests, real fetch by default. */
export type Transport = (url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number }) => Promise<SendResult>;

export const fetchTransport: Transport = async (url, init) => {
  try {
    const response = await fetch(url, { method: 'POST', headers: init.headers, body: init.body, signal: AbortSignal.timeout(init.timeoutMs), redirect: 'manual' });
    await response.arrayBuffer().catch(() => undefined);
    return { status: response.status, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (error as Error).message };
  }
};

/** Retry-After as seconds or an HTTP date; milliseconds from now, or undefined. */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
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
    status: r.status as OutboxRow['status'],
    lastStatus: (r.last_status as number | null) ?? null,
    lastError: (r.last_error as string | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
  };
}

/**
 * Durable delivery: a notification is a row before any byte is sent, so a
 * crash (even kill -9) loses nothing — the next process picks up every
 * pending row. Delivery is at-least-once; the Idempotency-Key lets receivers
 * drop a repeat after a crash between their 2xx and our commit.
 */
export class Outbox {
  private draining: Promise<number> | undefined;

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
  ) {}

  channel(name: string): ChannelConfig | undefined {
    return this.deps.channels.find((c) => c.name === name);
  }

  /** Writes the notification for each channel (inside the caller's transaction when there is one). Duplicates are ignored. */
  enqueue(notification: Notification, channels: string[]): void {
    const now = this.deps.clock.now();
    const insert = this.deps.db.prepare(
      `INSERT OR IGNORE INTO alert_outbox (idempotency_key, alert_id, channel, event, body, created_at, expires_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const name of channels) {
      const channel = this.channel(name);
      if (!channel) continue;
      insert.run(notification.key, notification.alert.id, name, notification.event, serialize(channel, notification), now, now + this.deps.delivery.expireAfter, now);
    }
  }

  /** Backoff before attempt n+1: exponential from initialBackoff, capped, with jitter in [50%, 100%]. */
  backoff(attempts: number): number {
    const { initialBackoff, maxBackoff } = this.deps.delivery;
    const base = Math.min(maxBackoff, initialBackoff * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.5 + 0.5 * (this.deps.random ?? Math.random)()));
  }

  /** Sends what is due; concurrent calls share one pass. Returns how many rows it attempted. */
  drain(): Promise<number> {
    this.draining ??= this.drainOnce().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainOnce(): Promise<number> {
    const { db, clock, delivery } = this.deps;
    const now = clock.now();
    db.prepare(`UPDATE alert_outbox SET status = 'expired', finished_at = ?, last_error = coalesce(last_error, 'expired before the first attempt') WHERE status = 'pending' AND expires_at <= ?`).run(now, now);
    const due = (db.prepare(`SELECT * FROM alert_outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`).all(now, delivery.concurrency * 50) as Array<Record<string, unknown>>).map(
      (r) => ({ row: rowOf(r), body: r.body as string }),
    );
    let index = 0;
    const worker = async () => {
      for (let item = due[index++]; item; item = due[index++]) await this.attempt(item.row, item.body);
    };
    await Promise.all(Array.from({ length: Math.min(delivery.concurrency, due.length) }, worker));
    return due.length;
  }

  private async attempt(row: OutboxRow, body: string): Promise<void> {
    const { db, clock, logger } = this.deps;
    const channel = this.channel(row.channel);
    const now = clock.now();
    if (!channel) {
      db.prepare(`UPDATE alert_outbox SET status = 'expired', finished_at = ?, last_error = ? WHERE id = ?`).run(now, `channel ${row.channel} is no longer configured`, row.id);
      return;
    }
    const payload = outgoingBody(channel, body);
    const result = await (this.deps.transport ?? fetchTransport)(channel.url, { headers: headersFor(channel, payload, row.key, now), body: payload, timeoutMs: channel.timeout });
    const after = clock.now();
    const attempts = row.attempts + 1;
    if ('status' in result && result.status >= 200 && result.status < 300) {
      db.prepare(`UPDATE alert_outbox SET status = 'delivered', attempts = ?, last_status = ?, last_error = NULL, finished_at = ? WHERE id = ?`).run(attempts, result.status, after, row.id);
      return;
    }
    const error = 'status' in result ? `HTTP ${result.status}` : result.error;
    const honoured = 'status' in result && (result.status === 429 || result.status === 503) ? retryAfterMs(result.retryAfter, after) : undefined;
    const next = after + (honoured ?? this.backoff(attempts));
    if (next >= row.expiresAt) {
      db.prepare(`UPDATE alert_outbox SET status = 'expired', attempts = ?, last_status = ?, last_error = ?, finished_at = ? WHERE id = ?`).run(attempts, 'status' in result ? result.status : null, error, after, row.id);
      logger.error({ channel: row.channel, alert: row.alertId, attempts, error }, 'alert notification expired undelivered');
      return;
    }
    db.prepare(`UPDATE alert_outbox SET attempts = ?, last_status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`).run(attempts, 'status' in result ? result.status : null, error, next, row.id);
    logger.warn({ channel: row.channel, alert: row.alertId, attempts, error, retryInMs: next - after }, 'alert notification not delivered yet; will retry');
  }

  rows(options: { status?: OutboxRow['status']; limit?: number } = {}): OutboxRow[] {
    return (this.deps.db.prepare(`SELECT * FROM alert_outbox WHERE (@status IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit`).all({ status: options.status ?? null, limit: options.limit ?? 100 }) as Array<Record<string, unknown>>).map(rowOf);
  }

  counts(): Record<OutboxRow['status'], number> {
    const counts = { pending: 0, delivered: 0, expired: 0 };
    for (const r of this.deps.db.prepare('SELECT status, count(*) AS n FROM alert_outbox GROUP BY status').all() as Array<{ status: OutboxRow['status']; n: number }>) counts[r.status] = r.n;
    return counts;
  }

  /** Resolves when a drain finds nothing due (for `alert test` and shutdown). */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.drain();
      if (this.counts().pending === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
