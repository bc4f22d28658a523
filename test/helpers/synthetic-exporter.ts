import { createServer, type Server } from 'node:http';

/**
 * An exporter whose every value is a pure function of the time since it
 * started, so two scrapers asking at different moments see one consistent
 * history: counters at fixed rates, one that resets (a restart), one series
 * that vanishes from the page for a while and comes back having counted all
 * along, label values with TAB, newline, quotes, backslashes and non-ASCII
 * text, and a histogram whose distribution shifts. It answers OpenMetrics
 * (with `_created`, an exemplar and `# EOF`) to a scraper that asks for it,
 * and the text format otherwise, as client libraries do.
 */

/** Seconds after the start at which things happen. */
export interface Timeline {
  /** The "process" restarts: lab_jobs_total and the histogram start again from zero. */
  resetAt: number;
  /** lab_requests_total{status="503"} is left off the page from hideFrom until hideTo, while still counting. */
  hideFrom: number;
  hideTo: number;
  /** The histogram's latencies move from the fast distribution to the slow one. */
  shiftAt: number;
}

export const REQUEST_RATES: Record<string, number> = { '200': 2600, '500': 5, '503': 5 };

/** Label values that break naive parsers and series keys, each counting at its own rate. */
export const ODD_PATHS: Array<{ value: string; perSecond: number }> = [
  { value: 'line1\nline2', perSecond: 3 },
  { value: 'tab\there', perSecond: 4 },
  // What a parser that reads `\t` as `t` would confuse with the one above.
  { value: 'tabthere', perSecond: 2 },
  { value: 'back\\slash', perSecond: 5 },
  { value: 'say "hi"', perSecond: 6 },
  { value: 'c:\\temp', perSecond: 7 },
  { value: 'ünï ☃', perSecond: 8 },
  { value: 'a","b=c', perSecond: 9 },
];

export const BUCKET_BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Observations per second in each bucket (the last one above the highest bound), before and after the shift. */
const FAST = [10, 25, 40, 15, 6, 3, 1, 0];
const SLOW = [5, 10, 25, 30, 20, 6, 3, 1];
const MIDPOINTS = [0.025, 0.075, 0.175, 0.375, 0.75, 1.75, 3.75, 7.5];

export interface SyntheticExporter {
  url: string;
  port: number;
  startedAt: number;
  /** When things happen; nothing does until it is set (set it before its first event is due, so the past stays as served). */
  timeline: Timeline;
  /** How many scrapes were answered in OpenMetrics and in the text format. */
  served: { openMetrics: number; text: number };
  close(): Promise<void>;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

/** Observations of one bucket between `from` and `t` seconds, the rate switching at the shift. */
function observed(index: number, from: number, t: number, shiftAt: number): number {
  const fast = Math.max(0, Math.min(t, shiftAt) - from) * (FAST[index] ?? 0);
  const slow = Math.max(0, t - Math.max(from, shiftAt)) * (SLOW[index] ?? 0);
  return Math.floor(fast + slow);
}

interface Family {
  name: string;
  type: 'counter' | 'histogram';
  samples: Array<{ suffix: string; labels: Record<string, string>; value: number; exemplar?: string }>;
}

function families(t: number, timeline: Timeline, startedAt: number): Family[] {
  const restartedAt = t >= timeline.resetAt ? timeline.resetAt : 0;
  const created = (since: number) => (startedAt + since * 1000) / 1000;
  const requests: Family = { name: 'lab_requests', type: 'counter', samples: [] };
  for (const [status, perSecond] of Object.entries(REQUEST_RATES)) {
    if (status === '503' && t >= timeline.hideFrom && t < timeline.hideTo) continue;
    const labels = { status, path: '/api' };
    requests.samples.push(
      { suffix: '_total', labels, value: Math.floor(perSecond * t) },
      { suffix: '_created', labels, value: created(0) },
    );
  }
  const jobs: Family = {
    name: 'lab_jobs',
    type: 'counter',
    samples: [
      { suffix: '_total', labels: {}, value: Math.floor(40 * (t - restartedAt)) },
      { suffix: '_created', labels: {}, value: created(restartedAt) },
    ],
  };
  const odd: Family = { name: 'lab_odd', type: 'counter', samples: [] };
  for (const { value, perSecond } of ODD_PATHS)
    odd.samples.push({ suffix: '_total', labels: { path: value }, value: Math.floor(perSecond * t) });
  const latency: Family = { name: 'lab_latency_seconds', type: 'histogram', samples: [] };
  let cumulative = 0;
  let sum = 0;
  [...BUCKET_BOUNDS, Number.POSITIVE_INFINITY].forEach((le, index) => {
    const count = observed(index, restartedAt, t, timeline.shiftAt);
    cumulative += count;
    sum += count * (MIDPOINTS[index] ?? 0);
    const bound = le === Number.POSITIVE_INFINITY ? '+Inf' : String(le);
    latency.samples.push({
      suffix: '_bucket',
      labels: { path: '/api', le: bound },
      value: cumulative,
      ...(index === 1 ? { exemplar: `# {trace_id="t${Math.floor(t)}"} 0.07` } : {}),
    });
  });
  latency.samples.push(
    { suffix: '_count', labels: { path: '/api' }, value: cumulative },
    { suffix: '_sum', labels: { path: '/api' }, value: Math.round(sum * 1000) / 1000 },
    { suffix: '_created', labels: { path: '/api' }, value: created(restartedAt) },
  );
  return [requests, jobs, odd, latency];
}

/** The page as OpenMetrics 1.0, or as the 0.0.4 text format (no `_created`, no exemplars, no `# EOF`). */
export function renderPage(t: number, timeline: Timeline, startedAt: number, openMetrics: boolean): string {
  const lines: string[] = [];
  for (const family of families(t, timeline, startedAt)) {
    const typeName = openMetrics || family.type === 'histogram' ? family.name : `${family.name}_total`;
    lines.push(`# HELP ${typeName} Synthetic ${family.type}.`, `# TYPE ${typeName} ${family.type}`);
    for (const sample of family.samples) {
      if (!openMetrics && sample.suffix === '_created') continue;
      const exemplar = openMetrics && sample.exemplar ? ` ${sample.exemplar}` : '';
      lines.push(`${family.name}${sample.suffix}${labelText(sample.labels)} ${sample.value}${exemplar}`);
    }
  }
  if (openMetrics) lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

const NEVER: Timeline = {
  resetAt: Number.POSITIVE_INFINITY,
  hideFrom: Number.POSITIVE_INFINITY,
  hideTo: Number.POSITIVE_INFINITY,
  shiftAt: Number.POSITIVE_INFINITY,
};

export async function startSyntheticExporter(): Promise<SyntheticExporter> {
  const startedAt = Date.now();
  const served = { openMetrics: 0, text: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const openMetrics = (req.headers.accept ?? '').includes('application/openmetrics-text');
    served[openMetrics ? 'openMetrics' : 'text']++;
    const body = renderPage((Date.now() - startedAt) / 1000, exporter.timeline, startedAt, openMetrics);
    const type = openMetrics
      ? 'application/openmetrics-text; version=1.0.0; charset=utf-8'
      : 'text/plain; version=0.0.4; charset=utf-8';
    res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const exporter: SyntheticExporter = {
    url: `http://127.0.0.1:${port}/metrics`,
    port,
    startedAt,
    timeline: NEVER,
    served,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold the close up.
        server.closeAllConnections();
      }),
  };
  return exporter;
}
