// What indicators read from the store: the series kinds declare they feed, seed messages and current blocklist listings.
import type { Store } from '../store/repositories.ts';
import type { ProbeLatest } from '../store/types.ts';
import { findKind } from '../probers/registry.ts';
import { isObservation, type FeedRole, type ObservationName } from '../core/feeds.ts';
import { LISTED, MAIL_MESSAGE_ITEM, RBL_LISTING_ITEM } from '../core/items.ts';
import type { IndicatorInputs } from './compute.ts';
import type { IndicatorsConfig } from './thresholds.ts';
import type { Point } from './trend.ts';
import { textOf } from '../util/text.ts';

const HOUR = 3_600_000;
const BASELINE = 8 * 24 * HOUR;

type RunObservations = ReturnType<Store['runs']['observationsOver']>[number];
type ReadRuns = (probe: string, from?: number) => RunObservations[];

/** The points of the observation `name` declares in `runs`: every finite number under a key it names, in run order. */
function seriesOf(runs: RunObservations[], name: ObservationName | undefined): Point[] {
  const found: Point[] = [];
  if (name === undefined) return found;
  for (const run of runs) {
    for (const [key, v] of Object.entries(run.observations)) {
      if (typeof v === 'number' && Number.isFinite(v) && isObservation(name, key)) found.push({ t: run.at, v });
    }
  }
  return found;
}

/** Adds what `probe` feeds, by the roles its kind declares, to the inputs of the indicators that read those roles. */
function addFedSeries(
  inputs: IndicatorInputs,
  probe: ProbeLatest,
  fed: Partial<Record<FeedRole, ObservationName>>,
  read: ReadRuns,
  store: Store,
): void {
  if (fed.bounceRate || fed.spamReportRate || fed.deferralRate) {
    const runs = read(probe.probe);
    const tenant = probe.tenant ?? probe.probe;
    inputs.stats.push({
      probe: probe.probe,
      tenant,
      bounceRate: seriesOf(runs, fed.bounceRate),
      spamReportRate: seriesOf(runs, fed.spamReportRate),
      deferralRate: seriesOf(runs, fed.deferralRate),
    });
  }
  if (fed.queueDepth) inputs.queues.push({ probe: probe.probe, depth: seriesOf(read(probe.probe), fed.queueDepth) });
  if (fed.apiErrorShare || fed.scaidnsApiP99 || fed.pdnsP99) {
    const runs = read(probe.probe);
    inputs.prometheus.push({
      probe: probe.probe,
      errorShare: seriesOf(runs, fed.apiErrorShare),
      apiP99: seriesOf(runs, fed.scaidnsApiP99),
      pdnsP99: seriesOf(runs, fed.pdnsP99),
    });
  }
  if (typeof fed.endpointUrl === 'string') {
    const latest = probe.runId === null ? undefined : store.runs.get(probe.runId)?.observations;
    const latestUrl = latest?.[fed.endpointUrl];
    const stated = typeof fed.endpointRole === 'string' ? latest?.[fed.endpointRole] : undefined;
    const role = stated === 'readiness' || stated === 'send' || stated === 'read' ? stated : 'other';
    inputs.http.push({
      probe: probe.probe,
      url: typeof latestUrl === 'string' ? latestUrl : '',
      role,
      failingSince: probe.status === 'fail' ? probe.statusSince : null,
      // Only send and read endpoints have a latency indicator: an hour of every other endpoint's runs, rebuilt, is
      // seconds of one task at thousands of probes (every /metrics scrape computes indicators).
      latency:
        role === 'send' || role === 'read' ? seriesOf(read(probe.probe, inputs.now - HOUR), fed.endpointLatency) : [],
    });
  }
}

function domainOf(data: Record<string, unknown>): string {
  const auth = data.auth as { dkimDomain?: string | null } | null | undefined;
  if (auth?.dkimDomain) return auth.dkimDomain;
  const id = /@([^>]+)>?$/.exec(textOf(data.messageId));
  return id?.[1] ?? 'unknown';
}

/** Reads what the indicators need from the store, each series cut to its window (indexed reads only). */
export function loadIndicatorInputs(store: Store, config: IndicatorsConfig, now: number): IndicatorInputs {
  const since = now - config.trendWindow;
  const inputs: IndicatorInputs = { now, stats: [], prometheus: [], queues: [], http: [], seeds: [], listings: [] };
  const read: ReadRuns = (probe, from = since) => store.runs.observationsOver(probe, from, now);
  for (const probe of store.probes.latest()) {
    const fed = findKind(probe.kind)?.feeds?.observations;
    if (fed) addFedSeries(inputs, probe, fed, read, store);
  }
  // Probes no longer configured leave the indicators with their data (their history stays in the store).
  const removed = new Set(store.probes.removed());
  for (const item of store.items.list({ type: MAIL_MESSAGE_ITEM, since: now - BASELINE, until: now + 1 })) {
    if (removed.has(item.probe)) continue;
    const data = item.data;
    const auth = data.auth as { spf?: string | null; dkim?: string | null; dmarc?: string | null } | null | undefined;
    const authFailed =
      !!auth &&
      [auth.spf, auth.dkim, auth.dmarc].some((result) => result !== undefined && result !== null && result !== 'pass');
    inputs.seeds.push({
      tenant: item.tenant ?? 'default',
      domain: domainOf(data),
      at: item.at,
      placement: textOf(data.placement, 'unknown'),
      timeToInboxMs: typeof data.timeToInboxMs === 'number' ? data.timeToInboxMs : null,
      authFailed,
    });
  }
  for (const listing of store.items.inState(RBL_LISTING_ITEM, LISTED)) {
    const data = listing.data;
    inputs.listings.push({
      tenant: listing.tenant ?? 'default',
      target: textOf(data.target, listing.key),
      zone: textOf(data.zone),
      severity: textOf(data.severity, 'unknown'),
    });
  }
  return inputs;
}
