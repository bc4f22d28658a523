// `scaiprobe report`: one tenant's report from the database, written to a file.
import { existsSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { LoadedConfig } from '../../config/load.ts';
import { SqliteStore } from '../../store/sqlite/store.ts';
import type { Clock } from '../../util/clock.ts';
import { SharedBrowser } from '../../util/chromium.ts';
import { parseSince } from '../../util/since.ts';
import { parseReportsConfig } from '../../reports/config.ts';
import { loadChartJs } from '../../reports/html.ts';
import { formatOf, renderReport } from '../../reports/render.ts';
import { knownTenants } from '../../reports/tenants.ts';
import { readAlertingSections } from '../../alerting/wire.ts';
import { IndicatorService } from '../../indicators/service.ts';
import { liveReportSources } from '../../reports/live-sources.ts';
import { UsageError } from '../usage-error.ts';

/** `scaiprobe report`: writes one tenant's report; returns a line for the user. */
export async function runReportCommand(config: LoadedConfig, options: { tenant: string; since: string; out: string }, clock: Clock): Promise<string> {
  const format = formatOf(extname(options.out).slice(1));
  if (!format) throw new UsageError(`--out must end in .html, .pdf or .json (got ${options.out})`);
  const now = clock.now();
  const since = parseSince(options.since, now);
  if (since === undefined || Number.isNaN(since) || since >= now) throw new UsageError(`--since must be a duration back from now (30d) or an ISO time (got ${options.since})`);
  if (!existsSync(config.store.path)) throw new UsageError(`no database at ${config.store.path}: run the daemon first (or point --config at its configuration)`);
  const reports = parseReportsConfig(config.sections.reports, config.files);
  const store = new SqliteStore(config.store.path, clock);
  const indicators = new IndicatorService({ store, clock, config: readAlertingSections(config).indicators });
  const browser = format === 'pdf' ? new SharedBrowser() : undefined;
  try {
    const tenants = knownTenants(store, reports);
    if (!tenants.some((t) => t.id === options.tenant)) {
      throw new UsageError(`no tenant named ${options.tenant}; known: ${tenants.map((t) => t.id).join(', ') || 'none (give probes a tenant:)'}`);
    }
    const tenantName = reports.tenants[options.tenant]?.name;
    const output = await renderReport(
      { store, sources: liveReportSources(store, () => indicators.current()), chartJs: loadChartJs(), now, ...(browser ? { browser } : {}) },
      { tenant: options.tenant, since, until: now, ...(tenantName ? { tenantName } : {}) },
      format,
    );
    writeFileSync(options.out, output.body);
    const m = output.model;
    return `${options.out}: ${format.toUpperCase()} report for ${options.tenant}, ${new Date(since).toISOString().slice(0, 10)} to ${new Date(now).toISOString().slice(0, 10)}; ${m.placement.overall.total} probe messages, inbox ${m.placement.overall.inboxRate === null ? 'no data' : `${(m.placement.overall.inboxRate * 100).toFixed(1)} %`}`;
  } finally {
    store.close();
    await browser?.close();
  }
}
