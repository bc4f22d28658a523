import type { ServerResponse } from 'node:http';
import type { Clock } from '../util/clock.ts';
import type { Router } from './router.ts';

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
}

const FLUSH_EVERY_MS = 1000;
const KEEPALIVE_EVERY_MS = 25_000;

/**
 * Server-sent events for the status page. Runs are batched once a second so
 * 5,000 probes ending every minute cost each viewer ~1 message/s, not 80.
 */
export class RunEvents {
  private readonly clients = new Set<ServerResponse>();
  private pending: RunEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(private readonly clock: Clock) {}

  publish(event: RunEvent): void {
    if (this.clients.size === 0) return;
    this.pending.push(event);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
  }

  register(router: Router): void {
    router.add('GET', '/api/v1/events', ({ req, res }) => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ at: this.clock.now() })}\n\n`);
      this.clients.add(res);
      this.keepAlive ??= setInterval(() => this.broadcast(': keep-alive\n\n'), KEEPALIVE_EVERY_MS);
      req.on('close', () => {
        this.clients.delete(res);
        if (this.clients.size === 0) this.stopTimers();
      });
    });
  }

  clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    this.stopTimers();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private flush(): void {
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) this.broadcast(`event: runs\ndata: ${JSON.stringify(batch)}\n\n`);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) res.write(text);
  }

  private stopTimers(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.flushTimer = undefined;
    this.keepAlive = undefined;
    this.pending = [];
  }
}
