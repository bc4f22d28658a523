// The status page: `/` (its public shell), its data and its live events.
import type { Store } from '../../store/repositories.ts';
import type { RunRecord } from '../../store/types.ts';
import type { Router } from '../router.ts';
import type { RunEvent, RunEvents } from '../events.ts';
import { statusPageHtml } from '../status-page/page.ts';
import { registerStatusRoutes } from './status.ts';

/** A run as the page's live events carry it; `location` for a run of this agent, whose record is stamped only when stored. */
export function toRunEvent(run: RunRecord, location = run.location): RunEvent {
  return {
    probe: run.probe,
    kind: run.kind,
    tenant: run.tenant ?? null,
    status: run.status,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    message: run.message,
    errorCode: run.error?.code ?? null,
    ...(location ? { location } : {}),
  };
}

/** `/` (public shell), `/api/v1/status` (paged probes + history) and `/api/v1/events` (SSE). */
export function registerStatusPage(router: Router, store: Store, events: RunEvents): void {
  const html = statusPageHtml();
  router.add(
    'GET',
    '/',
    ({ res }) => {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
        'cache-control': 'no-cache',
        // Everything is inline; nothing may be loaded from elsewhere.
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      });
      res.end(html);
    },
    { access: 'public' },
  );
  registerStatusRoutes(router, store);
  events.register(router);
}
