// A tenant's report rendered to HTML, PDF or JSON, with the renders bounded.
import type { Store } from '../store/repositories.ts';
import type { SharedBrowser } from '../util/chromium.ts';
import { buildReport, type ReportModel } from './model.ts';
import { renderReportHtml } from './html.ts';
import { renderReportPdf } from './pdf.ts';
import type { ReportSources } from './sources.ts';

export type ReportFormat = 'json' | 'html' | 'pdf';

export interface ReportOutput {
  model: ReportModel;
  body: Buffer;
  contentType: string;
}

export interface ReportDeps {
  store: Store;
  sources: ReportSources;
  /** chart.js's UMD bundle text (read once by the caller). */
  chartJs: string;
  /** Needed for PDF only. */
  browser?: SharedBrowser;
  now: number;
}

export async function renderReport(
  deps: ReportDeps,
  request: { tenant: string; tenantName?: string; since: number; until: number },
  format: ReportFormat,
): Promise<ReportOutput> {
  const model = buildReport(deps.store, request, deps.sources, deps.now);
  if (format === 'json')
    return { model, body: Buffer.from(JSON.stringify(model, null, 2)), contentType: 'application/json; charset=utf-8' };
  const html = renderReportHtml(model, deps.chartJs);
  if (format === 'html') return { model, body: Buffer.from(html), contentType: 'text/html; charset=utf-8' };
  if (!deps.browser) throw new Error('PDF needs a browser');
  return { model, body: await renderReportPdf(html, deps.browser), contentType: 'application/pdf' };
}

export function formatOf(text: string | null | undefined): ReportFormat | undefined {
  const value = (text ?? '').toLowerCase();
  return value === 'json' || value === 'html' || value === 'pdf' ? value : undefined;
}
