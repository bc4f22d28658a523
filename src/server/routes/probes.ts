// GET /api/v1/probes, /api/v1/probes/:name, /api/v1/probes/:name/runs and /api/v1/state-changes.
import type { Store } from '../../store/repositories.ts';
import type { RunStatus } from '../../store/types.ts';
import { parseSince } from '../../util/since.ts';
import { mayRead, sendError, sendJson, tenantScope, type Router } from '../router.ts';

function intParam(value: string | null, fallback: number, max: number): number {
  const parsed = value === null ? fallback : Number(value);
  return Number.isInteger(parsed) && parsed >= 0 ? Math.min(parsed, max) : fallback;
}

/** The probe listing, one probe, its runs and the state changes. */
export function registerProbeRoutes(router: Router, store: Store): void {
  // A tenant token sees its own tenant's probes only; another tenant's is 403 whether it exists or not.
  router.add(
    'GET',
    '/api/v1/probes',
    ({ res, url, principal }) => {
      const status = url.searchParams.get('status');
      if (status && !['pass', 'warn', 'fail'].includes(status))
        return sendError(res, 400, 'status must be pass, warn or fail');
      const tenant = tenantScope(principal, url.searchParams.get('tenant'));
      if (tenant === 'forbidden') return sendError(res, 403, 'a tenant token reads only its own tenant');
      const query = url.searchParams.get('q')?.toLowerCase();
      const all = store.probes
        .latest({
          ...(status ? { status: status as RunStatus } : {}),
          ...(tenant !== undefined ? { tenant } : {}),
          ...(url.searchParams.get('tag') ? { tag: url.searchParams.get('tag') ?? '' } : {}),
          includeRemoved: url.searchParams.get('all') === '1',
        })
        .filter((p) => !query || p.probe.toLowerCase().includes(query));
      const limit = intParam(url.searchParams.get('limit'), 500, 5000);
      const offset = intParam(url.searchParams.get('offset'), 0, Number.MAX_SAFE_INTEGER);
      sendJson(res, 200, { total: all.length, offset, limit, probes: all.slice(offset, offset + limit) });
    },
    { access: 'tenant' },
  );

  router.add(
    'GET',
    '/api/v1/probes/:name',
    ({ res, params, principal }) => {
      const probe = store.probes.latest({ names: [params.name ?? ''], includeRemoved: true })[0];
      if (principal.role === 'tenant' && !mayRead(principal, probe?.tenant))
        return sendError(res, 403, "a tenant token reads only its own tenant's probes");
      if (!probe) return sendError(res, 404, `no probe named ${params.name}`);
      const latestRun = probe.runId === null ? null : (store.runs.get(probe.runId) ?? null);
      sendJson(res, 200, { ...probe, latestRun });
    },
    { access: 'tenant' },
  );
  registerRunRoutes(router, store);
}

/** A probe's runs and the state changes of all probes, each cut to a tenant token's own tenant. */
function registerRunRoutes(router: Router, store: Store): void {
  router.add(
    'GET',
    '/api/v1/probes/:name/runs',
    ({ res, url, params, principal }) => {
      const name = params.name ?? '';
      const probe = store.probes.latest({ names: [name], includeRemoved: true })[0];
      if (principal.role === 'tenant' && !mayRead(principal, probe?.tenant))
        return sendError(res, 403, "a tenant token reads only its own tenant's probes");
      if (!probe) return sendError(res, 404, `no probe named ${name}`);
      const since = parseSince(url.searchParams.get('since'), Date.now());
      if (Number.isNaN(since))
        return sendError(res, 400, 'since must be a duration (1h), an ISO time or epoch milliseconds');
      const limit = intParam(url.searchParams.get('limit'), 100, 10_000);
      const fields = url.searchParams.get('fields') ?? 'all';
      if (fields !== 'all' && fields !== 'summary')
        return sendError(res, 400, 'fields must be all (the default) or summary');
      // In a fleet, one location's runs (each run names its location and agent).
      const location = url.searchParams.get('location');
      const range = { ...(since !== undefined ? { since } : {}), ...(location ? { location } : {}), limit };
      sendJson(res, 200, {
        probe: name,
        runs: fields === 'summary' ? store.runs.summaries(name, range) : store.runs.list(name, range),
      });
    },
    { access: 'tenant' },
  );

  router.add(
    'GET',
    '/api/v1/state-changes',
    ({ res, url, principal }) => {
      const since = parseSince(url.searchParams.get('since'), Date.now());
      if (Number.isNaN(since))
        return sendError(res, 400, 'since must be a duration (1h), an ISO time or epoch milliseconds');
      const tenant = tenantScope(principal, url.searchParams.get('tenant'));
      if (tenant === 'forbidden') return sendError(res, 403, 'a tenant token reads only its own tenant');
      const probe = url.searchParams.get('probe');
      const changes = store.stateChanges.list({
        ...(since !== undefined ? { since } : {}),
        ...(probe ? { probe } : {}),
        ...(tenant !== undefined ? { tenant } : {}),
        limit: intParam(url.searchParams.get('limit'), 1000, 10_000),
      });
      sendJson(res, 200, { changes });
    },
    { access: 'tenant' },
  );
}
