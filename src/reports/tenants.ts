// The tenants a report can be asked for: those configured under `reports:` and those probes name.
import type { Store } from '../store/repositories.ts';
import type { ReportsConfig } from './config.ts';

export function knownTenants(store: Store, reports: ReportsConfig): Array<{ id: string; probes: number }> {
  const counts = new Map<string, number>(Object.keys(reports.tenants).map((id) => [id, 0]));
  for (const probe of store.probes.latest())
    if (probe.tenant) counts.set(probe.tenant, (counts.get(probe.tenant) ?? 0) + 1);
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([id, probes]) => ({ id, probes }));
}
