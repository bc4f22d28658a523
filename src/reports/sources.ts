// The small functions through which a report reads what other parts own (indicators, alerts).
/**
 * Report inputs that other parts of scaiprobe own (issue 6: indicators and
 * alerting). The report reads them through these small functions so that the
 * daemon can plug them in when they exist; absent, the report says "no data".
 */
export interface IndicatorReading {
  name: string;
  value: number | string | null;
  state: 'ok' | 'warn' | 'critical' | (string & {});
  trend?: number | string | null;
  /** The indicator part's own one-sentence reason for the state. */
  reason?: string;
  domain?: string;
}

export interface AlertIncident {
  id: string;
  rule: string;
  severity?: string;
  firedAt: number;
  resolvedAt: number | null;
  message?: string;
}

export interface ReportSources {
  indicators?: (tenant: string, since: number, until: number) => IndicatorReading[];
  incidents?: (tenant: string, since: number, until: number) => AlertIncident[];
}
