// The report model: every section's numbers for one tenant and period, built from the store.
import type { Store } from '../store/repositories.ts';
import { authFindings, type AuthFinding } from './auth-findings.ts';
import { postureFindings } from './posture-findings.ts';
import type { MailMessageFields } from '../store/types.ts';
import type { ObservationValue } from '../core/probe.ts';
import { MAIL_MESSAGE_ITEM } from '../core/items.ts';
import { isObservation, type FeedRole, type ObservationName } from '../core/feeds.ts';
import { findKind } from '../probers/registry.ts';
import { bucketsOf, percentile, ratio } from './stats.ts';
import type { AlertIncident, IndicatorReading, ReportSources } from './sources.ts';
import { guidanceFor } from './guidance.ts';
import { locationsSection, type LocationsSection } from './locations.ts';

/** Each section says whether its source had data; `no-data` sections carry no numbers. */
export type SectionStatus = 'ok' | 'no-data';
export type { Placement, PlacementCounts } from './placement.ts';
import { addPlacement, emptyCounts, placementKind, type PlacementCounts } from './placement.ts';

export interface ReportModel {
  tenant: string;
  tenantName: string;
  period: { since: number; until: number; bucketMs: number };
  generatedAt: number;
  placement: {
    status: SectionStatus;
    overall: PlacementCounts;
    providers: Array<PlacementCounts & { provider: string }>;
    trend: Array<PlacementCounts & { at: number }>;
  };
  timeToInbox: {
    status: SectionStatus;
    count: number;
    p50: number | null;
    p95: number | null;
    series: Array<{ at: number; count: number; p50: number | null; p95: number | null }>;
  };
  /** Placement and time to inbox per fleet location (no-data unless messages came from two locations or more). */
  locations: LocationsSection;
  authentication: {
    status: SectionStatus;
    checked: number;
    spf: AuthRate;
    dkim: AuthRate;
    dmarc: AuthRate;
    latestFailures: Array<{
      at: number;
      seed: string;
      method: 'spf' | 'dkim' | 'dmarc';
      result: string;
      reason: string;
    }>;
  };
  dnsAuth: {
    status: SectionStatus;
    checks: Array<{
      probe: string;
      kind: string;
      status: string | null;
      at: number | null;
      message: string;
      details: Record<string, ObservationValue>;
      /** Sentences a tenant understands, each with what to do (email-auth runs). */
      findings: AuthFinding[];
    }>;
  };
  blocklists: {
    status: SectionStatus;
    current: Array<{ probe: string; key: string; state: string; since: number }>;
    history: Array<{ at: number; probe: string; key: string; from: string | null; to: string }>;
  };
  rates: {
    status: SectionStatus;
    bounceLimit: number;
    spamReportLimit: number;
    bounceRate: number | null;
    spamReportRate: number | null;
    series: Array<{ at: number; bounceRate: number | null; spamReportRate: number | null }>;
  };
  indicators: { status: SectionStatus; items: Array<IndicatorReading & { meaning: string; action: string }> };
  incidents: {
    alerts: { status: SectionStatus; items: AlertIncident[] };
    /** In a fleet, each location's failures apart (`location` set): a failure seen from one location is its own period. */
    outages: Array<{
      probe: string;
      location?: string;
      from: number;
      to: number | null;
      status: string;
      message: string;
    }>;
  };
}

export interface AuthRate {
  pass: number;
  total: number;
  rate: number | null;
}

/** Thresholds from the ScaiSend manual (DESIGN.md "Indicators and alerts"). */
export const BOUNCE_LIMIT = 0.02;
export const SPAM_REPORT_LIMIT = 0.001;

type MailRow = MailMessageFields;

/** `mail.message` items (issue 3) of the tenant, reduced to the fields the report reads. */
function mailRows(store: Store, tenant: string, since: number, until: number): MailRow[] {
  return store.items.mailMessages({ type: MAIL_MESSAGE_ITEM, tenant, since, until });
}

function placementSection(rows: MailRow[], starts: number[], size: number): ReportModel['placement'] {
  const overall = emptyCounts();
  const providers = new Map<string, PlacementCounts>();
  const trend = starts.map((at) => ({ at, ...emptyCounts() }));
  const first = starts[0] ?? 0;
  for (const row of rows) {
    const provider = row.provider ?? row.seed;
    addPlacement(overall, row.placement);
    if (!providers.has(provider)) providers.set(provider, emptyCounts());
    addPlacement(providers.get(provider) as PlacementCounts, row.placement);
    const bucket = trend[Math.floor((row.at - first) / size)];
    if (bucket) addPlacement(bucket, row.placement);
  }
  return {
    status: rows.length > 0 ? 'ok' : 'no-data',
    overall,
    providers: [...providers.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([provider, counts]) => ({ provider, ...counts })),
    trend,
  };
}

function timeToInboxSection(rows: MailRow[], starts: number[], size: number): ReportModel['timeToInbox'] {
  const first = starts[0] ?? 0;
  const perBucket = starts.map(() => [] as number[]);
  const all: number[] = [];
  for (const row of rows) {
    if (placementKind(row.placement) !== 'inbox' || typeof row.tti !== 'number') continue;
    all.push(row.tti);
    perBucket[Math.floor((row.at - first) / size)]?.push(row.tti);
  }
  all.sort((a, b) => a - b);
  return {
    status: all.length > 0 ? 'ok' : 'no-data',
    count: all.length,
    p50: percentile(all, 0.5),
    p95: percentile(all, 0.95),
    series: starts.map((at, i) => {
      const values = (perBucket[i] ?? []).sort((a, b) => a - b);
      return { at, count: values.length, p50: percentile(values, 0.5), p95: percentile(values, 0.95) };
    }),
  };
}

function authSection(rows: MailRow[]): ReportModel['authentication'] {
  const checked = rows.filter((row) => row.auth === 1);
  const rate = (method: 'spf' | 'dkim' | 'dmarc'): AuthRate => {
    const pass = checked.filter((row) => row[method] === 'pass').length;
    return { pass, total: checked.length, rate: ratio(pass, checked.length) };
  };
  const failures: ReportModel['authentication']['latestFailures'] = [];
  for (let i = checked.length - 1; i >= 0 && failures.length < 10; i--) {
    const row = checked[i] as MailRow;
    for (const method of ['spf', 'dkim', 'dmarc'] as const) {
      const result = row[method];
      if (result === 'pass' || failures.length >= 10) continue;
      const reason =
        method === 'spf'
          ? row.receivedSpf
            ? `Received-SPF: ${row.receivedSpf}`
            : ''
          : method === 'dkim'
            ? row.dkimDomain
              ? `signing domain ${row.dkimDomain}`
              : 'no DKIM signature verified'
            : row.compauthReason
              ? `compauth reason ${row.compauthReason}`
              : '';
      failures.push({
        at: row.at,
        seed: row.seed,
        method,
        result: result ?? 'none',
        reason: reason || 'the seed gave no reason',
      });
    }
  }
  return {
    status: checked.length > 0 ? 'ok' : 'no-data',
    checked: checked.length,
    spf: rate('spf'),
    dkim: rate('dkim'),
    dmarc: rate('dmarc'),
    latestFailures: failures,
  };
}

/** What a probe of `kind` feeds as `role`, as its kind declares (core/feeds.ts). */
function fedAs(kind: string, role: FeedRole): ObservationName | undefined {
  return findKind(kind)?.feeds?.observations?.[role];
}

/** The latest run of each of the tenant's DNS authentication probes (issue 4's `email-auth`, and `dns`). */
function dnsAuthSection(store: Store, tenant: string): ReportModel['dnsAuth'] {
  const checks = store.probes
    .latest({ tenant })
    .flatMap((p) => {
      const detail = fedAs(p.kind, 'dnsAuthDetail');
      return detail === undefined ? [] : [{ ...p, detail }];
    })
    .map((p) => {
      const run = p.runId === null ? undefined : store.runs.get(p.runId);
      const details = Object.fromEntries(
        Object.entries(run?.observations ?? {})
          .filter(([key]) => isObservation(p.detail, key))
          .slice(0, 40),
      );
      return {
        probe: p.probe,
        kind: p.kind,
        status: p.status,
        at: p.startedAt,
        message: p.message ?? 'not run yet',
        details,
        // Each kind's observations say which sentences apply (email-auth, dnssec, smtp): no kind is named here.
        findings: [...authFindings(run?.observations ?? {}), ...postureFindings(run?.observations ?? {})],
      };
    });
  return { status: checks.some((c) => c.status !== null) ? 'ok' : 'no-data', checks };
}

/** Issue 5's `rbl*` items: the current state per probe+key, and every listed/clean change in the period. */
function blocklistSection(store: Store, tenant: string, since: number, until: number): ReportModel['blocklists'] {
  const current = store.items.states({ tenant, typePrefix: 'rbl' });
  const history = store.stateChanges.list({ tenant, since, until, subjectPrefix: 'rbl' }).map((change) => ({
    at: change.at,
    probe: change.probe,
    key: change.subject.slice(change.subject.indexOf(':') + 1),
    from: change.from,
    to: change.to,
  }));
  return {
    status: current.length > 0 || history.length > 0 ? 'ok' : 'no-data',
    current: current.map(({ type: _type, ...rest }) => rest),
    history,
  };
}

/** A rate observation, by the name its kind declares for it. */
export function pickRate(
  observations: Record<string, ObservationValue>,
  name: ObservationName | undefined,
): number | null {
  if (name === undefined) return null;
  for (const [key, value] of Object.entries(observations))
    if (isObservation(name, key) && typeof value === 'number') return value;
  return null;
}

function ratesSection(
  store: Store,
  tenant: string,
  since: number,
  until: number,
  starts: number[],
  size: number,
): ReportModel['rates'] {
  // A period's rates include probes removed since: their runs are that period's history.
  const probes = store.probes
    .latest({ tenant, includeRemoved: true })
    .filter((p) => fedAs(p.kind, 'bounceRate') !== undefined || fedAs(p.kind, 'spamReportRate') !== undefined);
  const first = starts[0] ?? 0;
  const series = starts.map((at) => ({ at, bounceRate: null as number | null, spamReportRate: null as number | null }));
  let latest: { at: number; bounce: number | null; spam: number | null } | undefined;
  for (const probe of probes) {
    // Oldest first, so each bucket ends with its latest reading.
    for (const run of store.runs.list(probe.probe, { since, until, limit: 100_000 }).reverse()) {
      const bounce = pickRate(run.observations, fedAs(probe.kind, 'bounceRate'));
      const spam = pickRate(run.observations, fedAs(probe.kind, 'spamReportRate'));
      if (bounce === null && spam === null) continue;
      const bucket = series[Math.floor((run.startedAt - first) / size)];
      if (bucket) {
        bucket.bounceRate = bounce ?? bucket.bounceRate;
        bucket.spamReportRate = spam ?? bucket.spamReportRate;
      }
      if (!latest || run.startedAt >= latest.at) latest = { at: run.startedAt, bounce, spam };
    }
  }
  return {
    status: latest ? 'ok' : 'no-data',
    bounceLimit: BOUNCE_LIMIT,
    spamReportLimit: SPAM_REPORT_LIMIT,
    bounceRate: latest?.bounce ?? null,
    spamReportRate: latest?.spam ?? null,
    series,
  };
}

/**
 * Periods when one of the tenant's probes was failing (from the probe state changes: subject '' for a single
 * daemon, `@<location>` for each location of a fleet).
 */
function outages(store: Store, tenant: string, since: number, until: number): ReportModel['incidents']['outages'] {
  type Outage = ReportModel['incidents']['outages'][number];
  const open = new Map<string, Outage>();
  const done: Outage[] = [];
  for (const change of store.stateChanges.list({ tenant, since, until })) {
    if (change.subject !== '' && !change.subject.startsWith('@')) continue;
    const key = `${change.probe}\0${change.subject}`;
    const current = open.get(key);
    const location = change.subject.slice(1);
    if (change.to === 'fail' && !current)
      open.set(key, {
        probe: change.probe,
        ...(location ? { location } : {}),
        from: change.at,
        to: null,
        status: 'fail',
        message: change.message,
      });
    else if (change.to !== 'fail' && current) {
      done.push({ ...current, to: change.at });
      open.delete(key);
    }
  }
  return [...done, ...open.values()].sort((a, b) => a.from - b.from);
}

export interface ReportRequest {
  tenant: string;
  tenantName?: string;
  since: number;
  until: number;
}

/** The report's numbers for one tenant and period, all read from the store (and the optional sources). */
export function buildReport(store: Store, request: ReportRequest, sources: ReportSources, now: number): ReportModel {
  const { tenant, since, until } = request;
  const { size, starts } = bucketsOf(since, until);
  const rows = mailRows(store, tenant, since, until);
  const indicators = sources.indicators?.(tenant, since, until);
  const alerts = sources.incidents?.(tenant, since, until);
  return {
    tenant,
    tenantName: request.tenantName ?? tenant,
    period: { since, until, bucketMs: size },
    generatedAt: now,
    placement: placementSection(rows, starts, size),
    timeToInbox: timeToInboxSection(rows, starts, size),
    locations: locationsSection(rows),
    authentication: authSection(rows),
    dnsAuth: dnsAuthSection(store, tenant),
    blocklists: blocklistSection(store, tenant, since, until),
    rates: ratesSection(store, tenant, since, until, starts, size),
    indicators: {
      status: indicators ? 'ok' : 'no-data',
      items: (indicators ?? []).map((reading) => ({ ...reading, ...guidanceFor(reading.name) })),
    },
    incidents: {
      alerts: { status: alerts ? 'ok' : 'no-data', items: alerts ?? [] },
      outages: outages(store, tenant, since, until),
    },
  };
}
