// The alert outbox: notifications queued durably, claimed, retried with backoff and settled.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { OUTBOX_STATUSES, type NewOutboxRow, type OutboxRow, type OutboxStatus } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import { processAlive, thisHost } from '../util/process-alive.ts';
import type { AlertsConfig, ChannelConfig } from './config.ts';
import { headersFor, outgoingBody, serialize } from './channels.ts';
import type { Notification } from './notification.ts';
import { fetchTransport, judge, type Outcome, type Transport } from './delivery.ts';
import { Lane } from './lane.ts';
import type { AlertingStore } from './store.ts';

export { fetchTransport, retryAfterMs, type SendResult, type Transport } from './delivery.ts';

export { OUTBOX_STATUSES, type OutboxRow, type OutboxStatus } from '../store/types.ts';

export function isOutboxStatus(text: string): text is OutboxStatus {
  return (OUTBOX_STATUSES as readonly string[]).includes(text);
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

/** `pid@host/…` of a lease owner; undefined for an owner written some other way. */
function ownerProcess(owner: string): { pid: number; host: string } | undefined {
  const match = /^(\d+)@(.+)\/[^/]*$/.exec(owner);
  return match?.[1] && match[2] ? { pid: Number(match[1]), host: match[2] } : undefined;
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
 *
 * Every call to the outbox is awaited: the same code drains the embedded
 * store (answering at once) and a shared one (answering through Promises).
 */
export class Outbox {
  /** This instance's lease owner: `pid@host/random` (the pid lets a restarted daemon free a dead process's leases at once). */
  readonly owner: string;
  private readonly lanes: Map<string, Lane<Claimed>>;
  private attempted = 0;

  constructor(
    private readonly deps: {
      outbox: AlertingStore['outbox'];
      clock: Clock;
      logger: Logger;
      channels: ChannelConfig[];
      delivery: AlertsConfig['delivery'];
      transport?: Transport;
      random?: () => number;
    },
  ) {
    this.owner = `${process.pid}@${thisHost()}/${randomUUID().slice(0, 8)}`;
    this.lanes = new Map(
      deps.channels.map((channel) => [
        channel.name,
        new Lane<Claimed>({
          slots: deps.delivery.concurrency,
          claim: () => this.claimNext(channel),
          send: (claimed) => this.attempt(claimed),
          onError: (error) =>
            deps.logger.error({ err: error, channel: channel.name }, 'alert delivery could not use the outbox'),
        }),
      ]),
    );
  }

  channel(name: string): ChannelConfig | undefined {
    return this.deps.channels.find((c) => c.name === name);
  }

  /** The rows that queue the notification for each configured channel of `channels`. */
  rowsFor(notification: Notification, channels: string[]): NewOutboxRow[] {
    const now = this.deps.clock.now();
    return channels.flatMap((name) => {
      const channel = this.channel(name);
      if (!channel) return [];
      return [
        {
          key: notification.key,
          alertId: notification.alert.id,
          channel: name,
          event: notification.event,
          body: serialize(channel, notification),
          createdAt: now,
          expiresAt: now + this.deps.delivery.expireAfter,
        },
      ];
    });
  }

  /** Writes the notification for each channel. Duplicates are ignored. */
  async enqueue(notification: Notification, channels: string[]): Promise<void> {
    await this.deps.outbox.add(this.rowsFor(notification, channels));
  }

  /** Backoff before attempt n+1: exponential from initialBackoff, capped, with jitter in [50%, 100%]. */
  backoff(attempts: number): number {
    const { initialBackoff, maxBackoff } = this.deps.delivery;
    const base = Math.min(maxBackoff, initialBackoff * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.5 + 0.5 * (this.deps.random ?? Math.random)()));
  }

  private leaseFor(channel: ChannelConfig, now: number): { owner: string; until: number } {
    return { owner: this.owner, until: now + channel.timeout + LEASE_MARGIN_MS };
  }

  /** The channel's next row in line, leased to us; expires what outlived `expireAfter` on the way. */
  private async claimNext(channel: ChannelConfig): Promise<Claimed | undefined> {
    const { outbox, clock, logger } = this.deps;
    if (!(await outbox.hasWork(channel.name, clock.now()))) return undefined;
    const now = clock.now();
    const { leased, expired } = await outbox.claimNext(channel.name, now, this.leaseFor(channel, now));
    if (expired > 0) logger.error({ channel: channel.name, rows: expired }, 'alert notifications expired undelivered');
    return leased ? { ...leased, channel } : undefined;
  }

  /** One given row, leased to us, if it may be sent now. */
  private async claimRow(id: number): Promise<Claimed | undefined> {
    const now = this.deps.clock.now();
    let channel: ChannelConfig | undefined;
    const leased = await this.deps.outbox.claim(id, now, (name) => {
      channel = this.channel(name);
      return channel ? this.leaseFor(channel, now) : undefined;
    });
    return leased && channel ? { ...leased, channel } : undefined;
  }

  private async attempt({ row, body, channel }: Claimed): Promise<void> {
    const { clock } = this.deps;
    const payload = outgoingBody(channel, body, clock.now());
    const result = await (this.deps.transport ?? fetchTransport)(channel.url, {
      headers: headersFor(channel, payload, row.key, clock.now()),
      body: payload,
      timeoutMs: channel.timeout,
    });
    const attempts = row.attempts + 1;
    const now = clock.now();
    const outcome = judge(result, {
      attempts,
      expiresAt: row.expiresAt,
      now,
      backoff: this.backoff(attempts),
      clientErrorAttempts: this.deps.delivery.clientErrorAttempts,
    });
    this.attempted++;
    await this.settle(row, outcome, now);
    this.report(row, attempts, outcome, now);
  }

  private async settle(row: OutboxRow, outcome: Outcome, now: number): Promise<void> {
    const finished = outcome.kind === 'retry' ? null : now;
    const failure =
      outcome.kind === 'delivered'
        ? { lastError: null, lastResponse: null }
        : { lastError: outcome.error, lastResponse: outcome.answer };
    const settled = await this.deps.outbox.settle({
      id: row.id,
      owner: this.owner,
      status: outcome.kind === 'retry' ? 'pending' : outcome.kind,
      lastStatus: outcome.status,
      ...failure,
      nextAttemptAt: outcome.kind === 'retry' ? outcome.at : row.nextAttemptAt,
      finishedAt: finished,
    });
    // Only a sender stalled past its lease gets here; the row is someone else's now, and their attempt counts.
    if (!settled)
      this.deps.logger.warn(
        { channel: row.channel, alert: row.alertId, key: row.key },
        'alert notification lease ran out before its attempt ended; another sender has the row',
      );
  }

  private report(row: OutboxRow, attempts: number, outcome: Outcome, now: number): void {
    const about = { channel: row.channel, alert: row.alertId, event: row.event, attempts };
    if (outcome.kind === 'retry')
      this.deps.logger.warn(
        { ...about, error: outcome.error, retryInMs: outcome.at - now },
        'alert notification not delivered yet; will retry',
      );
    if (outcome.kind === 'expired')
      this.deps.logger.error({ ...about, error: outcome.error }, 'alert notification expired undelivered');
    if (outcome.kind === 'failed')
      this.deps.logger.error(
        { ...about, error: outcome.error, answer: outcome.answer },
        'alert notification failed: the receiver refused it; not retried',
      );
  }

  /** Starts sending what is due on every channel; resolves once the claims are answered, not waiting for the receivers. */
  async pump(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => lane.pump()));
  }

  /**
   * Sends what is due on every channel and resolves when those attempts have
   * ended. Channels do not wait for one another: a lane refills as soon as
   * one of its own attempts ends. Returns the attempts that ended meanwhile.
   */
  async drain(): Promise<number> {
    const before = this.attempted;
    await this.pump();
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
      const claimed = await this.claimRow(id);
      if (claimed) await this.attempt(claimed);
      const row = await this.row(id);
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
  async expireUnconfigured(): Promise<number> {
    const now = this.deps.clock.now();
    return this.deps.outbox.expireUnconfigured(
      this.deps.channels.map((c) => c.name),
      now,
      now - FOREIGN_ROW_GRACE_MS,
    );
  }

  /**
   * Frees the leases of processes on this host that are gone (a daemon killed
   * mid-send), so their rows go out now rather than when the lease runs out.
   */
  async releaseOrphanedLeases(): Promise<number> {
    const owners = await this.deps.outbox.leaseOwners(this.deps.clock.now());
    const host = thisHost();
    const orphaned = owners.filter((owner) => {
      const holder = ownerProcess(owner);
      return owner !== this.owner && holder?.host === host && !processAlive(holder.pid);
    });
    let freed = 0;
    for (const owner of orphaned) freed += await this.deps.outbox.releaseLeases(owner);
    return freed;
  }

  /** Whether a notification of this alert to this channel is still to be sent. */
  async waiting(alertId: string, channel: string): Promise<boolean> {
    return this.deps.outbox.waiting(alertId, channel);
  }

  async row(id: number): Promise<OutboxRow | undefined> {
    return this.deps.outbox.get(id);
  }

  async find(key: string, channel: string): Promise<OutboxRow | undefined> {
    return this.deps.outbox.find(key, channel);
  }

  async rows(options: { status?: OutboxStatus; limit?: number } = {}): Promise<OutboxRow[]> {
    return this.deps.outbox.list(options);
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    return this.deps.outbox.counts();
  }
}
