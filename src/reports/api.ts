import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Store } from '../store/store.ts';
import type { Clock } from '../util/clock.ts';
import type { SharedBrowser } from '../util/chromium.ts';
import { parseSince } from '../server/probe-api.ts';
import { sendError, sendJson, type Router } from '../server/router.ts';
import type { ReportsConfig } from './config.ts';
import { formatOf, renderReport } from './render.ts';
import type { ReportSources } from './sources.ts';

export interface ReportApiDeps {
  store: Store;
  reports: ReportsConfig;
  /** `server.token`: reads every tenant's report. */
  adminToken?: string;
  sources: ReportSources;
  chartJs: () => string;
  browser: () => SharedBrowser;
  clock: Clock;
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/**
 * Who may read a tenant's report: the admin token, or that tenant's own token.
 * With neither configured the daemon is open (like the rest of its API).
 */
export function reportAccess(tenant: string, given: string | undefined, deps: Pick<ReportApiDeps, 'reports' | 'adminToken'>): 'ok' | 401 | 403 {
  const own = deps.reports.tenants[tenant]?.token;
  if (!deps.adminToken && !own) return 'ok';
  if (given === undefined) return 401;
  if (deps.adminToken && same(given, deps.adminToken)) return 'ok';
  if (own && same(given, own)) return 'ok';
  return 403;
}

export function knownTenants(store: Store, reports: ReportsConfig): Array<{ id: string; probes: number }> {
  const counts = new Map<string, number>(Object.keys(reports.tenants).map((id) => [id, 0]));
  for (const probe of store.latest()) if (probe.tenant) counts.set(probe.tenant, (counts.get(probe.tenant) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, probes]) => ({ id, probes }));
}

const MAX_PERIOD_MS = 400 * 86_400_000;

export function registerReportApi(router: Router, deps: ReportApiDeps): void {
  router.add('GET', '/api/v1/tenants', ({ res }) => sendJson(res, 200, { tenants: knownTenants(deps.store, deps.reports) }));

  // Public to the server's own token check: tenants hold tokens of their own (checked here).
  router.add(
    'GET',
    '/api/v1/tenants/:id/report',
    async ({ req, res, url, params }) => {
      const tenant = params.id ?? '';
      const access = reportAccess(tenant, bearer(req), deps);
      if (access === 401) {
        res.setHeader('www-authenticate', 'Bearer');
        return sendError(res, 401, 'a bearer token is required: the tenant report token or the admin token');
      }
      if (access === 403) return sendError(res, 403, `this token cannot read the report of tenant ${tenant}`);
      if (!knownTenants(deps.store, deps.reports).some((t) => t.id === tenant)) return sendError(res, 404, `no tenant named ${tenant}`);
      const format = formatOf(url.searchParams.get('format') ?? 'html');
      if (!format) return sendError(res, 400, 'format must be html, pdf or json');
      const now = deps.clock.now();
      const since = parseSince(url.searchParams.get('since') ?? '30d', now);
      if (since === undefined || Number.isNaN(since) || since >= now) return sendError(res, 400, 'since must be a duration back from now (30d), an ISO time or epoch milliseconds');
      if (now - since > MAX_PERIOD_MS) return sendError(res, 400, 'the period can be at most 400 days');
      const tenantName = deps.reports.tenants[tenant]?.name;
      const output = await renderReport(
        { store: deps.store, sources: deps.sources, chartJs: deps.chartJs(), now, ...(format === 'pdf' ? { browser: deps.browser() } : {}) },
        { tenant, since, until: now, ...(tenantName ? { tenantName } : {}) },
        format,
      );
      const filename = `scaiprobe-${tenant}-${new Date(now).toISOString().slice(0, 10)}.${format}`;
      res.writeHead(200, {
        'content-type': output.contentType,
        'content-length': output.body.length,
        'cache-control': 'no-store',
        'content-disposition': `${format === 'pdf' ? 'attachment' : 'inline'}; filename="${filename}"`,
      });
      res.end(output.body);
    },
    { public: true },
  );
}
