// Bodies and headers per channel kind: signed webhooks, Slack, PagerDuty and Alertmanager.
import { createHmac } from 'node:crypto';
import type { ChannelConfig } from './config.ts';
import { alertmanagerBody, authorization, withValidity } from './alertmanager.ts';
import type { Notification } from './notification.ts';

export const WEBHOOK_SCHEMA_VERSION = '1';

/** The generic webhook body, version 1. Field names are a contract: add, never rename. */
export function webhookBody(n: Notification): string {
  return JSON.stringify({
    version: WEBHOOK_SCHEMA_VERSION,
    id: n.key,
    type: `alert.${n.event}`,
    createdAt: new Date(n.createdAt).toISOString(),
    alert: {
      id: n.alert.id,
      rule: n.alert.rule,
      target: n.alert.target,
      status: n.event === 'resolved' ? 'resolved' : 'firing',
      severity: n.alert.severity,
      summary: n.alert.summary,
      startedAt: new Date(n.alert.startedAt).toISOString(),
      resolvedAt: n.alert.resolvedAt ? new Date(n.alert.resolvedAt).toISOString() : null,
      labels: n.alert.labels,
    },
  });
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function signature(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

const EMOJI = {
  firing: ':rotating_light:',
  reminder: ':bell:',
  refresh: ':bell:',
  resolved: ':white_check_mark:',
  test: ':wave:',
} as const;

/**
 * Slack reads `<...>` as links and mentions (`<!channel>`, `<http://x|click>`)
 * and `&` as the start of an escape. A summary carries a target's own words
 * (a check's reason, a body excerpt), so everything we did not write ourselves
 * is escaped the way Slack asks: only these three characters.
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack incoming webhook: `text` (the fallback) plus a Block Kit section. */
export function slackBody(n: Notification): string {
  const what = n.event === 'resolved' ? 'Resolved' : n.event === 'test' ? 'Test' : 'Firing';
  const title = `${EMOJI[n.event]} ${what}: ${slackEscape(n.alert.rule)} on ${slackEscape(n.alert.target)}`;
  const summary = slackEscape(n.alert.summary);
  const context = `severity ${slackEscape(n.alert.severity)} · alert ${slackEscape(n.alert.id)} · since ${new Date(n.alert.startedAt).toISOString()}`;
  return JSON.stringify({
    text: `${title}: ${summary}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${title}*\n${summary}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
    ],
  });
}

/** The PagerDuty Events API v2 event without its routing key: what the outbox stores. */
export function pagerDutyEvent(n: Notification): Record<string, unknown> {
  if (n.event === 'resolved') return { event_action: 'resolve', dedup_key: n.alert.id };
  return {
    event_action: 'trigger',
    dedup_key: n.alert.id,
    payload: {
      summary: `${n.alert.rule} on ${n.alert.target}: ${n.alert.summary}`.slice(0, 1024),
      source: n.alert.target,
      severity: n.alert.severity,
      timestamp: new Date(n.alert.startedAt).toISOString(),
      component: n.alert.labels.probe ?? n.alert.labels.indicator ?? n.alert.target,
      group: n.alert.labels.tenant ?? 'scaiprobe',
      class: n.alert.rule,
      custom_details: { ...n.alert.labels, event: n.event },
    },
  };
}

/** PagerDuty Events API v2: trigger (firing, reminder, test) or resolve, de-duplicated by the alert id. */
export function pagerDutyBody(n: Notification, routingKey: string): string {
  return JSON.stringify({ routing_key: routingKey, ...pagerDutyEvent(n) });
}

/**
 * The bytes stored in the outbox for a channel. Never a credential: the
 * PagerDuty routing key is added by `outgoingBody` at each attempt, a
 * webhook's secret only signs, and Alertmanager's credentials are headers
 * of each attempt (see `headersFor`).
 */
export function serialize(channel: ChannelConfig, n: Notification): string {
  if (channel.type === 'slack') return slackBody(n);
  if (channel.type === 'alertmanager') return alertmanagerBody(n, channel);
  if (channel.type === 'pagerduty') return JSON.stringify(pagerDutyEvent(n));
  return webhookBody(n);
}

/**
 * What one attempt sends for a stored body. For PagerDuty the routing key
 * comes from the channel as configured now (looked up by name), which also
 * replaces a key that rows queued by an older version still carry. A firing
 * posted to Alertmanager gets its `endsAt` from the attempt's time `now`.
 */
export function outgoingBody(channel: ChannelConfig, stored: string, now: number): string {
  if (channel.type === 'alertmanager') return withValidity(stored, channel, now);
  if (channel.type !== 'pagerduty') return stored;
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(stored) as Record<string, unknown>;
  } catch {
    return stored;
  }
  const { routing_key: _stale, ...rest } = event;
  return JSON.stringify({ routing_key: channel.routingKey, ...rest });
}

/** Headers for one attempt (the signature carries the attempt's time). */
export function headersFor(channel: ChannelConfig, body: string, key: string, nowMs: number): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'scaiprobe-alerts/1' };
  if (channel.type === 'webhook') {
    headers['idempotency-key'] = key;
    if (channel.secret) headers['x-scaiprobe-signature'] = signature(channel.secret, body, Math.floor(nowMs / 1000));
  }
  if (channel.type === 'alertmanager') {
    const credentials = authorization(channel);
    if (credentials) headers.authorization = credentials;
  }
  return headers;
}
