// GET /api/v1/status: the status page's data, a page of probes with their latest run and history strip.
import type { Store } from '../../store/repositories.ts';
import type { ProbeLatest, RunStatus } from '../../store/types.ts';
import { sendError, sendJson, tenantScope, type Router } from '../router.ts';

/** One letter per run, oldest first: p(ass) w(arn) f(ail). Keeps a 5,000-probe page small. */
export type HistoryStrip = string;

export interface StatusRow extends ProbeLatest {
  history: HistoryStrip;
}

export interface StatusPage {
  total: number;
  offset: number;
  limit: number;
  counts: { pass: number; warn: number; fail: number; pending: number; all: number };
  probes: StatusRow[];
}

const LETTER: Record<RunStatus, string> = { pass: 'p', warn: 'w', fail: 'f' };
export const MAX_HISTORY = 60;
export const MAX_PAGE = 500;

export interface StatusQuery {
  status?: RunStatus | 'pending';
  q?: string;
  tenant?: string;
  tag?: string;
  offset: number;
  limit: number;
  history: number;
}

/** The last `n` statuses of each named probe, oldest first (the store walks each probe's index backwards). */
export function historyOf(store: Store, names: string[], n: number): Map<string, HistoryStrip> {
  const strips = new Map<string, HistoryStrip>();
  for (const [name, statuses] of store.runs.recentStatuses(names, n))
    strips.set(name, statuses.map((status) => LETTER[status]).join(''));
  return strips;
}

export function statusPage(store: Store, query: StatusQuery): StatusPage {
  const needle = query.q?.toLowerCase();
  const scoped = store.probes
    .latest({ ...(query.tenant ? { tenant: query.tenant } : {}), ...(query.tag ? { tag: query.tag } : {}) })
    .filter((p) => !needle || p.probe.toLowerCase().includes(needle) || p.kind.toLowerCase().includes(needle));
  const counts = { pass: 0, warn: 0, fail: 0, pending: 0, all: scoped.length };
  for (const p of scoped) counts[p.status ?? 'pending'] += 1;
  const wanted = query.status ? scoped.filter((p) => (p.status ?? 'pending') === query.status) : scoped;
  // Failing first: the page is for finding what is broken.
  const order: Record<string, number> = { fail: 0, warn: 1, pending: 2, pass: 3 };
  wanted.sort(
    (a, b) =>
      (order[a.status ?? 'pending'] ?? 9) - (order[b.status ?? 'pending'] ?? 9) || a.probe.localeCompare(b.probe),
  );
  const page = wanted.slice(query.offset, query.offset + query.limit);
  const strips = historyOf(
    store,
    page.map((p) => p.probe),
    query.history,
  );
  return {
    total: wanted.length,
    offset: query.offset,
    limit: query.limit,
    counts,
    probes: page.map((p) => ({ ...p, history: strips.get(p.probe) ?? '' })),
  };
}

function intParam(value: string | null, fallback: number, max: number): number {
  const parsed = value === null || value === '' ? fallback : Number(value);
  return Number.isInteger(parsed) && parsed >= 0 ? Math.min(parsed, max) : fallback;
}

/** `GET /api/v1/status`: a page of probes (same filters as /api/v1/probes) with their latest run and last N statuses. */
export function registerStatusRoutes(router: Router, store: Store): void {
  router.add(
    'GET',
    '/api/v1/status',
    ({ res, url, principal }) => {
      const params = url.searchParams;
      const status = params.get('status') ?? '';
      if (status && !['pass', 'warn', 'fail', 'pending'].includes(status))
        return sendError(res, 400, 'status must be pass, warn, fail or pending');
      const tenant = tenantScope(principal, params.get('tenant'));
      if (tenant === 'forbidden') return sendError(res, 403, 'a tenant token reads only its own tenant');
      sendJson(
        res,
        200,
        statusPage(store, {
          ...(status ? { status: status as StatusQuery['status'] & string } : {}),
          ...(params.get('q') ? { q: params.get('q') ?? '' } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          ...(params.get('tag') ? { tag: params.get('tag') ?? '' } : {}),
          offset: intParam(params.get('offset'), 0, Number.MAX_SAFE_INTEGER),
          limit: intParam(params.get('limit'), 100, MAX_PAGE),
          history: intParam(params.get('n'), 30, MAX_HISTORY),
        }),
      );
    },
    { access: 'status' },
  );
}
