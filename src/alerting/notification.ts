// One notification about one alert: what every channel serializes from.
/** What every channel serializes from: one notification about one alert. */
export interface Notification {
  /** Stable per notification (retries reuse it): the Idempotency-Key. */
  key: string;
  /** `refresh`: a firing re-posted to Alertmanager so that it does not expire there. */
  event: 'firing' | 'resolved' | 'reminder' | 'refresh' | 'test';
  alert: {
    /** Stable per rule + target: PagerDuty's dedup_key, the receiver's de-duplication id. */
    id: string;
    rule: string;
    target: string;
    severity: 'critical' | 'error' | 'warning' | 'info';
    summary: string;
    startedAt: number;
    resolvedAt?: number;
    labels: Record<string, string>;
    /** The rule's `description` and `runbook` (Alertmanager annotations). */
    description?: string;
    runbook?: string;
  };
  createdAt: number;
}
