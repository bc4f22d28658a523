import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePromText, seriesKey, splitSeriesKey } from '../../src/probers/prom-text.ts';
import { bucketQuantile, evaluatePromExpr, increases, looksLikeExpression, parsePromExpr, type KeptScrape } from '../../src/probers/prom-expr.ts';
import { prometheusKind } from '../../src/probers/prometheus.ts';

/** Cumulative histogram series for samples (seconds) over the given bucket bounds. */
function histogram(name: string, samples: number[], bounds: number[], labels: Record<string, string> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const le of [...bounds, Number.POSITIVE_INFINITY]) {
    out[seriesKey(`${name}_bucket`, { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) })] = samples.filter((s) => s <= le).length;
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
    assert.deepEqual(samples[0], { name: 'scaidns_http_requests_total', labels: { method: 'GET', path: '/a "q"', status: '200' }, value: 1027 });
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
  const req = (status: string, path = '/api/v1/zones') => seriesKey('scaidns_http_requests_total', { method: 'GET', path, status });

  test('label matchers: =, !=, =~ (anchored), !~', () => {
    const scrape = page({ [req('200')]: 90, [req('500')]: 6, [req('503')]: 4, [req('404')]: 7, [req('200', '/health/ready')]: 50 }, 0);
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
    for (let minute = 0; minute <= 10; minute++) scrapes.push(page({ [req('200')]: 600 * minute, [req('500')]: 6 * minute }, minute * 60_000));
    const input = { scrapes, now: 600_000 };
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(scaidns_http_requests_total{status="200"})'), input), 10);
    const share = evaluatePromExpr(parsePromExpr('rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total)'), input);
    assert.ok(Math.abs((share ?? 0) - 6 / 606) < 1e-12);
    assert.equal(evaluatePromExpr(parsePromExpr('increase1m(scaidns_http_requests_total{status="500"})'), input), 6);
  });

  test('counter resets: a drop counts from zero, not as a negative increase', () => {
    // 100 -> 160 (+60), restart -> 20 (+20), -> 50 (+30)
    const c = seriesKey('c', {});
    const scrapes = [page({ [c]: 100 }, 0), page({ [c]: 160 }, 60_000), page({ [c]: 20 }, 120_000), page({ [c]: 50 }, 180_000)];
    assert.equal(increases(scrapes).get(c), 110);
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(c)'), { scrapes, now: 180_000 }), 110 / 180);
    assert.equal(evaluatePromExpr(parsePromExpr('increase5m(c)'), { scrapes, now: 180_000 }), 110);
  });

  test('a series that appears between scrapes counts whole; a single scrape has no rate', () => {
    const scrapes = [page({ [req('200')]: 10 }, 0), page({ [req('200')]: 20, [req('500')]: 2 }, 60_000)];
    assert.equal(evaluatePromExpr(parsePromExpr('increase5m(scaidns_http_requests_total{status="500"})'), { scrapes, now: 60_000 }), 2);
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(scaidns_http_requests_total)'), { scrapes: scrapes.slice(1), now: 60_000 }), null);
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(nothing) / rate5m(nothing)'), { scrapes, now: 60_000 }), 0, '0/0 is no share');
  });

  test('scrapes older than the window are not used', () => {
    const c = seriesKey('c', {});
    const scrapes = [page({ [c]: 0 }, 0), page({ [c]: 1000 }, 60_000), page({ [c]: 1060 }, 600_000), page({ [c]: 1120 }, 660_000)];
    assert.equal(evaluatePromExpr(parsePromExpr('rate5m(c)'), { scrapes, now: 660_000 }), 1);
  });

  test('quantiles of a uniform distribution come out where they belong', () => {
    const samples = Array.from({ length: 10_000 }, (_, i) => (i + 0.5) / 10_000);
    const bounds = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
    const buckets = Object.entries(histogram('h', samples, bounds)).map(([key, count]) => ({ le: Number(splitSeriesKey(key).labels.le === '+Inf' ? Infinity : splitSeriesKey(key).labels.le), count }));
    for (const q of [0.5, 0.9, 0.95, 0.99]) assert.ok(Math.abs((bucketQuantile(q, buckets) ?? 0) - q) < 0.001, `p${q * 100}`);
  });

  test('p99 of an exponential distribution (mean 100 ms) from fine buckets, in milliseconds, over the window', () => {
    const mean = 0.1;
    const samples = Array.from({ length: 20_000 }, (_, i) => -mean * Math.log(1 - (i + 0.5) / 20_000));
    const bounds = Array.from({ length: 200 }, (_, i) => Math.round((i + 1) * 0.01 * 100) / 100);
    const before = histogram('scaidns_http_request_duration_seconds', [], bounds, { path: '/a' });
    const after = histogram('scaidns_http_request_duration_seconds', samples, bounds, { path: '/a' });
    const input = { scrapes: [{ t: 0, v: before }, { t: 60_000, v: after }], now: 60_000 };
    const p99 = evaluatePromExpr(parsePromExpr('p99(scaidns_http_request_duration_seconds)'), input) ?? 0;
    const truth = -mean * Math.log(0.01) * 1000; // 460.5 ms
    assert.ok(Math.abs(p99 - truth) < 10, `p99 ${p99} vs ${truth}`);
    const p50 = evaluatePromExpr(parsePromExpr('p50(scaidns_http_request_duration_seconds{path="/a"})'), input) ?? 0;
    assert.ok(Math.abs(p50 - mean * Math.LN2 * 1000) < 10, `p50 ${p50}`);
    assert.equal(evaluatePromExpr(parsePromExpr('p99(scaidns_http_request_duration_seconds{path="/other"})'), input), null);
  });

  test('the +Inf bucket answers with the highest finite bound', () => {
    assert.equal(bucketQuantile(0.99, [{ le: 0.5, count: 10 }, { le: Infinity, count: 100 }]), 0.5);
    assert.equal(bucketQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]), null);
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
    const spec = { url: 'http://127.0.0.1:1/metrics', headers: {}, record: ['p99(ok_seconds)'], warmup: 1000, expect: [{ expr: 'scrape.latency < 1s', soft: false }, { expr: 'rate5m(x{) < 1', soft: false }] };
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
    for (const value of odd) assert.deepEqual(splitSeriesKey(seriesKey('m', { path: value, le: '+Inf' })), { name: 'm', labels: { le: '+Inf', path: value } }, JSON.stringify(value));
    const keys = new Set([seriesKey('m', { a: 'x",b="y' }), seriesKey('m', { a: 'x', b: 'y' }), seriesKey('m', { a: 'tab\tx' }), seriesKey('m', { a: 'tab\\tx' }), seriesKey('m', { a: 'tabtx' })]);
    assert.equal(keys.size, 5);
  });

  test('matchers honour PromQL escapes, quotes and raw strings', () => {
    const v: Record<string, number> = {};
    const values: Array<[string, number]> = [['line1\nline2', 1], ['a\\b', 2], ['say "hi"', 4], ['tab\there', 8], ['é', 16], ["it's", 32], ['A', 64], ['tabthere', 128]];
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
    const later = page.replace('jobs_total{queue="a"} 17', 'jobs_total{queue="a"} 77').replace('{le="0.1"} 3', '{le="0.1"} 13').replace('{le="1.0"} 5', '{le="1.0"} 15').replace('{le="+Inf"} 6', '{le="+Inf"} 16');
    const kept = (text: string, t: number): KeptScrape => ({ t, v: Object.fromEntries(parsePromText(text).samples.map((s) => [seriesKey(s.name, s.labels), s.value])) });
    const textPage: KeptScrape = { t: 120_000, v: { [seriesKey('lat_seconds_bucket', { le: '1' })]: 25, [seriesKey('lat_seconds_bucket', { le: '+Inf' })]: 26, [seriesKey('lat_seconds_bucket', { le: '0.1' })]: 23 } };
    const scrapes = [kept(page, 0), kept(later, 60_000)];
    assert.equal(evaluatePromExpr(parsePromExpr('increase1m(jobs_total)'), { scrapes, now: 60_000 }), 60);
    // 10 more observations, all at or below 0.1 s: the median is in the first bucket.
    assert.equal(evaluatePromExpr(parsePromExpr('p50_1m(lat_seconds)'), { scrapes, now: 60_000 }), 50);
    assert.equal(evaluatePromExpr(parsePromExpr('p50_1m(lat_seconds)'), { scrapes: [...scrapes, textPage], now: 120_000 }), 50, 'the same bucket spelled le="1"');
  });
});
