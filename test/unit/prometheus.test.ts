import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, seriesKey, splitSeriesKey } from '../../src/protocols/prometheus/text.ts';
import {
  evaluatePromExpr,
  looksLikeExpression,
  parsePromExpr,
  type KeptScrape,
} from '../../src/protocols/prometheus/expr.ts';
import { bucketQuantile, extrapolatedIncrease } from '../../src/protocols/prometheus/range.ts';
import { prometheusKind } from '../../src/probers/prometheus.ts';
import pino from 'pino';
import type { Clock, Timer } from '../../src/util/clock.ts';
import type { HttpClient } from '../../src/protocols/http/client.ts';
import type { Measurement } from '../../src/core/probe.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { specFor } from '../helpers/probe-run.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';

/** Cumulative histogram series for samples (seconds) over the given bucket bounds. */
function histogram(
  name: string,
  samples: number[],
  bounds: number[],
  labels: Record<string, string> = {},
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const le of [...bounds, Number.POSITIVE_INFINITY]) {
    out[seriesKey(`${name}_bucket`, { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) })] =
      samples.filter((s) => s <= le).length;
  }
  return out;
}

describe('text exposition parser', () => {
  test('reads types, labels with escapes, special values and timestamps', () => {
    const page = [
      '# HELP scaidns_http_requests_total Requests',
      '# TYPE scaidns_http_requests_total counter',
      'scaidns_http_requests_total{method="GET",path="/a \\"q\\"",status="200"} 1027 1700000000000',
      'scaidns_http_requests_total{method="GET",path="/b\\\\c",status="500",} 3',
      'up 1',
      'weird_gauge NaN',
      'x_bucket{le="+Inf"} +Inf',
    ].join('\n');
    const { samples, types } = parsePromText(page);
    assert.equal(types.scaidns_http_requests_total, 'counter');
    assert.equal(samples.length, 5);
    assert.deepEqual(samples[0], {
      name: 'scaidns_http_requests_total',
      labels: { method: 'GET', path: '/a "q"', status: '200' },
      value: 1027,
    });
    assert.equal(samples[1]?.labels.path, '/b\\c');
    assert.ok(Number.isNaN(samples[3]?.value));
    assert.equal(samples[4]?.value, Number.POSITIVE_INFINITY);
  });

  test('a malformed line is reported with its number', () => {
    assert.throws(() => parsePromText('ok 1\nbroken{a=1} 2\n'), /line 2/);
    assert.throws(() => parsePromText('novalue\n'), /line 1/);
  });

  test('series keys round-trip', () => {
    const key = seriesKey('m', { z: 'a"b', a: '1' });
    assert.equal(key, seriesKey('m', { a: '1', z: 'a"b' }), 'label order does not matter');
    assert.deepEqual(splitSeriesKey(key), { name: 'm', labels: { a: '1', z: 'a"b' } });
  });
});

describe('expressions', () => {
  const page = (v: Record<string, number>, t: number): KeptScrape => ({ t, v });
  const req = (status: string, path = '/api/v1/zones') =>
    seriesKey('scaidns_http_requests_total', { method: 'GET', path, status });

  test('label matchers: =, !=, =~ (anchored), !~', () => {
    const scrape = page(
      { [req('200')]: 90, [req('500')]: 6, [req('503')]: 4, [req('404')]: 7, [req('200', '/health/ready')]: 50 },
      0,
    );
    const value = (text: string) => evaluatePromExpr(parsePromExpr(text), { scrapes: [scrape], now: 0 });
    assert.equal(value('scaidns_http_requests_total'), 157);
    assert.equal(value('scaidns_http_requests_total{status=~"5.."}'), 10);
    assert.equal(value('scaidns_http_requests_total{status=~"5"}'), 0, 'regex is anchored');
    assert.equal(value('scaidns_http_requests_total{status!~"2..|4..",path="/api/v1/zones"}'), 10);
    assert.equal(value('sum(scaidns_http_requests_total{path!="/health/ready"})'), 107);
    assert.equal(value('(scaidns_http_requests_total{status="500"} + 4) * 2 / 4'), 5);
  });

  test('rate over five minutes of one-minute scrapes, and the ratio of two rates', () => {
    const scrapes: KeptScrape[] = [];
    for (let minute = 0; minute <= 10; minute++)
      scrapes.push(page({ [req('200')]: 600 * minute, [req('500')]: 6 * minute }, minute * 60_000));
    const input = { scrapes, now: 600_000 };
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(scaidns_http_requests_total{status="200"})'), input), 10);
    const share = evaluatePromExpr(
      parsePromExpr('rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total)'),
      input,
    );
    assert.ok(Math.abs((share ?? 0) - 6 / 606) < 1e-12);
    assert.equal(evaluatePromExpr(parsePromExpr('increase1m(scaidns_http_requests_total{status="500"})'), input), 6);
  });

  test('counter resets: a drop counts from zero, not as a negative increase', () => {
    // 100 -> 160 (+60), restart -> 20 (+20), -> 50 (+30); the probe has watched only these three minutes.
    const c = seriesKey('c', {});
    const scrapes = [
      page({ [c]: 100 }, 0),
      page({ [c]: 160 }, 60_000),
      page({ [c]: 20 }, 120_000),
      page({ [c]: 50 }, 180_000),
    ];
    assert.equal(
      extrapolatedIncrease(
        scrapes.map((s) => ({ t: s.t, v: s.v[c] ?? 0 })),
        { start: 0, end: 180_000 },
      ),
      110,
    );
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(c)'), { scrapes, now: 180_000 }), 110 / 180);
    assert.equal(evaluatePromExpr(parsePromExpr('increase5m(c)'), { scrapes, now: 180_000 }), 110);
  });

  test('a series seen once in the window adds nothing (Prometheus needs two samples); a single scrape has no rate', () => {
    const scrapes = [page({ [req('200')]: 10 }, 0), page({ [req('200')]: 20, [req('500')]: 2 }, 60_000)];
    assert.equal(
      evaluatePromExpr(parsePromExpr('increase5m(scaidns_http_requests_total{status="500"})'), {
        scrapes,
        now: 60_000,
      }),
      0,
    );
    assert.equal(
      evaluatePromExpr(parsePromExpr('rate5m(scaidns_http_requests_total)'), {
        scrapes: scrapes.slice(1),
        now: 60_000,
      }),
      null,
    );
    assert.equal(
      evaluatePromExpr(parsePromExpr('rate5m(nothing) / rate5m(nothing)'), { scrapes, now: 60_000 }),
      0,
      '0/0 is no share',
    );
  });

  test('scrapes older than the window are not used', () => {
    const c = seriesKey('c', {});
    const scrapes = [
      page({ [c]: 0 }, 0),
      page({ [c]: 1000 }, 60_000),
      page({ [c]: 1060 }, 600_000),
      page({ [c]: 1120 }, 660_000),
    ];
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(c)'), { scrapes, now: 660_000 }), 1);
  });

  test('quantiles of a uniform distribution come out where they belong', () => {
    const samples = Array.from({ length: 10_000 }, (_, i) => (i + 0.5) / 10_000);
    const bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
    const buckets = Object.entries(histogram('h', samples, bounds)).map(([key, count]) => ({
      le: Number(splitSeriesKey(key).labels.le === '+Inf' ? Infinity : splitSeriesKey(key).labels.le),
      count,
    }));
    for (const q of [0.5, 0.9, 0.95, 0.99])
      assert.ok(Math.abs((bucketQuantile(q, buckets) ?? 0) - q) < 0.001, `p${q * 100}`);
  });

  test('p99 of an exponential distribution (mean 100 ms) from fine buckets, in milliseconds, over the window', () => {
    const mean = 0.1;
    const samples = Array.from({ length: 20_000 }, (_, i) => -mean * Math.log(1 - (i + 0.5) / 20_000));
    const bounds = Array.from({ length: 200 }, (_, i) => Math.round((i + 1) * 0.01 * 100) / 100);
    const before = histogram('scaidns_http_request_duration_seconds', [], bounds, { path: '/a' });
    const after = histogram('scaidns_http_request_duration_seconds', samples, bounds, { path: '/a' });
    const input = {
      scrapes: [
        { t: 0, v: before },
        { t: 60_000, v: after },
      ],
      now: 60_000,
    };
    const p99 = evaluatePromExpr(parsePromExpr('p99(scaidns_http_request_duration_seconds)'), input) ?? 0;
    const truth = -mean * Math.log(0.01) * 1000; // 460.5 ms
    assert.ok(Math.abs(p99 - truth) < 10, `p99 ${p99} vs ${truth}`);
    const p50 = evaluatePromExpr(parsePromExpr('p50(scaidns_http_request_duration_seconds{path="/a"})'), input) ?? 0;
    assert.ok(Math.abs(p50 - mean * Math.LN2 * 1000) < 10, `p50 ${p50}`);
    assert.equal(
      evaluatePromExpr(parsePromExpr('p99(scaidns_http_request_duration_seconds{path="/other"})'), input),
      null,
    );
  });

  test('the +Inf bucket answers with the highest finite bound', () => {
    assert.equal(
      bucketQuantile(0.99, [
        { le: 0.5, count: 10 },
        { le: Infinity, count: 100 },
      ]),
      0.5,
    );
    assert.equal(
      bucketQuantile(0.5, [
        { le: 1, count: 0 },
        { le: Infinity, count: 0 },
      ]),
      null,
    );
  });

  test('parse errors point at the problem; observation keys are not expressions', () => {
    assert.throws(() => parsePromExpr('rate5m(x{status=~"5.."}'), /expected "\)"/);
    assert.throws(() => parsePromExpr('foo(x)'), /unknown function foo/);
    assert.throws(() => parsePromExpr('x{a=b}'), /must be quoted/);
    assert.throws(() => parsePromExpr('x{a=~"("}'), /bad regex/);
    assert.equal(looksLikeExpression('scrape.latency'), false);
    assert.equal(looksLikeExpression('p99(x)'), true);
    assert.equal(looksLikeExpression('rate5m(a{status=~"5.."}) / rate5m(a)'), true);
  });

  test('the kind rejects a bad expression in expect at its index', () => {
    const spec = {
      url: 'http://127.0.0.1:1/metrics',
      headers: {},
      record: ['p99(ok_seconds)'],
      warmup: 1000,
      expect: [
        { expr: 'scrape.latency < 1s', soft: false },
        { expr: 'rate5m(x{) < 1', soft: false },
      ],
    };
    const problems = prometheusKind.check?.(spec as never) ?? [];
    assert.equal(problems.length, 1);
    assert.deepEqual(problems[0]?.path, ['expect', 1]);
  });
});

describe('label values and matchers', () => {
  test('the text format unescapes only \\\\, \\" and \\n: a raw TAB and a backslash-t are different values', () => {
    const page = ['m{p="tab\there"} 1', 'm{p="tab\\there"} 2', 'm{p="x\\qy"} 3', 'm{p="a\\\\b\\"c\\nd"} 4'].join('\n');
    assert.deepEqual(
      parsePromText(page).samples.map((s) => s.labels.p),
      ['tab\there', 'tab\\there', 'x\\qy', 'a\\b"c\nd'],
    );
  });

  test('series keys survive any label value, and different label sets never share a key', () => {
    const odd = ['tab\there', 'line1\nline2', 'back\\slash', 'say "hi"', 'a","b=c', '}{', '\u0001ctl', 'ünï ☃', ''];
    for (const value of odd)
      assert.deepEqual(
        splitSeriesKey(seriesKey('m', { path: value, le: '+Inf' })),
        { name: 'm', labels: { le: '+Inf', path: value } },
        JSON.stringify(value),
      );
    const keys = new Set([
      seriesKey('m', { a: 'x",b="y' }),
      seriesKey('m', { a: 'x', b: 'y' }),
      seriesKey('m', { a: 'tab\tx' }),
      seriesKey('m', { a: 'tab\\tx' }),
      seriesKey('m', { a: 'tabtx' }),
    ]);
    assert.equal(keys.size, 5);
  });

  test('matchers honour PromQL escapes, quotes and raw strings', () => {
    const v: Record<string, number> = {};
    const values: Array<[string, number]> = [
      ['line1\nline2', 1],
      ['a\\b', 2],
      ['say "hi"', 4],
      ['tab\there', 8],
      ['é', 16],
      ["it's", 32],
      ['A', 64],
      ['tabthere', 128],
    ];
    for (const [p, n] of values) v[seriesKey('m', { p })] = n;
    const value = (text: string) => evaluatePromExpr(parsePromExpr(text), { scrapes: [{ t: 0, v }], now: 0 });
    assert.equal(value('m{p="line1\\nline2"}'), 1);
    assert.equal(value('m{p="a\\\\b"}'), 2);
    assert.equal(value('m{p=`a\\b`}'), 2, 'raw string');
    assert.equal(value('m{p="say \\"hi\\""}'), 4);
    assert.equal(value('m{p="tab\\there"}'), 8);
    assert.equal(value('m{p="\\u00e9"}'), 16);
    assert.equal(value('m{p="\\xc3\\xa9"}'), 16, 'byte escapes are UTF-8');
    assert.equal(value("m{p='it\\'s'}"), 32);
    assert.equal(value('m{p="\\x41"}'), 64);
    assert.equal(value('m{p="\\101"}'), 64, 'octal');
    assert.equal(value('m{p=~"line1\\nline2|a\\\\\\\\b"}'), 3, 'regex after unescaping: a\\\\b matches a backslash');
    assert.equal(value('m{p=~"line1.line2"}'), 0, '. does not match a newline, as in Prometheus 2');
    assert.equal(value('m{p=~"(?i)TAB\\\\sHERE"}'), 8, 'a leading (?i) ignores case');
    assert.equal(value('m{p=~"."}'), 16 + 64, '. is one character, é included');
    assert.throws(() => parsePromExpr('m{p="\\d"}'), /unknown escape \\d/);
    assert.throws(() => parsePromExpr('m{p="\\\'"}'), /unknown escape/, "\\' only in single quotes, as in Go");
    assert.throws(() => parsePromExpr('m{p="abc}'), /unterminated string/);
    assert.throws(() => parsePromExpr('m{p="\\400"}'), /octal escape/);
  });
});

describe('OpenMetrics input', () => {
  const page = [
    '# TYPE jobs counter',
    '# UNIT jobs_seconds seconds',
    '# HELP jobs Jobs done.',
    'jobs_total{queue="a"} 17 1700000000.123',
    'jobs_created{queue="a"} 1700000000.0',
    '# TYPE lat_seconds histogram',
    'lat_seconds_bucket{le="0.1"} 3 # {trace_id="abc def"} 0.05 1700000000.5',
    'lat_seconds_bucket{le="1.0"} 5',
    'lat_seconds_bucket{le="+Inf"} 6',
    'lat_seconds_count 6',
    'lat_seconds_sum 2.5',
    'lat_seconds_created 1700000000.0',
    '# EOF',
    '',
  ].join('\n');

  test('samples, exemplars, _created and # EOF', () => {
    const { samples, types } = parsePromText(page);
    assert.equal(types.jobs, 'counter');
    assert.deepEqual(samples[0], { name: 'jobs_total', labels: { queue: 'a' }, value: 17 });
    assert.deepEqual(samples[1], { name: 'jobs_created', labels: { queue: 'a' }, value: 1_700_000_000 });
    assert.equal(samples[2]?.value, 3, 'the exemplar is not the value');
    assert.equal(samples.length, 8);
  });

  test('nothing may follow # EOF', () => {
    assert.throws(() => parsePromText(`${page}jobs_total{queue="b"} 1\n`), /line 14: text after # EOF/);
  });

  test('_created never enters a rate or a quantile, and le="1.0" is the bucket le="1"', () => {
    const later = page
      .replace('jobs_total{queue="a"} 17', 'jobs_total{queue="a"} 77')
      .replace('{le="0.1"} 3', '{le="0.1"} 13')
      .replace('{le="1.0"} 5', '{le="1.0"} 15')
      .replace('{le="+Inf"} 6', '{le="+Inf"} 16');
    const kept = (text: string, t: number): KeptScrape => ({
      t,
      v: Object.fromEntries(parsePromText(text).samples.map((s) => [seriesKey(s.name, s.labels), s.value])),
    });
    const textPage: KeptScrape = {
      t: 120_000,
      v: {
        [seriesKey('lat_seconds_bucket', { le: '1' })]: 25,
        [seriesKey('lat_seconds_bucket', { le: '+Inf' })]: 26,
        [seriesKey('lat_seconds_bucket', { le: '0.1' })]: 23,
      },
    };
    const scrapes = [kept(page, 0), kept(later, 60_000)];
    assert.equal(evaluatePromExpr(parsePromExpr('increase1m(jobs_total)'), { scrapes, now: 60_000 }), 60);
    // 10 more observations, all at or below 0.1 s: the median is in the first bucket.
    assert.equal(evaluatePromExpr(parsePromExpr('p50_1m(lat_seconds)'), { scrapes, now: 60_000 }), 50);
    assert.equal(
      evaluatePromExpr(parsePromExpr('p50_1m(lat_seconds)'), { scrapes: [...scrapes, textPage], now: 120_000 }),
      50,
      'the same bucket spelled le="1"',
    );
  });
});

describe('Prometheus semantics of windows', () => {
  const c = (labels: Record<string, string> = {}) => seriesKey('c', labels);
  const value = (text: string, scrapes: KeptScrape[], now: number) =>
    evaluatePromExpr(parsePromExpr(text), { scrapes, now });

  test('a series missing from scrapes and back is compared with its own last value, not counted whole', () => {
    // Counting 1/s, scraped every 10 s, absent from the scrapes at 20, 30 and 40 s.
    const scrapes = [0, 10, 20, 30, 40, 50, 60].map((s) => ({
      t: s * 1000,
      v: s >= 20 && s <= 40 ? { [c({ k: 'other' })]: s } : { [c()]: s, [c({ k: 'other' })]: s },
    }));
    assert.equal(value('rate1m(c{k=""})', scrapes, 60_000), 1);
    assert.equal(value('increase1m(c{k=""})', scrapes, 60_000), 60);
  });

  test("the manual's 5xx-share threshold does not page when a 503 series is hidden for 40 s while counting", () => {
    // 260 req/s of 200s, 0.5/s each of 500 and 503 (a true share of 0.383 %); scraped every 15 s; the 503 series is
    // off the page from 6:00 to 6:40.
    const scrapes: KeptScrape[] = [];
    const req = (status: string) => seriesKey('scaidns_http_requests_total', { status });
    for (let s = 0; s <= 900; s += 15) {
      const v: Record<string, number> = { [req('200')]: 260 * s, [req('500')]: Math.floor(0.5 * s) };
      if (s < 360 || s > 400) v[req('503')] = Math.floor(0.5 * s);
      scrapes.push({ t: s * 1000, v });
    }
    const share = 'rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total)';
    for (const scrape of scrapes.filter((s) => s.t >= 300_000)) {
      const at = scrapes.filter((s) => s.t <= scrape.t);
      const got = value(share, at, scrape.t) ?? Number.NaN;
      // While the series is away its last samples age out of the window, so the share dips a little, as in Prometheus.
      assert.ok(got < 0.005 && Math.abs(got - 1 / 261) < 0.1 / 261, `share ${got} at ${scrape.t / 1000} s`);
      const rate503 = value('rate1m(scaidns_http_requests_total{status="503"})', at, scrape.t) ?? 0;
      assert.ok(rate503 <= 0.55, `rate1m of 503 ${rate503} at ${scrape.t / 1000} s`);
    }
  });

  test('extrapolation to the window edges, as Prometheus does', () => {
    // 1/s from 0, scraped at 5, 15, ..., 55 s: a 60 s window ending at 60 s extrapolates 5 s at each end.
    const scrapes = [5, 15, 25, 35, 45, 55].map((s) => ({
      t: s * 1000,
      v: { [c()]: s, [c({ k: 'offset' })]: 1000 + s },
    }));
    const withStart = [{ t: 0, v: {} }, ...scrapes];
    assert.equal(value('increase1m(c{k=""})', withStart, 60_000), 60);
    assert.equal(value('increase1m(c{k="offset"})', withStart, 60_000), 60);
    assert.equal(value('rate1m(c)', withStart, 60_000), 2);
    // Starting at 1, the counter was 0 a second before its first sample: the start is not extrapolated past that.
    const fromOne = [5, 15, 25].map((s) => ({ t: s * 1000, v: { [c()]: 1 + (s - 5) } }));
    assert.ok(Math.abs((value('increase30s(c)', [{ t: 0, v: {} }, ...fromOne], 30_000) ?? 0) - 20 * (26 / 20)) < 1e-9);
  });

  test('the window is exactly the one named: a scrape just before it is not used', () => {
    // A burst of 600 between 57 s and 63 s, flat afterwards: rate1m at 120 s sees none of it.
    const scrapes = [
      { t: 57_000, v: { [c()]: 0 } },
      ...[63, 75, 90, 105, 120].map((s) => ({ t: s * 1000, v: { [c()]: 600 } })),
    ];
    assert.equal(value('rate1m(c)', scrapes, 120_000), 0);
    assert.equal(value('increase1m(c)', scrapes, 120_000), 0);
  });

  test('quantiles read buckets over exactly the window, with Prometheus interpolation', () => {
    // Fast observations (under 0.1 s) all along, 10 per second, and a burst of 1000 slow ones (1-10 s) between the
    // scrapes at 58 s and 63 s: p50 over the minute ending at 120 s sees only fast ones, uniform in 0-0.1 s.
    const bucket = (le: string) => seriesKey('h_seconds_bucket', { le });
    const scrapes = [58, 63, 69, 75, 81, 87, 93, 99, 105, 111, 117, 120].map((s) => {
      const fast = s * 10;
      const slow = s >= 63 ? 1000 : 0;
      return {
        t: s * 1000,
        v: { [bucket('0.1')]: fast, [bucket('1')]: fast, [bucket('10')]: slow + fast, [bucket('+Inf')]: slow + fast },
      };
    });
    assert.ok(Math.abs((value('p50_1m(h_seconds)', scrapes, 120_000) ?? 0) - 50) < 1e-9);
    assert.equal(
      bucketQuantile(0.75, [
        { le: 0.1, count: 10 },
        { le: 1, count: 8 },
        { le: 2, count: 20 },
        { le: Infinity, count: 20 },
      ]),
      1.5,
      'counts made monotonic',
    );
    assert.equal(bucketQuantile(0.5, [{ le: Infinity, count: 10 }]), null, 'one bucket is no histogram');
  });

  test('a probe that has not watched the whole window yet: the rate over what it saw', () => {
    // A first run's warm-up: two scrapes 2 s apart, 10/s.
    const scrapes = [
      { t: 0, v: { [c()]: 500 } },
      { t: 2000, v: { [c()]: 520 } },
    ];
    assert.equal(value('rate5m(c)', scrapes, 2000), 10);
    assert.equal(value('increase5m(c)', scrapes, 2000), 20);
  });
});

describe('the kind over runs', () => {
  /** A clock that stands still but for the shifts a test makes (runs 20 s apart) and the waits of the probe (the warm-up), which move it on instead of sleeping. */
  class ShiftedClock implements Clock {
    offset = 0;
    private readonly base = Date.now();
    now(): number {
      return this.base + this.offset;
    }
    monotonic(): number {
      return this.now();
    }
    setTimer(callback: () => void, ms: number): Timer {
      this.offset += ms;
      const immediate = setImmediate(callback);
      return { cancel: () => clearImmediate(immediate) };
    }
  }

  /** An exporter answering from the clock: c_total{path="tab<TAB>here"} counts 5000/s, {path="tabthere"} 1000/s, a histogram observes 10/s under 0.1 s. */
  function stubExporter(clock: Clock, origin: number) {
    const accepts: string[] = [];
    const http: HttpClient = {
      async request(req) {
        accepts.push(req.headers?.accept ?? '');
        const s = (clock.now() - origin) / 1000;
        const body = [
          `c_total{path="tab\there"} ${Math.floor(5000 * s)}`,
          `c_total{path="tabthere"} ${Math.floor(1000 * s)}`,
          `h_seconds_bucket{le="0.1"} ${Math.floor(10 * s)}`,
          `h_seconds_bucket{le="+Inf"} ${Math.floor(10 * s)}`,
        ].join('\n');
        return {
          status: 200,
          headers: {},
          body: Buffer.from(body),
          bodyTruncated: false,
          timings: { firstByte: 1, total: 1 },
          hops: [req.url],
          url: req.url,
        };
      },
    };
    return { http, accepts };
  }

  async function run(prober: Prober, clock: Clock, http: HttpClient, previousState: unknown): Promise<Measurement> {
    return prober.probe({
      signal: AbortSignal.timeout(10_000),
      deadline: clock.now() + 10_000,
      clock,
      logger: pino({ level: 'silent' }),
      http,
      previousState,
      runId: 'test',
    });
  }

  test('every 20 s asking rate10s beside a 5m quantile: each run warms up and has a rate; a TAB label survives the stored state', async () => {
    const clock = new ShiftedClock();
    const { http, accepts } = stubExporter(clock, clock.now() - 600_000);
    const spec = specFor(prometheusKind, {
      url: 'http://127.0.0.1:1/metrics',
      warmup: '200ms',
      record: ['rate10s(c_total{path="tab\\there"})', 'p99(h_seconds)'],
    });
    const prober = prometheusKind.create(spec, {
      clock,
      logger: pino({ level: 'silent' }),
      http,
      recorded: new RecentItems(),
    });
    let state: unknown;
    for (let k = 0; k < 4; k++) {
      const before = accepts.length;
      const measured = await run(prober, clock, http, state);
      assert.equal(accepts.length - before, 2, `run ${k} scraped twice`);
      const rate = measured.observations['rate10s(c_total{path="tab\\there"})'];
      assert.ok(typeof rate === 'number' && Math.abs(rate - 5000) < 250, `run ${k}: rate ${String(rate)}`);
      assert.equal(typeof measured.observations['p99(h_seconds)'], 'number');
      state = JSON.parse(JSON.stringify(measured.state));
      clock.offset += 20_000;
    }
    assert.match(
      accepts[0] ?? '',
      /^application\/openmetrics-text;version=1\.0\.0,.*text\/plain;version=0\.0\.4/,
      'asks for OpenMetrics first, as Prometheus does',
    );
  });

  test('the kept state is exactly the widest window, and state from before the key format is ignored', async () => {
    const clock = new ShiftedClock();
    const { http } = stubExporter(clock, clock.now() - 600_000);
    const spec = specFor(prometheusKind, {
      url: 'http://127.0.0.1:1/metrics',
      warmup: '100ms',
      record: ['rate1m(c_total)'],
    });
    const prober = prometheusKind.create(spec, {
      clock,
      logger: pino({ level: 'silent' }),
      http,
      recorded: new RecentItems(),
    });
    const old = { scrapes: [{ t: clock.now() - 30_000, v: { 'c_total{path="tabthere"}': 1 } }] };
    let measured = await run(prober, clock, http, old);
    assert.equal(
      (measured.state as { scrapes: unknown[] }).scrapes.length,
      2,
      'the old scrape was not read: the run warmed up',
    );
    // Runs 9 s apart: the one 54 s back is inside the minute, the one 63 s back outside (and inside W + 5 % + 1 s).
    for (let k = 0; k < 9; k++) {
      clock.offset += 9_000;
      measured = await run(prober, clock, http, measured.state);
    }
    const times = (measured.state as { scrapes: Array<{ t: number }> }).scrapes.map((s) => s.t);
    const now = times.at(-1) ?? 0;
    assert.ok(
      times.every((t) => t >= now - 60_000),
      'nothing older than the window',
    );
    assert.equal(times.length, 7, 'the scrapes of the last minute: this one and six 9 s apart before it');
  });
});
