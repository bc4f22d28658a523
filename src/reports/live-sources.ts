// The report's inputs read from the store and the running indicators: incidents, indicator readings.
import type { Store } from '../store/repositories.ts';
import type { Indicator } from '../indicators/compute.ts';
import type { AlertIncident, IndicatorReading, ReportSources } from './sources.ts';

/** Pairs each alert's firing with its resolution, from the state changes the alerting part records. */
export function incidentsFromStore(store: Store, tenant: string, since: number, until: number): AlertIncident[] {
  const changes = store.stateChanges.list({ subjectPrefix: 'alert:', tenant, until });
  const open = new Map<string, AlertIncident>();
  const incidents: AlertIncident[] = [];
  for (const change of changes) {
    const [, rule = '', ...target] = change.subject.split(':');
    if (change.to === 'firing') {
      const incident: AlertIncident = {
        id: change.subject,
        rule,
        severity: change.message.split(':')[0] ?? '',
        firedAt: change.at,
        resolvedAt: null,
        message: `${target.join(':')}: ${change.message.split(': ').slice(1).join(': ')}`,
      };
      open.set(change.subject, incident);
      incidents.push(incident);
    } else {
      const incident = open.get(change.subject);
      if (incident) incident.resolvedAt = change.at;
      open.delete(change.subject);
    }
  }
  // An incident belongs to the period when any part of it falls inside.
  return incidents.filter((i) => (i.resolvedAt ?? until) >= since && i.firedAt < until);
}

export function indicatorReadings(indicators: Indicator[], tenant: string): IndicatorReading[] {
  return indicators
    .filter((i) => i.tenant === tenant)
    .map((i) => ({
      name: i.name,
      value: i.value,
      state: i.state,
      trend: i.trend,
      reason: i.reason,
      ...(i.subject.includes('/') ? { domain: i.subject.split('/').slice(1).join('/') } : {}),
    }));
}

/** The report's inputs owned by the indicators and alerting parts, read live. */
export function liveReportSources(store: Store, indicators: () => Indicator[]): ReportSources {
  return {
    indicators: (tenant) => indicatorReadings(indicators(), tenant),
    incidents: (tenant, since, until) => incidentsFromStore(store, tenant, since, until),
  };
}
