// `scaiprobe report`: one tenant's report from the database, written to a file.
import { existsSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { LoadedConfig } from '../../config/load.ts';
import { SqliteStore } from '../../store/sqlite/store.ts';
import { systemClock, type Clock } from '../../util/clock.ts';
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
import { defineCommand } from '../command.ts';
import { CONFIG_OPTION, loadForCommand } from '../config.ts';
import { exportLabEnv, LAB_CREDENTIALS_OPTION } from './lab.ts';

/** `scaiprobe report`: writes one tenant's report; returns a line for the user. */
export async function runReportCommand(
  config: LoadedConfig,
  options: { tenant: string; since: string; out: string },
  clock: Clock,
): Promise<string> {
  const format = formatOf(extname(options.out).slice(1));
  if (!format) throw new UsageError(`--out must end in .html, .pdf or .json (got ${options.out})`);
  const now = clock.now();
  const since = parseSince(options.since, now);
  if (since === undefined || Number.isNaN(since) || since >= now)
    throw new UsageError(`--since must be a duration back from now (30d) or an ISO time (got ${options.since})`);
  if (!existsSync(config.store.path))
    throw new UsageError(
      `no database at ${config.store.path}: run the daemon first (or point --config at its configuration)`,
    );
  const reports = parseReportsConfig(config.sections.reports, config.files);
  const store = new SqliteStore(config.store.path, clock);
  const indicators = new IndicatorService({ store, clock, config: readAlertingSections(config).indicators });
  const browser = format === 'pdf' ? new SharedBrowser() : undefined;
  try {
    const tenants = knownTenants(store, reports);
    if (!tenants.some((t) => t.id === options.tenant)) {
      throw new UsageError(
        `no tenant named ${options.tenant}; known: ${tenants.map((t) => t.id).join(', ') || 'none (give probes a tenant:)'}`,
      );
    }
    const tenantName = reports.tenants[options.tenant]?.name;
    const output = await renderReport(
      {
        store,
        sources: liveReportSources(store, () => indicators.current()),
        chartJs: loadChartJs(),
        now,
        ...(browser ? { browser } : {}),
      },
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

export const reportCommand = defineCommand({
  name: 'report',
  summary: "write a tenant's deliverability report from the database",
  synopsis: '--tenant ID --out FILE.html|FILE.pdf|FILE.json [--since 30d] [--config FILE|DIR] [--lab]',
  description:
    "Writes one tenant's deliverability report (HTML, PDF or JSON, by the file's extension) from the daemon's database.",
  options: {
    tenant: { type: 'string', value: 'ID', description: 'the tenant the report is for (required)' },
    out: {
      type: 'string',
      value: 'FILE',
      description: 'where to write it; .html, .pdf or .json chooses the format (required)',
    },
    since: {
      type: 'string',
      value: 'DURATION|TIME',
      default: '30d',
      description: 'the period: a duration back from now, or an ISO time',
    },
    config: CONFIG_OPTION,
    lab: LAB_CREDENTIALS_OPTION,
  },
  examples: ['scaiprobe report --tenant acme --since 7d --out acme.pdf'],
  async run({ values }) {
    if (!values.tenant) throw new UsageError('--tenant ID is required');
    if (!values.out) throw new UsageError('--out FILE.html, FILE.pdf or FILE.json is required');
    if (values.lab) await exportLabEnv();
    const config = loadForCommand(values.config);
    process.stdout.write(
      `${await runReportCommand(config, { tenant: values.tenant, since: values.since, out: values.out }, systemClock)}\n`,
    );
    return 0;
  },
});
