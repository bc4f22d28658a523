// GET /api/v1/tenants and /api/v1/tenants/:id/report: the tenants a token may read, and their reports (HTML, PDF, JSON).
import { createHash } from 'node:crypto';
import type { Store } from '../../store/repositories.ts';
import type { Clock } from '../../util/clock.ts';
import type { SharedBrowser } from '../../util/chromium.ts';
import { parseSince } from '../../util/since.ts';
import type { ReportsConfig } from '../../reports/config.ts';
import { formatOf, renderReport } from '../../reports/render.ts';
import { RenderGate, RenderGateBusy } from '../../reports/render-gate.ts';
import type { ReportSources } from '../../reports/sources.ts';
import { knownTenants } from '../../reports/tenants.ts';
import { mayRead, sendError, sendJson, type Principal, type Router } from '../router.ts';

export interface ReportRouteDeps {
  store: Store;
  reports: ReportsConfig;
  sources: ReportSources;
  chartJs: () => string;
  browser: () => SharedBrowser;
  clock: Clock;
}

const MAX_PERIOD_MS = 400 * 86_400_000;

/** The inline scripts of a report page, by hash: nothing else may run in it, and it may load nothing. */
export function reportContentSecurityPolicy(html: string): string {
  const hashes: string[] = [];
  const open = /<script>/g;
  for (let match = open.exec(html); match; match = open.exec(html)) {
    const end = html.indexOf('</script>', open.lastIndex);
    if (end < 0) break;
    hashes.push(`'sha256-${createHash('sha256').update(html.slice(open.lastIndex, end)).digest('base64')}'`);
    open.lastIndex = end;
  }
  return `default-src 'none'; script-src ${hashes.join(' ') || "'none'"}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

function contentSecurityPolicy(format: string, body: Buffer): string {
  return format === 'html'
    ? reportContentSecurityPolicy(body.toString('utf8'))
    : "default-src 'none'; frame-ancestors 'none'; sandbox";
}

function visibleTenants(deps: ReportRouteDeps, principal: Principal): Array<{ id: string; probes: number }> {
  return knownTenants(deps.store, deps.reports).filter((t) => mayRead(principal, t.id));
}

export function registerReportRoutes(router: Router, deps: ReportRouteDeps): void {
  const gate = new RenderGate(deps.reports.renders);
  router.add(
    'GET',
    '/api/v1/tenants',
    ({ res, principal }) => sendJson(res, 200, { tenants: visibleTenants(deps, principal) }),
    { access: 'tenant' },
  );

  router.add(
    'GET',
    '/api/v1/tenants/:id/report',
    async ({ res, url, params, principal }) => {
      const tenant = params.id ?? '';
      if (!mayRead(principal, tenant))
        return sendError(res, 403, `this token cannot read the report of tenant ${tenant}`);
      if (!knownTenants(deps.store, deps.reports).some((t) => t.id === tenant))
        return sendError(res, 404, `no tenant named ${tenant}`);
      const format = formatOf(url.searchParams.get('format') ?? 'html');
      if (!format) return sendError(res, 400, 'format must be html, pdf or json');
      const now = deps.clock.now();
      const since = parseSince(url.searchParams.get('since') ?? '30d', now);
      if (since === undefined || Number.isNaN(since) || since >= now)
        return sendError(res, 400, 'since must be a duration back from now (30d), an ISO time or epoch milliseconds');
      if (now - since > MAX_PERIOD_MS) return sendError(res, 400, 'the period can be at most 400 days');
      const tenantName = deps.reports.tenants[tenant]?.name;
      let output;
      try {
        output = await gate.run(() =>
          renderReport(
            {
              store: deps.store,
              sources: deps.sources,
              chartJs: deps.chartJs(),
              now,
              ...(format === 'pdf' ? { browser: deps.browser() } : {}),
            },
            { tenant, since, until: now, ...(tenantName ? { tenantName } : {}) },
            format,
          ),
        );
      } catch (error) {
        if (error instanceof RenderGateBusy) return sendError(res, 429, error.message, { 'retry-after': '5' });
        throw error;
      }
      const filename = `scaiprobe-${tenant}-${new Date(now).toISOString().slice(0, 10)}.${format}`;
      res.writeHead(200, {
        'content-type': output.contentType,
        'content-length': output.body.length,
        'cache-control': 'no-store',
        'content-disposition': `${format === 'pdf' ? 'attachment' : 'inline'}; filename="${filename}"`,
        'content-security-policy': contentSecurityPolicy(format, output.body),
      });
      res.end(output.body);
    },
    { access: 'tenant' },
  );
}
