// A tenant's report as one self-contained HTML page (numbers, tables, charts inlined).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ReportModel } from './model.ts';
import { REPORT_CSS } from './html-style.ts';
import { CHARTS_SCRIPT } from './html-charts.ts';
import { textOf } from '../util/text.ts';

const require = createRequire(import.meta.url);

/** chart.js's UMD bundle, read once per process (inlined so the report works offline). */
export function loadChartJs(): string {
  // The package's exports hide dist/chart.umd.js; it sits beside the CommonJS entry.
  return readFileSync(join(dirname(require.resolve('chart.js')), 'chart.umd.js'), 'utf8');
}

function esc(value: unknown): string {
  return textOf(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}
export function pct(value: number | null, digits = 1): string {
  return value === null ? '—' : `${(value * 100).toFixed(digits)} %`;
}
export function ms(value: number | null): string {
  if (value === null) return '—';
  return value < 1000
    ? `${Math.round(value)} ms`
    : value < 120_000
      ? `${(value / 1000).toFixed(1)} s`
      : `${(value / 60_000).toFixed(1)} min`;
}
function when(at: number | null): string {
  return at === null ? '—' : new Date(at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
function day(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}
function noData(why: string): string {
  return `<p class="nodata">No data: ${esc(why)}</p>`;
}
function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}
function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}
function canvas(id: string, label: string): string {
  return `<figure><canvas id="${id}" width="720" height="220" role="img" aria-label="${esc(label)}"></canvas></figure>`;
}
function verdict(ok: boolean | null, text: string): string {
  return `<span class="verdict ${ok === null ? 'none' : ok ? 'good' : 'bad'}">${esc(text)}</span>`;
}

function summary(m: ReportModel): string {
  const listed = m.blocklists.current.filter((c) => c.state === 'listed').length;
  const over =
    m.rates.status === 'ok' &&
    ((m.rates.bounceRate ?? 0) > m.rates.bounceLimit || (m.rates.spamReportRate ?? 0) > m.rates.spamReportLimit);
  const authBad =
    m.authentication.status === 'ok' &&
    [m.authentication.spf, m.authentication.dkim, m.authentication.dmarc].some((r) => r.rate !== null && r.rate < 1);
  const bad = [
    m.placement.status === 'ok' && (m.placement.overall.inboxRate ?? 1) < 0.9,
    false,
    authBad,
    listed > 0,
    over,
  ];
  const tiles = [
    [
      'Inbox placement',
      m.placement.status === 'ok' ? pct(m.placement.overall.inboxRate) : 'no data',
      m.placement.status === 'ok' ? `${m.placement.overall.total} probe messages` : '',
    ],
    [
      'Time to inbox p50 / p95',
      m.timeToInbox.status === 'ok' ? `${ms(m.timeToInbox.p50)} / ${ms(m.timeToInbox.p95)}` : 'no data',
      '',
    ],
    [
      'SPF / DKIM / DMARC pass',
      m.authentication.status === 'ok'
        ? `${pct(m.authentication.spf.rate, 0)} / ${pct(m.authentication.dkim.rate, 0)} / ${pct(m.authentication.dmarc.rate, 0)}`
        : 'no data',
      '',
    ],
    ['Blocklists', m.blocklists.status === 'ok' ? (listed ? `${listed} listed` : 'clean') : 'no data', ''],
    [
      'Bounce / spam reports',
      m.rates.status === 'ok' ? `${pct(m.rates.bounceRate, 2)} / ${pct(m.rates.spamReportRate, 3)}` : 'no data',
      'limits 2 % / 0.1 %',
    ],
  ];
  return `<div class="tiles">${tiles.map(([label, value, note], i) => `<div class="tile${bad[i] ? ' bad' : ''}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="note">${esc(note)}</div></div>`).join('')}</div>`;
}

function placementHtml(m: ReportModel): string {
  const p = m.placement;
  if (p.status === 'no-data') return noData('no mail probe of this tenant delivered probe messages in the period.');
  const rows = [...p.providers, { provider: 'All seeds', ...p.overall }].map((r) => [
    esc(r.provider),
    String(r.total),
    `${r.inbox} (${pct(r.inboxRate)})`,
    `${r.spam} (${pct(r.total ? r.spam / r.total : null)})`,
    String(r.other),
    `${r.missing} (${pct(r.total ? r.missing / r.total : null)})`,
  ]);
  return `<p>Where the probe messages sent to seed mailboxes landed. Inbox is good; spam and missing are what recipients would not see.</p>${table(['Seed provider', 'Messages', 'Inbox', 'Spam', 'Other folder', 'Missing'], rows)}${canvas('chart-placement', 'Placement per day')}`;
}

function ttiHtml(m: ReportModel): string {
  const t = m.timeToInbox;
  if (t.status === 'no-data') return noData('no probe message reached an inbox in the period.');
  return `<p>From the send being accepted to the message appearing in the inbox, over ${t.count} inbox deliveries: median <b>${ms(t.p50)}</b>, 95th percentile <b>${ms(t.p95)}</b>.</p>${canvas('chart-tti', 'Time to inbox p50 and p95')}`;
}

/** Shown only for a fleet whose messages came from several locations. */
function locationsHtml(m: ReportModel): string {
  const rows = m.locations.locations.map((r) => [
    r.location === null ? '<i>no location</i>' : esc(r.location),
    String(r.total),
    `${r.inbox} (${pct(r.inboxRate)})`,
    `${r.spam} (${pct(r.total ? r.spam / r.total : null)})`,
    `${r.missing} (${pct(r.total ? r.missing / r.total : null)})`,
    `${ms(r.ttiP50)} / ${ms(r.ttiP95)}`,
  ]);
  const body = `<p>The same seeds as seen from each location the probe messages were sent and read from: a location apart from the others points at its own network or route, not at the mail.</p>${table(['Location', 'Messages', 'Inbox', 'Spam', 'Missing', 'Time to inbox p50 / p95'], rows)}`;
  return section('locations', 'Placement and time to inbox by location', body);
}

function authHtml(m: ReportModel): string {
  const a = m.authentication;
  if (a.status === 'no-data') return noData('no seed reported authentication results for this tenant in the period.');
  const rates = table(
    ['Check', 'Passed', 'Pass rate'],
    (['spf', 'dkim', 'dmarc'] as const).map((k) => [
      k.toUpperCase(),
      `${a[k].pass} of ${a[k].total}`,
      verdict(a[k].rate === null ? null : a[k].rate === 1, pct(a[k].rate)),
    ]),
  );
  const failures = a.latestFailures.length
    ? `<h3>Latest failures</h3>${table(
        ['When', 'Seed', 'Check', 'Result', 'Reason'],
        a.latestFailures.map((f) => [when(f.at), esc(f.seed), f.method.toUpperCase(), esc(f.result), esc(f.reason)]),
      )}`
    : '<p>No authentication failures in the period.</p>';
  return `<p>What the seed mailboxes' own Authentication-Results said about ${a.checked} messages.</p>${rates}${failures}`;
}

/** The findings as sentences, each marked; the raw observations only for kinds that have no sentences. */
function dnsDetails(c: ReportModel['dnsAuth']['checks'][number]): string {
  if (c.findings.length)
    return `<ul class="findings">${c.findings
      .map((f) => `<li>${verdict(f.ok, f.ok ? 'ok' : 'fix')} ${esc(f.sentence)}</li>`)
      .join('')}</ul>`;
  if (!Object.keys(c.details).length) return '';
  return `<br><small>${Object.entries(c.details)
    .map(([k, v]) => `${esc(k)} = ${esc(Array.isArray(v) ? v.join(', ') : v)}`)
    .join('; ')}</small>`;
}

function dnsHtml(m: ReportModel): string {
  const d = m.dnsAuth;
  if (d.status === 'no-data')
    return noData('no email-auth or DNS probe is configured for this tenant (or none has run).');
  return table(
    ['Check', 'State', 'Checked', 'Details'],
    d.checks.map((c) => [
      `${esc(c.probe)}<br><small>${esc(c.kind)}</small>`,
      verdict(c.status === null ? null : c.status === 'pass', c.status ?? 'not run'),
      when(c.at),
      c.findings.length ? dnsDetails(c) : `${esc(c.message)}${dnsDetails(c)}`,
    ]),
  );
}

function rblHtml(m: ReportModel): string {
  const b = m.blocklists;
  if (b.status === 'no-data') return noData('no blocklist probe is configured for this tenant (or none has run).');
  const current = table(
    ['IP or domain on list', 'State', 'Since', 'Probe'],
    b.current.map((c) => [
      esc(c.key),
      verdict(c.state === 'clean' ? true : c.state === 'listed' ? false : null, c.state),
      when(c.since),
      esc(c.probe),
    ]),
  );
  const history = b.history.length
    ? `<h3>Listing history</h3>${table(
        ['When', 'IP or domain on list', 'Change'],
        b.history.map((h) => [when(h.at), esc(h.key), `${esc(h.from ?? 'first seen')} → ${esc(h.to)}`]),
      )}`
    : '<p>No listing or delisting in the period.</p>';
  return current + history;
}

function ratesHtml(m: ReportModel): string {
  const r = m.rates;
  if (r.status === 'no-data') return noData('no stats probe reports bounce and spam-report rates for this tenant.');
  return `<p>Bounce rate ${verdict(r.bounceRate === null ? null : r.bounceRate <= r.bounceLimit, pct(r.bounceRate, 2))} (limit 2 %), spam-report rate ${verdict(r.spamReportRate === null ? null : r.spamReportRate <= r.spamReportLimit, pct(r.spamReportRate, 3))} (limit 0.1 %), latest readings.</p>${canvas('chart-rates', 'Bounce and spam-report rates')}`;
}

function indicatorsHtml(m: ReportModel): string {
  const i = m.indicators;
  if (i.status === 'no-data') return noData('leading indicators are not set up in this scaiprobe.');
  if (i.items.length === 0) return '<p>No leading indicator for this tenant.</p>';
  return `<ul class="indicators">${i.items.map((x) => `<li>${verdict(x.state === 'ok', x.state)} <b>${esc(x.name)}</b>${x.domain ? ` (${esc(x.domain)})` : ''}: ${esc(x.value)}${x.trend !== undefined && x.trend !== null ? `, trend ${esc(x.trend)}` : ''}. ${esc(x.reason ?? '')}<br>${esc(x.meaning)} <i>${esc(x.action)}</i></li>`).join('')}</ul>`;
}

function incidentsHtml(m: ReportModel): string {
  const a = m.incidents.alerts;
  const alerts =
    a.status === 'no-data'
      ? noData('alerting is not set up in this scaiprobe.')
      : a.items.length
        ? table(
            ['Alert', 'Severity', 'Fired', 'Resolved', 'Message'],
            a.items.map((x) => [
              esc(x.rule),
              esc(x.severity ?? ''),
              when(x.firedAt),
              x.resolvedAt === null ? '<b>still open</b>' : when(x.resolvedAt),
              esc(x.message ?? ''),
            ]),
          )
        : '<p>No alert fired in the period.</p>';
  const outages = m.incidents.outages.length
    ? table(
        ['Probe', 'Failing from', 'Until', 'First message'],
        m.incidents.outages.map((o) => [
          esc(o.location ? `${o.probe} (from ${o.location})` : o.probe),
          when(o.from),
          o.to === null ? '<b>still failing</b>' : when(o.to),
          esc(o.message),
        ]),
      )
    : '<p>No probe of this tenant failed in the period.</p>';
  return `<h3>Alerts</h3>${alerts}<h3>Probe failures</h3>${outages}`;
}

/** The chart inputs, small and already formatted; the page script hands them to chart.js. */
function chartData(m: ReportModel): unknown {
  const label = (at: number) =>
    m.period.bucketMs >= 86_400_000 ? day(at).slice(5) : new Date(at).toISOString().slice(11, 16);
  return {
    placement:
      m.placement.status === 'ok'
        ? {
            labels: m.placement.trend.map((b) => label(b.at)),
            inbox: m.placement.trend.map((b) => b.inbox),
            spam: m.placement.trend.map((b) => b.spam),
            other: m.placement.trend.map((b) => b.other),
            missing: m.placement.trend.map((b) => b.missing),
          }
        : null,
    tti:
      m.timeToInbox.status === 'ok'
        ? {
            labels: m.timeToInbox.series.map((b) => label(b.at)),
            p50: m.timeToInbox.series.map((b) => (b.p50 === null ? null : b.p50 / 1000)),
            p95: m.timeToInbox.series.map((b) => (b.p95 === null ? null : b.p95 / 1000)),
          }
        : null,
    rates:
      m.rates.status === 'ok'
        ? {
            labels: m.rates.series.map((b) => label(b.at)),
            bounce: m.rates.series.map((b) => (b.bounceRate === null ? null : b.bounceRate * 100)),
            spam: m.rates.series.map((b) => (b.spamReportRate === null ? null : b.spamReportRate * 100)),
          }
        : null,
  };
}

/** The report as one self-contained HTML document: tables as HTML, charts by chart.js (inlined), no network. */
export function renderReportHtml(m: ReportModel, chartJs: string): string {
  const title = `Deliverability report: ${m.tenantName}`;
  const data = JSON.stringify(chartData(m)).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${REPORT_CSS}</style></head>
<body>
<header><h1>${esc(title)}</h1><p class="period">${when(m.period.since)} to ${when(m.period.until)} · tenant <code>${esc(m.tenant)}</code> · made ${when(m.generatedAt)} by scaiprobe</p></header>
${summary(m)}
${section('placement', 'Inbox placement by seed provider', placementHtml(m))}
${section('time-to-inbox', 'Time to inbox', ttiHtml(m))}
${m.locations.status === 'ok' ? locationsHtml(m) : ''}
${section('authentication', 'SPF, DKIM and DMARC at the seeds', authHtml(m))}
${section('dns', 'Sending domains: DNS authentication', dnsHtml(m))}
${section('blocklists', 'Blocklists', rblHtml(m))}
${section('rates', 'Bounce and spam-report rates', ratesHtml(m))}
${section('indicators', 'Leading indicators', indicatorsHtml(m))}
${section('incidents', 'Incidents', incidentsHtml(m))}
<script type="application/json" id="report-data">${data}</script>
<script>${chartJs.replace(/<\/script/gi, '<\\/script')}</script>
<script>${CHARTS_SCRIPT}</script>
</body></html>`;
}
