// Alertmanager posts: the endpoint, label names, the alert body with its validity, and authorization.
import type { Notification } from './notification.ts';

/** What an Alertmanager channel needs to build its posts (a subset of its configuration). */
export interface AlertmanagerTarget {
  /** Re-post interval while firing. */
  resend: number;
  /** Labels added to every alert of the channel (scaiprobe's own labels win on a clash). */
  labels: Record<string, string>;
}

/**
 * How long a firing post stays valid in Alertmanager without the next one, in
 * re-post intervals. Prometheus sends 4 × its resend delay; the same margin
 * rides out three lost or late re-posts before Alertmanager resolves the alert.
 */
export const VALIDITY_RESENDS = 4;

/** The API v2 endpoint under an Alertmanager's base URL (a route prefix kept); a URL that already names it is kept. */
export function alertmanagerEndpoint(base: string): string {
  const url = new URL(base);
  if (!/\/api\/v2\/alerts\/?$/.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v2/alerts`;
  return url.toString();
}

/** Alertmanager label names: what its API accepts. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * One postable alert (API v2). Labels identify it in Alertmanager (group by
 * `alertname`): the rule, the probe or indicator, tenant, kind and severity.
 * A resolution carries `endsAt` (when the condition cleared); a firing gets
 * its `endsAt` at each attempt (see `withValidity`), so a post delayed by
 * retries is still valid when it arrives.
 */
export function alertmanagerBody(n: Notification, target: AlertmanagerTarget): string {
  const { alert } = n;
  const labels: Record<string, string> = { ...target.labels, alertname: alert.rule, severity: alert.severity };
  for (const [name, value] of Object.entries(alert.labels))
    if (LABEL_NAME.test(name) && value !== '') labels[name] = value;
  const annotations: Record<string, string> = {
    summary: alert.summary,
    description: alert.description ?? `${alert.rule} on ${alert.target}`,
  };
  if (alert.runbook) annotations.runbook_url = alert.runbook;
  const posted: Record<string, unknown> = { labels, annotations, startsAt: new Date(alert.startedAt).toISOString() };
  if (n.event === 'resolved') posted.endsAt = new Date(alert.resolvedAt ?? n.createdAt).toISOString();
  return JSON.stringify([posted]);
}

/** The stored post with an `endsAt` from now for alerts that have none yet (firing, reminder, refresh, test). */
export function withValidity(stored: string, target: AlertmanagerTarget, now: number): string {
  let alerts: Array<Record<string, unknown>>;
  try {
    alerts = JSON.parse(stored) as Array<Record<string, unknown>>;
  } catch {
    return stored;
  }
  if (!Array.isArray(alerts)) return stored;
  const endsAt = new Date(now + VALIDITY_RESENDS * target.resend).toISOString();
  return JSON.stringify(alerts.map((alert) => (alert.endsAt ? alert : { ...alert, endsAt })));
}

/** Basic or bearer credentials, read from the channel as configured at each attempt: never stored with the post. */
export function authorization(auth: {
  basicAuth?: { username: string; password: string } | undefined;
  bearerToken?: string | undefined;
}): string | undefined {
  if (auth.basicAuth)
    return `Basic ${Buffer.from(`${auth.basicAuth.username}:${auth.basicAuth.password}`).toString('base64')}`;
  if (auth.bearerToken) return `Bearer ${auth.bearerToken}`;
  return undefined;
}
