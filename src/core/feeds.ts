// What indicators and reports read from runs, by role, and how a kind names the observation behind each.
/**
 * What the indicators and reports read from runs, each by a role. A kind
 * declares (ProbeKind.feeds) the observation behind each role it feeds — a key,
 * or a pattern of keys — so no reader tests kind names or spells keys.
 */
export type FeedRole =
  /** Sending rates of a tenant (ratios). */
  | 'bounceRate'
  | 'spamReportRate'
  | 'deferralRate'
  /** Messages waiting in a queue. */
  | 'queueDepth'
  /** Recorded expressions of ScaiDNS's metrics: the share of 5xx answers, the API's and PowerDNS's p99 (seconds). */
  | 'apiErrorShare'
  | 'scaidnsApiP99'
  | 'pdnsP99'
  /** The endpoint a probe asks (text) and how long it took (ms). */
  | 'endpointUrl'
  | 'endpointLatency'
  /** What the endpoint is to the thresholds: `readiness`, `send`, `read` or `other` (text). */
  | 'endpointRole'
  /** Observations a report lists as the details of a DNS authentication check (SPF, DKIM, DMARC, PTR, MX). */
  | 'dnsAuthDetail';

/** An observation key, or a pattern every key it matches fits. */
export type ObservationName = string | RegExp;

export interface KindFeeds {
  observations?: Partial<Record<FeedRole, ObservationName>>;
  /** Item types the kind's runs record (core/items.ts). */
  items?: readonly string[];
}

/** Whether `key` is the observation `name` declares. */
export function isObservation(name: ObservationName, key: string): boolean {
  return typeof name === 'string' ? key === name : name.test(key);
}

/** The observations of the DNS kinds (dns, email-auth) a report lists as authentication details. */
export const DNS_AUTH_DETAIL = /spf|dkim|dmarc|ptr|fcrdns|mx/i;
