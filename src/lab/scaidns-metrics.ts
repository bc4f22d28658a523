// ScaiDNS's simulated /metrics: request counts, latencies and errors that follow the switches.
import type { ServerResponse } from 'node:http';
import type { Faults, LabApp } from './http-app.ts';

/**
 * Simulated ScaiDNS traffic behind /metrics, with the manual's metric names.
 * Each scrape advances the simulation by the wall time since the previous one,
 * so rates and quantiles respond to the switches within one scrape:
 *   metricsRps (default 20)          simulated API requests per second
 *   metrics5xxShare (default 0)      fraction answered 500
 *   metricsLatencyMs (default 15)    mean API latency (exponential distribution: p99 = 4.6 x mean)
 *   metricsPdnsLatencyMs (default 8) mean PowerDNS API latency
 */
export interface MetricsFaults {
  metricsRps?: number;
  metrics5xxShare?: number;
  metricsLatencyMs?: number;
  metricsPdnsLatencyMs?: number;
}

/** prometheus_client's (Python) default buckets, as ScaiDNS exposes them. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const ROUTES = [
  { method: 'GET', path: '/api/v1/zones', weight: 0.4 },
  { method: 'GET', path: '/api/v1/zones/{zone_id}/records', weight: 0.3 },
  { method: 'PATCH', path: '/api/v1/zones/{zone_id}/records', weight: 0.1 },
  { method: 'GET', path: '/health/ready', weight: 0.15 },
  { method: 'GET', path: '/api/v1/admin/sync-status', weight: 0.05 },
];

class Histogram {
  readonly buckets = new Map<string, number[]>();
  readonly sums = new Map<string, number>();
  /** Adds n observations of an exponential distribution with the given mean (seconds), as whole counts. */
  add(labels: string, n: number, mean: number): void {
    const counts = this.buckets.get(labels) ?? new Array<number>(BUCKETS.length + 1).fill(0);
    // round(n * F(le)) never decreases with le, so buckets stay cumulative.
    BUCKETS.forEach((le, i) => (counts[i] = (counts[i] ?? 0) + Math.round(n * (1 - Math.exp(-le / mean)))));
    counts[BUCKETS.length] = (counts[BUCKETS.length] ?? 0) + n;
    this.buckets.set(labels, counts);
    this.sums.set(labels, (this.sums.get(labels) ?? 0) + n * mean);
  }
  render(name: string, help: string): string[] {
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    for (const [labels, counts] of this.buckets) {
      const sep = labels ? `${labels},` : '';
      BUCKETS.forEach((le, i) => lines.push(`${name}_bucket{${sep}le="${le}"} ${counts[i]}`));
      lines.push(`${name}_bucket{${sep}le="+Inf"} ${counts[BUCKETS.length]}`);
      lines.push(`${name}_count${labels ? `{${labels}}` : ''} ${counts[BUCKETS.length]}`);
      lines.push(`${name}_sum${labels ? `{${labels}}` : ''} ${(this.sums.get(labels) ?? 0).toFixed(6)}`);
    }
    return lines;
  }
}

function number(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

const inc = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);

/** Shares total requests out over the routes by weight, share of them errors (fractions carried to the next call). */
function spreadOverRoutes(
  into: { requests: Map<string, number>; latency: Histogram; carriedErrors: Map<string, number> },
  total: number,
  share: number,
  mean: number,
): void {
  let assigned = 0;
  ROUTES.forEach((route, index) => {
    const n = index === ROUTES.length - 1 ? total - assigned : Math.floor(total * route.weight);
    assigned += n;
    const exactErrors = n * share + (into.carriedErrors.get(route.path) ?? 0);
    const errors = Math.min(n, Math.floor(exactErrors));
    into.carriedErrors.set(route.path, exactErrors - errors);
    const base = `method="${route.method}",path="${route.path}"`;
    if (n - errors > 0) inc(into.requests, `${base},status="200"`, n - errors);
    // While errors are switched on the 500 series exists even at zero, as a client that
    // initialises its label sets exposes it: a series born between two scrapes has no
    // rate in Prometheus, which would make the first window depend on scrape timing.
    if (errors > 0 || share > 0) inc(into.requests, `${base},status="500"`, errors);
    if (n > 0) into.latency.add(base, n, mean);
  });
}

export function createMetricsSimulation(now: () => number = Date.now) {
  const requests = new Map<string, number>();
  const pdnsRequests = new Map<string, number>();
  const latency = new Histogram();
  const pdnsLatency = new Histogram();
  // Fractions carried between scrapes so long-run counts match the switches exactly.
  const carry = { requests: 0, errors: new Map<string, number>(), pdns: 0 };
  let last = now();
  let dbQueries = 0;

  function advance(faults: Faults & MetricsFaults): void {
    const at = now();
    const seconds = Math.min(Math.max(0, (at - last) / 1000), 600);
    last = at;
    const share = Math.min(1, number(faults.metrics5xxShare, 0));
    const mean = Math.max(0.0001, number(faults.metricsLatencyMs, 15) / 1000);
    const exact = number(faults.metricsRps, 20) * seconds + carry.requests;
    const total = Math.floor(exact);
    carry.requests = exact - total;
    spreadOverRoutes({ requests, latency, carriedErrors: carry.errors }, total, share, mean);
    dbQueries += total * 2;
    const pdnsExact = total * 0.1 + carry.pdns;
    const pdns = Math.floor(pdnsExact);
    carry.pdns = pdnsExact - pdns;
    if (pdns > 0) {
      inc(pdnsRequests, 'method="PATCH",status="200"', pdns);
      pdnsLatency.add('method="PATCH"', pdns, Math.max(0.0001, number(faults.metricsPdnsLatencyMs, 8) / 1000));
    }
  }

  function render(): string {
    const lines = [
      '# HELP scaidns_http_requests_total Total HTTP requests',
      '# TYPE scaidns_http_requests_total counter',
    ];
    for (const [labels, value] of requests) lines.push(`scaidns_http_requests_total{${labels}} ${value}`);
    lines.push(...latency.render('scaidns_http_request_duration_seconds', 'HTTP request latency'));
    lines.push(
      '# HELP scaidns_pdns_requests_total PowerDNS API requests',
      '# TYPE scaidns_pdns_requests_total counter',
    );
    for (const [labels, value] of pdnsRequests) lines.push(`scaidns_pdns_requests_total{${labels}} ${value}`);
    lines.push(...pdnsLatency.render('scaidns_pdns_request_duration_seconds', 'PowerDNS API latency'));
    lines.push(
      '# HELP scaidns_db_queries_total Database query count',
      '# TYPE scaidns_db_queries_total counter',
      `scaidns_db_queries_total ${dbQueries}`,
    );
    return `${lines.join('\n')}\n`;
  }

  return { advance, render };
}

/** Mounts GET /metrics on the ScaiDNS stand-in. */
export function mountScaiDnsMetrics(app: LabApp, now: () => number = Date.now): void {
  const simulation = createMetricsSimulation(now);
  app.route('GET', '/metrics', ({ faults }, res: ServerResponse) => {
    simulation.advance(faults);
    const body = simulation.render();
    res.writeHead(200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
}
