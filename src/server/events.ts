// Live run events for the status page, as server-sent events to a bounded number of clients.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import { sendError, tenantScope, type Router } from './router.ts';

/** What the status page needs to update a row when a run ends. */
export interface RunEvent {
  probe: string;
  kind: string;
  tenant: string | null;
  status: 'pass' | 'warn' | 'fail';
  startedAt: number;
  durationMs: number;
  message: string;
  errorCode: string | null;
  /** In a fleet: where the run was made (this agent's location, or another agent's for a run copied from the fleet). */
  location?: string;
}

const FLUSH_EVERY_MS = 1000;
const KEEPALIVE_EVERY_MS = 25_000;

export interface RunEventsOptions {
  clock: Clock;
  logger: Logger;
  /** Viewers at most (`server.maxEventClients`); one more gets 429. */
  maxClients: number;
  /** Bytes queued for one viewer at most; a viewer that does not read is dropped. */
  maxBufferedBytes?: number;
}

interface Viewer {
  res: ServerResponse;
  /** Only this tenant's runs (a tenant token's stream); undefined: every run. */
  tenant: string | undefined;
}

const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Server-sent events for the status page. Runs are batched once a second so
 * 5,000 probes ending every minute cost each viewer ~1 message/s, not 80.
 */
export class RunEvents {
  private readonly clients = new Set<Viewer>();
  private pending: RunEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(private readonly options: RunEventsOptions) {}

  publish(event: RunEvent): void {
    if (this.clients.size === 0) return;
    this.pending.push(event);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
  }

  register(router: Router): void {
    router.add(
      'GET',
      '/api/v1/events',
      ({ req, res, url, principal }) => {
        const tenant = tenantScope(principal, url.searchParams.get('tenant'));
        if (tenant === 'forbidden') return sendError(res, 403, 'a tenant token reads only its own tenant');
        if (this.clients.size >= this.options.maxClients) {
          return sendError(
            res,
            429,
            `the event stream has ${this.clients.size} viewers, the most it takes (server.maxEventClients)`,
            { 'retry-after': '30' },
          );
        }
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ at: this.options.clock.now() })}\n\n`);
        const viewer: Viewer = { res, tenant };
        this.clients.add(viewer);
        this.keepAlive ??= setInterval(() => this.broadcast(() => ': keep-alive\n\n'), KEEPALIVE_EVERY_MS);
        req.on('close', () => this.drop(viewer));
      },
      { access: 'status' },
    );
  }

  clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    this.stopTimers();
    for (const viewer of this.clients) viewer.res.end();
    this.clients.clear();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const all = `event: runs\ndata: ${JSON.stringify(batch)}\n\n`;
    this.broadcast((tenant) => {
      if (tenant === undefined) return all;
      const own = batch.filter((event) => event.tenant === tenant);
      return own.length > 0 ? `event: runs\ndata: ${JSON.stringify(own)}\n\n` : undefined;
    });
  }

  /** Writes to every viewer; one whose unread backlog passes the cap is dropped, never buffered without bound. */
  private broadcast(textFor: (tenant: string | undefined) => string | undefined): void {
    const cap = this.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    for (const viewer of this.clients) {
      const text = textFor(viewer.tenant);
      if (text === undefined) continue;
      if (viewer.res.writableLength + text.length > cap) {
        this.options.logger.warn(
          { buffered: viewer.res.writableLength, remote: viewer.res.socket?.remoteAddress },
          'event stream viewer is not reading; dropped',
        );
        viewer.res.destroy();
        this.drop(viewer);
        continue;
      }
      viewer.res.write(text);
    }
  }

  private drop(viewer: Viewer): void {
    if (!this.clients.delete(viewer)) return;
    if (this.clients.size === 0) this.stopTimers();
  }

  private stopTimers(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.flushTimer = undefined;
    this.keepAlive = undefined;
    this.pending = [];
  }
}
