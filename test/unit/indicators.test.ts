import { after, describe, test } from 'node:test';
import { endpointRole } from '../../src/probers/http.ts';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { IndicatorService, parseIndicatorsSection } from '../../src/indicators/service.ts';
import { registerIndicatorMetrics } from '../../src/server/indicator-metrics.ts';
import { defaultIndicatorsConfig } from '../../src/indicators/thresholds.ts';
import { trendOf } from '../../src/indicators/trend.ts';
import type { Indicator } from '../../src/indicators/compute.ts';

const T0 = Date.UTC(2025, 0, 6, 0, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const stores: SqliteStore[] = [];
after(() => stores.forEach((s) => s.close()));

function setup(probes: Array<{ name: string; kind: string; tenant?: string }>, overrides: unknown = {}) {
  const clock = new ManualClock(T0);
  const store = new SqliteStore(':memory:', clock);
  stores.push(store);
  store.probes.sync(probes.map((p) => ({ ...p, tags: [] })));
  const { config, issues } = parseIndicatorsSection(overrides);
  assert.deepEqual(issues, []);
  const service = new IndicatorService({ store, clock, config: config ?? defaultIndicatorsConfig(), cacheMs: 0 });
  let n = 0;
  const record = (
    probe: string,
    kind: string,
    observations: RunRecord['observations'],
    options: { status?: RunRecord['status']; tenant?: string; items?: RunRecord['items'] } = {},
  ) =>
    store.runs.record({
      uid: `r${n++}`,
      probe,
      kind,
      ...(options.tenant ? { tenant: options.tenant } : {}),
      startedAt: clock.now(),
      durationMs: 5,
      status: options.status ?? 'pass',
      attempts: 1,
      message: '',
      error: null,
      observations,
      assertions: [],
      phases: {},
      items: options.items ?? [],
    });
  const get = (id: string): Indicator => {
    const found = service.current().find((i) => i.id === id);
    assert.ok(
      found,
      `indicator ${id} missing; have ${service
        .current()
        .map((i) => i.id)
        .join(', ')}`,
    );
    return found;
  };
  return { clock, store, service, record, get };
}

describe('core thresholds over stored series', () => {
  test('bounce rate: ok, crossed (critical), cleared', () => {
    const { clock, record, get } = setup([{ name: 'acme-rates', kind: 'stats', tenant: 'acme' }]);
    const step = (bounceRate: number) => {
      record('acme-rates', 'stats', { bounceRate, spamReportRate: 0, deferralRate: 0 }, { tenant: 'acme' });
      clock.advance(15 * MIN);
    };
    for (let i = 0; i < 8; i++) step(0.004);
    assert.equal(get('bounceRate:acme').state, 'ok');
    step(0.031);
    const crossed = get('bounceRate:acme');
    assert.equal(crossed.state, 'critical');
    assert.equal(crossed.value, 0.031);
    assert.match(crossed.reason, /Bounce rate for acme is 3.1%, above 2%/);
    for (let i = 0; i < 6; i++) step(0.003);
    assert.equal(get('bounceRate:acme').state, 'ok');
  });

  test('spam-report rate threshold is 0.1% and overridable in the indicators section', () => {
    const { clock, record, get } = setup([{ name: 'r', kind: 'stats', tenant: 't' }], {
      thresholds: { spamReportRate: 0.005 },
    });
    record('r', 'stats', { bounceRate: 0, spamReportRate: 0.002, deferralRate: 0 }, { tenant: 't' });
    clock.advance(MIN);
    assert.equal(get('spamReportRate:t').state, 'ok', '0.2% is fine with the override at 0.5%');
    const defaults = setup([{ name: 'r', kind: 'stats', tenant: 't' }]);
    defaults.record('r', 'stats', { bounceRate: 0, spamReportRate: 0.002, deferralRate: 0 }, { tenant: 't' });
    assert.equal(defaults.get('spamReportRate:t').state, 'critical');
  });

  test('queue depth: above 100,000; growing at every run for 15 minutes; cleared when it drains', () => {
    const { clock, record, get } = setup([{ name: 'queues', kind: 'queue' }]);
    const at = (depth: number) => {
      record('queues', 'queue', { 'depth.total': depth });
      clock.advance(MIN);
    };
    for (let i = 0; i < 5; i++) at(50);
    assert.equal(get('queueDepth:queues').state, 'ok');
    for (let i = 1; i <= 8; i++) at(50 + i * 10);
    assert.equal(get('queueDepth:queues').state, 'warn', 'growing for 8 minutes');
    for (let i = 9; i <= 17; i++) at(50 + i * 10);
    const growing = get('queueDepth:queues');
    assert.equal(growing.state, 'critical');
    assert.match(growing.reason, /grown at every run/);
    at(20);
    assert.equal(get('queueDepth:queues').state, 'ok');
    at(150_000);
    assert.equal(get('queueDepth:queues').state, 'critical');
  });

  test('ScaiDNS 5xx share, API p99 and PowerDNS p99 from prometheus observations', () => {
    const { clock, record, get } = setup([{ name: 'scaidns-metrics', kind: 'prometheus' }]);
    const share = 'rate5m(scaidns_http_requests_total{status=~"5.."}) / rate5m(scaidns_http_requests_total)';
    const observe = (s: number, api: number, pdns: number) => {
      record('scaidns-metrics', 'prometheus', {
        [share]: s,
        'p99(scaidns_http_request_duration_seconds)': api,
        'p99(scaidns_pdns_request_duration_seconds)': pdns,
      });
      clock.advance(MIN);
    };
    observe(0.001, 300, 50);
    assert.deepEqual(
      ['apiErrorRate', 'scaidnsP99', 'pdnsP99'].map((n) => get(`${n}:scaidns-metrics`).state),
      ['ok', 'ok', 'ok'],
    );
    observe(0.02, 1800, 700);
    assert.deepEqual(
      ['apiErrorRate', 'scaidnsP99', 'pdnsP99'].map((n) => get(`${n}:scaidns-metrics`).state),
      ['critical', 'critical', 'critical'],
    );
    observe(0.0, 200, 40);
    assert.deepEqual(
      ['apiErrorRate', 'scaidnsP99', 'pdnsP99'].map((n) => get(`${n}:scaidns-metrics`).state),
      ['ok', 'ok', 'ok'],
    );
  });

  test('readiness failing for more than a minute; mail-send p99 over 200 ms', () => {
    const { clock, record, get } = setup([
      { name: 'ready', kind: 'http' },
      { name: 'send', kind: 'http' },
    ]);
    record('ready', 'http', { url: 'http://127.0.0.1:8000/ready', 'endpoint.role': 'readiness', latency: 3 });
    clock.advance(30_000);
    record(
      'ready',
      'http',
      { url: 'http://127.0.0.1:8000/ready', 'endpoint.role': 'readiness', latency: 3 },
      { status: 'fail' },
    );
    clock.advance(30_000);
    assert.equal(get('readiness:ready').state, 'warn');
    clock.advance(40_000);
    assert.equal(get('readiness:ready').state, 'critical');
    record('ready', 'http', { url: 'http://127.0.0.1:8000/ready', 'endpoint.role': 'readiness', latency: 3 });
    assert.equal(get('readiness:ready').state, 'ok');
    for (let i = 0; i < 100; i++) {
      record('send', 'http', {
        url: 'http://127.0.0.1:8000/v3/mail/send',
        'endpoint.role': 'send',
        latency: i < 97 ? 40 : 450,
      });
      clock.advance(20_000);
    }
    assert.equal(get('sendP99:send').state, 'critical');
  });

  test('an endpoint is judged by the role its probe gives it, not by its URL', () => {
    const { record, get, service } = setup([
      { name: 'gateway', kind: 'http' },
      { name: 'docs', kind: 'http' },
    ]);
    // A readiness check behind another path, and a page whose path looks like the send call but is not.
    record('gateway', 'http', { url: 'http://127.0.0.1:8000/healthz', 'endpoint.role': 'readiness', latency: 3 });
    record('docs', 'http', { url: 'http://127.0.0.1:8000/v3/mail/send/docs', 'endpoint.role': 'other', latency: 900 });
    assert.equal(get('readiness:gateway').state, 'ok');
    assert.deepEqual(
      service.current().filter((indicator) => indicator.subject === 'docs'),
      [],
    );
  });

  test("only send and read endpoints have their hour of runs read: a readiness or other endpoint's are never rebuilt", () => {
    const { clock, store, record, service } = setup([
      { name: 'ready', kind: 'http' },
      { name: 'page', kind: 'http' },
      { name: 'send', kind: 'http' },
    ]);
    for (let i = 0; i < 30; i++) {
      record('ready', 'http', { url: 'http://127.0.0.1:8000/ready', 'endpoint.role': 'readiness', latency: 3 });
      record('page', 'http', { url: 'http://127.0.0.1:8000/', 'endpoint.role': 'other', latency: 4 });
      record('send', 'http', { url: 'http://127.0.0.1:8000/v3/mail/send', 'endpoint.role': 'send', latency: 90 + i });
      clock.advance(MIN);
    }
    const read: string[] = [];
    const observationsOver = store.runs.observationsOver.bind(store.runs);
    store.runs.observationsOver = (probe, since, until) => {
      read.push(probe);
      return observationsOver(probe, since, until);
    };
    const sendP99 = service.current().find((indicator) => indicator.id.startsWith('sendP99'));
    assert.equal(sendP99?.value, 119, 'the send endpoint is still judged by its p99');
    assert.deepEqual(read, ['send']);
  });
});

test("the http kind's role: as configured, else what the manuals' paths say", () => {
  assert.equal(endpointRole('http://h/ready'), 'readiness');
  assert.equal(endpointRole('http://h/health/ready'), 'readiness');
  assert.equal(endpointRole('https://api.h/v3/mail/send'), 'send');
  assert.equal(endpointRole('https://api.h/v3/stats?x=1'), 'read');
  assert.equal(endpointRole('https://h/already'), 'other');
});

describe('reputation-leading indicators and trends', () => {
  test('trend test: a steady climb is rising, noise around a level is flat', () => {
    const rising = Array.from({ length: 24 }, (_, i) => ({
      t: i * HOUR,
      v: 0.005 + i * 0.0005 + (i % 3 === 0 ? 0.0002 : 0),
    }));
    assert.equal(trendOf(rising).trend, 'rising');
    const noise = Array.from({ length: 24 }, (_, i) => ({ t: i * HOUR, v: 0.01 + (i % 2 === 0 ? 0.002 : -0.002) }));
    assert.equal(trendOf(noise).trend, 'flat');
  });

  test('scripted slow degradation: the leading indicators warn hours before the bounce threshold fires', () => {
    const { clock, record, get } = setup([
      { name: 'acme-rates', kind: 'stats', tenant: 'acme' },
      { name: 'acme-seeds', kind: 'mail', tenant: 'acme' },
    ]);
    let firstWarn: number | undefined;
    let firstSeedWarn: number | undefined;
    let firstCritical: number | undefined;
    // Over three days the spam-folder share at seeds creeps up first; the bounce rate follows.
    for (let hour = 0; hour < 72; hour++) {
      const spamShare = Math.min(0.6, 0.02 + hour * 0.006);
      const bounceRate = 0.004 + Math.max(0, hour - 20) * 0.0005;
      const items = Array.from({ length: 10 }, (_, s) => ({
        type: 'mail.message',
        key: `seed-${s}:${hour}`,
        data: {
          seed: `seed-${s}`,
          placement: s < Math.round(spamShare * 10) ? 'spam' : 'inbox',
          timeToInboxMs: 2000,
          messageId: `<x.${hour}@send.acme.test>`,
          auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass', dkimDomain: 'send.acme.test' },
        },
      }));
      record('acme-seeds', 'mail', {}, { tenant: 'acme', items });
      record('acme-rates', 'stats', { bounceRate, spamReportRate: 0, deferralRate: 0 }, { tenant: 'acme' });
      clock.advance(MIN);
      const bounce = get('bounceRate:acme');
      if (bounce.state === 'warn' && firstWarn === undefined) {
        firstWarn = hour;
        assert.equal(bounce.trend, 'rising');
        assert.ok((bounce.value ?? 1) < 0.02);
        assert.match(bounce.reason, /rising .* would cross 2%/);
      }
      if (bounce.state === 'critical' && firstCritical === undefined) firstCritical = hour;
      if (get('seedSpamRate:acme/send.acme.test').state !== 'ok' && firstSeedWarn === undefined) firstSeedWarn = hour;
      clock.advance(HOUR - MIN);
    }
    assert.ok(firstCritical !== undefined, 'the bounce threshold fires eventually');
    assert.ok(
      firstWarn !== undefined && firstWarn < firstCritical,
      `bounce trend warned at hour ${firstWarn}, fired at ${firstCritical}`,
    );
    assert.ok(firstSeedWarn !== undefined && firstSeedWarn < firstWarn, `seed spam warned at hour ${firstSeedWarn}`);
  });

  test('blocklist listings by severity, time-to-inbox against its baseline, /metrics gauges', async () => {
    const { clock, record, get, service } = setup([
      { name: 'rbl', kind: 'rbl', tenant: 'acme' },
      { name: 'seeds', kind: 'mail', tenant: 'acme' },
    ]);
    const seed = (tti: number, hour: number) => ({
      type: 'mail.message',
      key: `s:${hour}`,
      data: { placement: 'inbox', timeToInboxMs: tti, messageId: '<a@d.test>', auth: null },
    });
    for (let hour = 0; hour < 24 * 7; hour += 2) {
      record('seeds', 'mail', {}, { tenant: 'acme', items: [seed(hour < 24 * 6 ? 3000 : 15_000, hour)] });
      clock.advance(2 * HOUR);
    }
    const tti = get('timeToInbox:acme/d.test');
    assert.equal(tti.state, 'critical');
    assert.equal(tti.value, 5);
    // Severities as the rbl kind writes them: info (a whole provider range listed) does not raise the state.
    record(
      'rbl',
      'rbl',
      {},
      {
        tenant: 'acme',
        items: [
          {
            type: 'rbl-listing',
            key: '203.0.113.7@dnsbl-2.uceprotect.net',
            state: 'listed',
            data: { target: '203.0.113.7', zone: 'dnsbl-2.uceprotect.net', severity: 'info' },
          },
        ],
      },
    );
    assert.equal(get('blocklist:acme').state, 'ok');
    record(
      'rbl',
      'rbl',
      {},
      {
        tenant: 'acme',
        items: [
          {
            type: 'rbl-listing',
            key: '203.0.113.7@bl.test',
            state: 'listed',
            data: { target: '203.0.113.7', zone: 'bl.test', severity: 'alert' },
          },
        ],
      },
    );
    assert.equal(get('blocklist:acme').state, 'critical');
    const registry = new Registry();
    registerIndicatorMetrics(registry, () => service.current(), 0.75);
    const text = await registry.metrics();
    assert.match(text, /scaiprobe_indicator_state\{id="blocklist:acme",name="blocklist",subject="acme"\} 2/);
    assert.match(
      text,
      /scaiprobe_indicator_threshold\{id="blocklist:acme",name="blocklist",subject="acme",level="critical"\} \d/,
    );
    assert.match(
      text,
      /scaiprobe_indicator_value\{id="timeToInbox:acme\/d.test",name="timeToInbox",subject="acme\/d.test"\} 5/,
    );
    record(
      'rbl',
      'rbl',
      {},
      {
        tenant: 'acme',
        items: [
          {
            type: 'rbl-listing',
            key: '203.0.113.7@bl.test',
            state: 'clean',
            data: { target: '203.0.113.7', zone: 'bl.test' },
          },
          {
            type: 'rbl-listing',
            key: '203.0.113.7@dnsbl-2.uceprotect.net',
            state: 'clean',
            data: { target: '203.0.113.7', zone: 'dnsbl-2.uceprotect.net' },
          },
        ],
      },
    );
    assert.equal(
      service.current().some((i) => i.id === 'blocklist:acme' && i.state !== 'ok'),
      false,
    );
  });

  test('probes no longer configured leave the indicators: readiness, blocklist listings, seeds', () => {
    const { clock, store, record, service } = setup([
      { name: 'ready', kind: 'http' },
      { name: 'rbl', kind: 'rbl', tenant: 'acme' },
      { name: 'seeds', kind: 'mail', tenant: 'acme' },
    ]);
    record(
      'ready',
      'http',
      { url: 'http://127.0.0.1:8000/ready', 'endpoint.role': 'readiness', latency: 3 },
      { status: 'fail' },
    );
    record(
      'rbl',
      'rbl',
      {},
      {
        tenant: 'acme',
        items: [
          {
            type: 'rbl-listing',
            key: '203.0.113.7@bl.test',
            state: 'listed',
            data: { target: '203.0.113.7', zone: 'bl.test', severity: 'alert' },
          },
        ],
      },
    );
    record(
      'seeds',
      'mail',
      {},
      {
        tenant: 'acme',
        items: [
          {
            type: 'mail.message',
            key: 's:1',
            data: { placement: 'spam', timeToInboxMs: null, messageId: '<a@d.test>', auth: null },
          },
        ],
      },
    );
    clock.advance(5 * MIN);
    const ids = () =>
      service
        .current()
        .filter((i) => i.state !== 'ok' || i.value !== null)
        .map((i) => `${i.id}=${i.state}`)
        .sort();
    assert.deepEqual(ids(), [
      'authFailRate:acme/d.test=ok',
      'blocklist:acme=critical',
      'readiness:ready=critical',
      'seedMissingRate:acme/d.test=ok',
      'seedSpamRate:acme/d.test=critical',
    ]);
    store.probes.retireUnconfigured([]);
    assert.deepEqual(ids(), []);
  });

  test('a bad indicators section is reported with its key path', () => {
    const { issues } = parseIndicatorsSection({ thresholds: { bounceRate: 2, nope: 1 } });
    assert.ok(issues.some((i) => i.path.join('.') === 'indicators.thresholds.bounceRate'));
    assert.ok(issues.some((i) => /nope/.test(i.message) || i.path.includes('nope')));
  });
});
