// What indicators read from the store: observation series, seed messages and current blocklist listings.
import type { Store } from '../store/repositories.ts';
import type { IndicatorInputs } from './compute.ts';
import type { IndicatorsConfig } from './thresholds.ts';
import type { Point } from './trend.ts';

const HOUR = 3_600_000;
const BASELINE = 8 * 24 * HOUR;

const P99_API = /^p99\(scaidns_http_request_duration_seconds\b/;
const P99_PDNS = /^p99\(scaidns_pdns_request_duration_seconds\b/;
const ERROR_SHARE = /^rate\w*\(\w+\{[^}]*status=~"5\.\."[^}]*\}\)\s*\/\s*rate\w*\(/;

function points(rows: Array<{ t: number; v: unknown }>): Point[] {
  return rows.filter((r) => typeof r.v === 'number' && Number.isFinite(r.v)).map((r) => ({ t: r.t, v: r.v as number }));
}

function domainOf(data: Record<string, unknown>): string {
  const auth = data.auth as { dkimDomain?: string | null } | null | undefined;
  if (auth?.dkimDomain) return auth.dkimDomain;
  const id = /@([^>]+)>?$/.exec(String(data.messageId ?? ''));
  return id?.[1] ?? 'unknown';
}

/** Reads what the indicators need from the store, each series cut to its window (indexed reads only). */
export function loadIndicatorInputs(store: Store, config: IndicatorsConfig, now: number): IndicatorInputs {
  const since = now - config.trendWindow;
  const inputs: IndicatorInputs = { now, stats: [], prometheus: [], queues: [], http: [], seeds: [], listings: [] };
  const read = (probe: string, from = since) => store.runs.observationsOver(probe, from, now);
  const pick = (runs: ReturnType<typeof read>, key: string) => points(runs.map((run) => ({ t: run.at, v: run.observations[key] })));
  for (const probe of store.probes.latest()) {
    if (probe.kind === 'stats') {
      const tenant = probe.tenant ?? probe.probe;
      const runs = read(probe.probe);
      inputs.stats.push({ probe: probe.probe, tenant, bounceRate: pick(runs, 'bounceRate'), spamReportRate: pick(runs, 'spamReportRate'), deferralRate: pick(runs, 'deferralRate') });
    } else if (probe.kind === 'queue') {
      inputs.queues.push({ probe: probe.probe, depth: pick(read(probe.probe), 'depth.total') });
    } else if (probe.kind === 'prometheus') {
      const entry = { probe: probe.probe, errorShare: [] as Point[], apiP99: [] as Point[], pdnsP99: [] as Point[] };
      for (const run of read(probe.probe)) {
        for (const [key, v] of Object.entries(run.observations)) {
          if (typeof v !== 'number') continue;
          if (P99_API.test(key)) entry.apiP99.push({ t: run.at, v });
          else if (P99_PDNS.test(key)) entry.pdnsP99.push({ t: run.at, v });
          else if (ERROR_SHARE.test(key)) entry.errorShare.push({ t: run.at, v });
        }
      }
      inputs.prometheus.push(entry);
    } else if (probe.kind === 'http') {
      const latestUrl = probe.runId === null ? undefined : store.runs.get(probe.runId)?.observations.url;
      const url = typeof latestUrl === 'string' ? latestUrl : '';
      inputs.http.push({
        probe: probe.probe,
        url,
        failingSince: probe.status === 'fail' ? probe.statusSince : null,
        latency: url.includes('/v3/') ? pick(read(probe.probe, now - HOUR), 'latency') : [],
      });
    }
  }
  // Probes no longer configured leave the indicators with their data (their history stays in the store).
  const removed = new Set(store.probes.removed());
  for (const item of store.items.list({ type: 'mail.message', since: now - BASELINE, until: now + 1 })) {
    if (removed.has(item.probe)) continue;
    const data = item.data;
    const auth = data.auth as { spf?: string; dkim?: string; dmarc?: string } | null | undefined;
    const authFailed = !!auth && [auth.spf, auth.dkim, auth.dmarc].some((result) => result !== undefined && result !== null && result !== 'pass');
    inputs.seeds.push({ tenant: item.tenant ?? 'default', domain: domainOf(data), at: item.at, placement: String(data.placement ?? 'unknown'), timeToInboxMs: typeof data.timeToInboxMs === 'number' ? data.timeToInboxMs : null, authFailed });
  }
  for (const listing of store.items.inState('rbl-listing', 'listed')) {
    const data = listing.data;
    inputs.listings.push({ tenant: listing.tenant ?? 'default', target: String(data.target ?? listing.key), zone: String(data.zone ?? ''), severity: String(data.severity ?? 'unknown') });
  }
  return inputs;
}
