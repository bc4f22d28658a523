import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { AlertService } from '../../src/alerting/service.ts';
import { initialState, observe, advance, type AlertState } from '../../src/alerting/state.ts';
import { asConfiguredWindows, cronMatches, suppressedBy, windowActive } from '../../src/alerting/windows.ts';
import {
  outgoingBody,
  pagerDutyBody,
  serialize,
  signature,
  slackBody,
  webhookBody,
} from '../../src/alerting/channels.ts';
import type { Notification } from '../../src/alerting/notification.ts';
import { retryAfterMs, type Transport } from '../../src/alerting/outbox.ts';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const stores: SqliteStore[] = [];
after(() => stores.forEach((s) => s.close()));

describe('alert state machine (table)', () => {
  const S = 1000;
  // Each case: rule, results as [secondsAfterStart, bad], expected events in order.
  const cases: Array<{
    name: string;
    rule: { for: number; failures: number; window?: number; successes: number; repeat?: number };
    results: Array<[number, boolean]>;
    ticks?: number[];
    events: string[];
  }> = [
    {
      name: 'one failure fires at once with for: 0',
      rule: { for: 0, failures: 1, successes: 1 },
      results: [
        [0, true],
        [60, false],
      ],
      events: ['firing', 'resolved'],
    },
    {
      name: 'flapping pass/fail with 2 failures of 3 never fires when no window holds two',
      rule: { for: 0, failures: 2, window: 3, successes: 1 },
      results: [
        [0, true],
        [60, false],
        [120, false],
        [180, true],
        [240, false],
        [300, false],
      ],
      events: [],
    },
    {
      name: '2 failures in the last 3 runs fires',
      rule: { for: 0, failures: 2, window: 3, successes: 1 },
      results: [
        [0, true],
        [60, false],
        [120, true],
      ],
      events: ['firing'],
    },
    {
      name: 'for: 2m holds a short outage back',
      rule: { for: 120 * S, failures: 1, successes: 1 },
      results: [
        [0, true],
        [60, true],
        [90, false],
      ],
      events: [],
    },
    {
      name: 'for: 2m fires once the condition held 2 minutes (by a tick)',
      rule: { for: 120 * S, failures: 1, successes: 1 },
      results: [
        [0, true],
        [60, true],
      ],
      ticks: [121],
      events: ['firing'],
    },
    {
      name: 'alternating results with for: 1m do not page',
      rule: { for: 60 * S, failures: 1, successes: 1 },
      results: Array.from({ length: 20 }, (_, i) => [i * 30, i % 2 === 0] as [number, boolean]),
      events: [],
    },
    {
      name: 'needs 3 successes in a row to resolve',
      rule: { for: 0, failures: 1, successes: 3 },
      results: [
        [0, true],
        [60, false],
        [120, false],
        [180, true],
        [240, false],
        [300, false],
        [360, false],
      ],
      events: ['firing', 'resolved'],
    },
    {
      name: 'reminders while firing',
      rule: { for: 0, failures: 1, successes: 1, repeat: 3600 * S },
      results: [[0, true]],
      ticks: [1800, 3601, 3700, 7300],
      events: ['firing', 'reminder', 'reminder'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      let state: AlertState = initialState();
      const events: string[] = [];
      const steps = [
        ...c.results.map(([t, bad]) => ({ t, bad })),
        ...(c.ticks ?? []).map((t) => ({ t, bad: undefined })),
      ].sort((a, b) => a.t - b.t);
      for (const step of steps) {
        const now = T0 + step.t * S;
        const next = step.bad === undefined ? advance(state, now, c.rule) : observe(state, step.bad, now, c.rule);
        state = next.state;
        if (next.event) {
          events.push(next.event);
          if (next.event !== 'resolved') state = { ...state, notified: true, lastNotifiedAt: now };
        }
      }
      assert.deepEqual(events, c.events);
    });
  }
});

describe('silences and maintenance windows', () => {
  test('cron windows and ranges', () => {
    assert.equal(cronMatches('0 3 * * 0', new Date('2025-01-05T03:00:00Z')), true);
    assert.equal(cronMatches('*/15 * * * *', new Date('2025-01-05T03:45:00Z')), true);
    assert.equal(cronMatches('*/15 * * * *', new Date('2025-01-05T03:46:00Z')), false);
    const weekly = { cron: '0 3 * * 0', duration: 30 * 60_000, rule: '*', target: '*', reason: '' };
    assert.equal(windowActive(weekly, Date.parse('2025-01-05T03:29:00Z')), true);
    assert.equal(windowActive(weekly, Date.parse('2025-01-05T03:31:00Z')), false);
    const range = { from: '2025-01-06T10:00:00Z', until: '2025-01-06T11:00:00Z', rule: '*', target: '*', reason: '' };
    assert.equal(windowActive(range, Date.parse('2025-01-06T10:30:00Z')), true);
    assert.equal(windowActive(range, Date.parse('2025-01-06T11:00:00Z')), false);
  });
});

describe('channel bodies', () => {
  const n: Notification = {
    key: 'abc-firing-1',
    event: 'firing',
    createdAt: T0,
    alert: {
      id: 'abc',
      rule: 'probe-failing',
      target: 'scaisend-ready',
      severity: 'critical',
      summary: 'HTTP 503',
      startedAt: T0,
      labels: { probe: 'scaisend-ready', tenant: 'acme' },
    },
  };

  test('webhook body is versioned and the signature verifies', () => {
    const body = webhookBody(n);
    const parsed = JSON.parse(body);
    assert.equal(parsed.version, '1');
    assert.equal(parsed.type, 'alert.firing');
    assert.equal(parsed.alert.id, 'abc');
    assert.equal(parsed.alert.status, 'firing');
    const header = signature('s3cret-key', body, 1_700_000_000);
    const [t, v1] = header.split(',').map((p) => p.split('=')[1]);
    assert.equal(t, '1700000000');
    assert.equal(v1, createHmac('sha256', 's3cret-key').update(`1700000000.${body}`).digest('hex'));
    assert.notEqual(signature('other-key', body, 1_700_000_000), header);
  });

  test('Slack: text plus mrkdwn section blocks', () => {
    const body = JSON.parse(slackBody(n));
    assert.equal(typeof body.text, 'string');
    assert.match(body.text, /probe-failing on scaisend-ready/);
    assert.equal(body.blocks[0].type, 'section');
    assert.equal(body.blocks[0].text.type, 'mrkdwn');
  });

  test('PagerDuty Events v2: trigger with payload, resolve by dedup_key', () => {
    const trigger = JSON.parse(pagerDutyBody(n, 'R0UTING'));
    assert.deepEqual(Object.keys(trigger).sort(), ['dedup_key', 'event_action', 'payload', 'routing_key']);
    assert.equal(trigger.event_action, 'trigger');
    assert.equal(trigger.dedup_key, 'abc');
    assert.deepEqual(
      Object.keys(trigger.payload)
        .filter((k) => ['summary', 'source', 'severity'].includes(k))
        .sort(),
      ['severity', 'source', 'summary'],
    );
    assert.ok(['critical', 'error', 'warning', 'info'].includes(trigger.payload.severity));
    assert.ok(!Number.isNaN(Date.parse(trigger.payload.timestamp)));
    const resolve = JSON.parse(pagerDutyBody({ ...n, event: 'resolved' }, 'R0UTING'));
    assert.deepEqual(resolve, { routing_key: 'R0UTING', event_action: 'resolve', dedup_key: 'abc' });
  });

  test('Slack: target text is escaped, so it cannot mention a channel or add a link', () => {
    const hostile = {
      ...n,
      alert: { ...n.alert, summary: 'degraded: db: <!channel> see <http://evil.example|click> & <@U123>' },
    };
    const body = JSON.parse(slackBody(hostile));
    const texts = [body.text, body.blocks[0].text.text, body.blocks[1].elements[0].text] as string[];
    for (const text of texts) {
      assert.ok(!/<!channel>|<http:|<@U/.test(text), text);
      assert.ok(!/&(?!amp;|lt;|gt;)/.test(text), `a raw & in ${text}`);
    }
    assert.match(body.text, /&lt;!channel&gt; see &lt;http:\/\/evil\.example\|click&gt; &amp; &lt;@U123&gt;/);
    assert.match(
      body.blocks[0].text.text,
      /^\*:rotating_light: Firing: probe-failing on scaisend-ready\*\n/,
      'our own formatting stays',
    );
  });

  test('PagerDuty: the stored body has no routing key; each attempt adds the configured one', () => {
    const channel = {
      name: 'pd',
      type: 'pagerduty' as const,
      routingKey: 'configured-routing-key',
      url: 'http://127.0.0.1:9/enqueue',
      timeout: 1000,
    };
    const stored = serialize(channel, n);
    assert.ok(!stored.includes('configured-routing-key'), stored);
    assert.equal(JSON.parse(stored).routing_key, undefined);
    assert.equal(outgoingBody(channel, stored, 0), pagerDutyBody(n, 'configured-routing-key'));
    const queuedByAnOlderVersion = pagerDutyBody(n, 'old-routing-key');
    assert.equal(JSON.parse(outgoingBody(channel, queuedByAnOlderVersion, 0)).routing_key, 'configured-routing-key');
    const webhook = {
      name: 'hook',
      type: 'webhook' as const,
      url: 'http://127.0.0.1:9/hook',
      secret: 'webhook-secret-value',
      timeout: 1000,
    };
    assert.ok(!serialize(webhook, n).includes('webhook-secret-value'));
    assert.equal(
      outgoingBody(webhook, serialize(webhook, n), 0),
      serialize(webhook, n),
      'other channels send the stored bytes',
    );
  });

  test('Retry-After in seconds and as a date', () => {
    assert.equal(retryAfterMs('7', T0), 7000);
    assert.equal(retryAfterMs(new Date(T0 + 30_000).toUTCString(), T0), 30_000);
    assert.equal(retryAfterMs(null, T0), undefined);
  });
});

describe('config', () => {
  test('strict validation with key paths; unknown channel names are errors', () => {
    const bad = parseAlertsSection({
      channels: [{ name: 'x', type: 'webhook', url: 'ftp://nope' }],
      rules: [{ name: 'r', channels: ['y'], bogus: 1 }],
    });
    const paths = bad.issues.map((i) => i.path.join('.'));
    assert.ok(paths.includes('alerts.channels.0.url'), paths.join(' '));
    assert.ok(bad.issues.some((i) => /bogus/.test(i.message) || i.path.includes('bogus')));
    const unknown = parseAlertsSection({
      channels: [{ name: 'x', type: 'webhook', url: 'http://127.0.0.1:1/' }],
      rules: [{ name: 'r', channels: ['y'] }],
    });
    assert.deepEqual(
      unknown.issues.map((i) => i.path.join('.')),
      ['alerts.rules.0.channels.0'],
    );
    const cron = parseAlertsSection({ maintenance: [{ cron: 'not cron', duration: '1h' }] });
    assert.ok(cron.issues.some((i) => /cron/.test(i.message)));
  });
});

describe('alert service with the outbox (fake transport, manual clock)', () => {
  function setup(transport: Transport, extra: Record<string, unknown> = {}) {
    const clock = new ManualClock(T0);
    const store = new SqliteStore(':memory:', clock);
    stores.push(store);
    const { config, issues } = parseAlertsSection({
      channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', secret: 'a-long-secret' }],
      rules: [{ name: 'down', probes: ['api-*'], failures: 1, successes: 1 }],
      delivery: { initialBackoff: '1s', maxBackoff: '1m', expireAfter: '10m' },
      ...extra,
    });
    assert.deepEqual(issues, []);
    const alerts = new AlertService({
      store,
      clock,
      logger: pino({ level: 'silent' }),
      config: config!,
      transport,
      random: () => 1,
    });
    return { clock, store, alerts };
  }
  const run = (status: 'pass' | 'fail') => ({
    probe: 'api-ready',
    status,
    message: status === 'fail' ? 'HTTP 503' : 'ok',
    kind: 'http',
  });

  test('429 with Retry-After is honoured, then delivered once with a valid signature and an Idempotency-Key', async () => {
    const attempts: Array<{ at: number; headers: Record<string, string>; body: string }> = [];
    const { clock, alerts } = setup(async (_url, init) => {
      attempts.push({ at: clock.now(), headers: init.headers, body: init.body });
      return attempts.length === 1 ? { status: 429, retryAfter: '30' } : { status: 200 };
    });
    await alerts.onRun(run('fail'));
    await alerts.outbox.drain();
    assert.equal(attempts.length, 1);
    clock.advance(29_000);
    await alerts.outbox.drain();
    assert.equal(attempts.length, 1, 'not before Retry-After');
    clock.advance(1000);
    await alerts.outbox.drain();
    assert.equal(attempts.length, 2);
    await alerts.outbox.drain();
    assert.equal(attempts.length, 2, 'delivered once');
    const second = attempts[1]!;
    assert.equal(second.headers['idempotency-key'], attempts[0]!.headers['idempotency-key']);
    const [t, v1] = (second.headers['x-scaiprobe-signature'] ?? '').split(',').map((p) => p.split('=')[1]);
    assert.equal(v1, createHmac('sha256', 'a-long-secret').update(`${t}.${second.body}`).digest('hex'));
    assert.equal((await alerts.outbox.counts()).delivered, 1);
  });

  test('exponential backoff while the receiver is down, expiry recorded and visible', async () => {
    const times: number[] = [];
    const { clock, alerts } = setup(async () => {
      times.push(clock.now());
      return { error: 'ECONNREFUSED' };
    });
    await alerts.onRun(run('fail'));
    for (let i = 0; i < 700; i++) {
      await alerts.outbox.drain();
      clock.advance(1000);
    }
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.deepEqual(gaps.slice(0, 5), [1000, 2000, 4000, 8000, 16000]);
    assert.ok(gaps.every((g) => g <= 60_000));
    const expired = await alerts.outbox.rows({ status: 'expired' });
    assert.equal(expired.length, 1);
    assert.equal(expired[0]?.lastError, 'ECONNREFUSED');
  });

  test('firing then resolved; silenced notifications wait for the silence to end', async () => {
    const sent: string[] = [];
    const { clock, alerts } = setup(async (_url, init) => (sent.push(JSON.parse(init.body).type), { status: 204 }), {
      silences: [
        { from: new Date(T0).toISOString(), until: new Date(T0 + 10 * 60_000).toISOString(), reason: 'deploy' },
      ],
    });
    await alerts.onRun(run('fail'));
    await alerts.tick();
    assert.deepEqual(sent, [], 'held back by the silence');
    clock.advance(11 * 60_000);
    await alerts.tick();
    assert.deepEqual(sent, ['alert.firing']);
    await alerts.onRun(run('pass'));
    await alerts.tick();
    assert.deepEqual(sent, ['alert.firing', 'alert.resolved']);
    assert.equal((await alerts.list())[0]?.status, 'ok');
  });
});

describe('a resolution inside a silence or maintenance window', () => {
  const MIN = 60_000;
  // The window covers minutes 5 to 15 after T0.
  const window = {
    from: new Date(T0 + 5 * MIN).toISOString(),
    until: new Date(T0 + 15 * MIN).toISOString(),
    reason: 'deploy',
  };
  const run = (status: 'pass' | 'fail') => ({
    probe: 'api-ready',
    status,
    message: status === 'fail' ? 'HTTP 503' : 'ok',
    kind: 'http',
  });

  /** Feeds results and ticks at the given minutes; returns what the receiver got (type and alert times). */
  async function scenario(
    section: 'silences' | 'maintenance',
    steps: Array<[number, 'fail' | 'pass' | 'tick']>,
    options: { restartAt?: number | undefined } = {},
  ) {
    const clock = new ManualClock(T0);
    const store = new SqliteStore(':memory:', clock);
    stores.push(store);
    const { config } = parseAlertsSection({
      channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      rules: [{ name: 'down', probes: ['api-*'], failures: 1, successes: 1 }],
      [section]: [window],
    });
    const sent: Array<{ type: string; at: number; startedAt: string; resolvedAt: string | null; summary: string }> = [];
    const transport: Transport = async (_url, init) => {
      const body = JSON.parse(init.body);
      sent.push({
        type: body.type,
        at: (clock.now() - T0) / MIN,
        startedAt: body.alert.startedAt,
        resolvedAt: body.alert.resolvedAt,
        summary: body.alert.summary,
      });
      return { status: 204 };
    };
    const make = () =>
      new AlertService({
        store,
        clock,
        logger: pino({ level: 'silent' }),
        config: config!,
        transport,
        random: () => 1,
      });
    let alerts = make();
    for (const [minute, what] of steps) {
      clock.set(T0 + minute * MIN);
      if (options.restartAt !== undefined && minute >= options.restartAt) {
        alerts = make();
        options.restartAt = undefined;
      }
      if (what !== 'tick') await alerts.onRun(run(what));
      await alerts.tick();
    }
    return { sent, alerts };
  }
  const iso = (minute: number) => new Date(T0 + minute * MIN).toISOString();

  test('fired before the window, resolved inside it: the resolution is sent when the window ends', async () => {
    const { sent, alerts } = await scenario('silences', [
      [0, 'fail'],
      [7, 'pass'],
      [10, 'tick'],
      [14, 'tick'],
      [15, 'tick'],
      [16, 'tick'],
    ]);
    assert.deepEqual(
      sent.map((s) => [s.type, s.at]),
      [
        ['alert.firing', 0],
        ['alert.resolved', 15],
      ],
    );
    // The resolution carries the firing it ends and when the condition really cleared.
    assert.equal(sent[1]?.startedAt, iso(0));
    assert.equal(sent[1]?.resolvedAt, iso(7));
    assert.equal(sent[1]?.summary, 'ok', 'the summary of the run that resolved it, as when sent at once');
    assert.equal((await alerts.list())[0]?.resolutionHeldSince, null);
  });

  test('the same through a maintenance window, with a restart while the resolution is held', async () => {
    const { sent } = await scenario(
      'maintenance',
      [
        [0, 'fail'],
        [7, 'pass'],
        [10, 'tick'],
        [15, 'tick'],
      ],
      { restartAt: 10 },
    );
    assert.deepEqual(
      sent.map((s) => [s.type, s.at]),
      [
        ['alert.firing', 0],
        ['alert.resolved', 15],
      ],
    );
  });

  test('fired and resolved inside the window: the firing is withdrawn, nothing is sent', async () => {
    const { sent, alerts } = await scenario('silences', [
      [6, 'fail'],
      [8, 'pass'],
      [15, 'tick'],
      [20, 'tick'],
    ]);
    assert.deepEqual(sent, []);
    assert.equal((await alerts.list())[0]?.status, 'ok');
  });

  test('fired inside the window, resolved after it: firing at the end of the window, resolved when it clears', async () => {
    const { sent } = await scenario('silences', [
      [6, 'fail'],
      [10, 'tick'],
      [15, 'tick'],
      [18, 'pass'],
    ]);
    assert.deepEqual(
      sent.map((s) => [s.type, s.at]),
      [
        ['alert.firing', 15],
        ['alert.resolved', 18],
      ],
    );
  });

  test('fired before and resolved after the window: both sent when they happen', async () => {
    const { sent } = await scenario('silences', [
      [0, 'fail'],
      [10, 'fail'],
      [15, 'tick'],
      [17, 'pass'],
    ]);
    assert.deepEqual(
      sent.map((s) => [s.type, s.at]),
      [
        ['alert.firing', 0],
        ['alert.resolved', 17],
      ],
    );
  });

  test('resolved and fired again inside the window: the old resolution, then the new firing, at the end', async () => {
    const { sent } = await scenario('silences', [
      [0, 'fail'],
      [7, 'pass'],
      [9, 'fail'],
      [15, 'tick'],
      [20, 'pass'],
    ]);
    assert.deepEqual(
      sent.map((s) => [s.type, s.at, s.startedAt]),
      [
        ['alert.firing', 0, iso(0)],
        ['alert.resolved', 15, iso(0)],
        ['alert.firing', 15, iso(9)],
        ['alert.resolved', 20, iso(9)],
      ],
    );
  });

  test('resolved, fired and resolved again inside the window: only the held resolution is sent', async () => {
    const { sent } = await scenario('silences', [
      [0, 'fail'],
      [7, 'pass'],
      [9, 'fail'],
      [11, 'pass'],
      [15, 'tick'],
      [30, 'tick'],
    ]);
    assert.deepEqual(
      sent.map((s) => [s.type, s.at, s.resolvedAt]),
      [
        ['alert.firing', 0, null],
        ['alert.resolved', 15, iso(7)],
      ],
    );
  });
});

describe('maintenance windows started at run time hold alerts as configured ones do', () => {
  const MIN = 60_000;
  const run = (status: 'pass' | 'fail') => ({
    probe: 'api-ready',
    status,
    message: status === 'fail' ? 'HTTP 503' : 'ok',
    kind: 'http',
  });
  /** The cases of the configured windows above: the window covers minutes 5 to 15. */
  const cases: Array<Array<[number, 'fail' | 'pass' | 'tick']>> = [
    [
      [0, 'fail'],
      [7, 'pass'],
      [10, 'tick'],
      [14, 'tick'],
      [15, 'tick'],
      [16, 'tick'],
    ],
    [
      [6, 'fail'],
      [8, 'pass'],
      [15, 'tick'],
      [20, 'tick'],
    ],
    [
      [6, 'fail'],
      [10, 'tick'],
      [15, 'tick'],
      [18, 'pass'],
    ],
    [
      [0, 'fail'],
      [10, 'fail'],
      [15, 'tick'],
      [17, 'pass'],
    ],
    [
      [0, 'fail'],
      [7, 'pass'],
      [9, 'fail'],
      [15, 'tick'],
      [20, 'pass'],
    ],
    [
      [0, 'fail'],
      [7, 'pass'],
      [9, 'fail'],
      [11, 'pass'],
      [15, 'tick'],
      [30, 'tick'],
    ],
  ];

  async function sentWith(window: 'configured' | 'stored', steps: Array<[number, 'fail' | 'pass' | 'tick' | 'end']>) {
    const clock = new ManualClock(T0);
    const store = new SqliteStore(':memory:', clock);
    stores.push(store);
    const range = {
      from: new Date(T0 + 5 * MIN).toISOString(),
      until: new Date(T0 + 15 * MIN).toISOString(),
      reason: 'deploy',
    };
    const { config } = parseAlertsSection({
      channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      rules: [{ name: 'down', probes: ['api-*'], failures: 1, successes: 1 }],
      maintenance: window === 'configured' ? [range] : [],
    });
    const added =
      window === 'stored'
        ? store.maintenanceWindows.add({
            probes: ['api-*'],
            reason: 'deploy',
            startsAt: T0 + 5 * MIN,
            endsAt: T0 + 15 * MIN,
            createdAt: T0,
          })
        : undefined;
    const sent: string[] = [];
    const transport: Transport = async (_url, init) => {
      const body = JSON.parse(init.body);
      sent.push(
        `${body.type} at ${(clock.now() - T0) / MIN} (started ${(Date.parse(body.alert.startedAt) - T0) / MIN}${body.alert.resolvedAt ? `, resolved ${(Date.parse(body.alert.resolvedAt) - T0) / MIN}` : ''})`,
      );
      return { status: 204 };
    };
    const alerts = new AlertService({
      store,
      clock,
      logger: pino({ level: 'silent' }),
      config: config!,
      transport,
      random: () => 1,
    });
    for (const [minute, what] of steps) {
      clock.set(T0 + minute * MIN);
      if (what === 'end' && added) store.maintenanceWindows.end(added.id, clock.now());
      if (what === 'fail' || what === 'pass') await alerts.onRun(run(what));
      await alerts.tick();
    }
    return sent;
  }

  test('every case of the configured windows: the same notifications at the same times', async () => {
    for (const steps of cases) {
      const configured = await sentWith('configured', steps);
      assert.deepEqual(await sentWith('stored', steps), configured, JSON.stringify(steps));
    }
    // The comparison is not between two silences: the configured window does hold.
    assert.deepEqual(await sentWith('configured', cases[2] ?? []), [
      'alert.firing at 15 (started 6)',
      'alert.resolved at 18 (started 6, resolved 18)',
    ]);
  });

  test('ended early: the held firing, and the held resolution, go out at the next tick', async () => {
    assert.deepEqual(
      await sentWith('stored', [
        [6, 'fail'],
        [8, 'tick'],
        [9, 'end'],
        [10, 'tick'],
      ]),
      ['alert.firing at 9 (started 6)'],
    );
    assert.deepEqual(
      await sentWith('stored', [
        [0, 'fail'],
        [7, 'pass'],
        [8, 'tick'],
        [12, 'end'],
        [13, 'tick'],
      ]),
      ['alert.firing at 0 (started 0)', 'alert.resolved at 12 (started 0, resolved 7)'],
    );
  });

  test("a window on probes covers their alerts and their per-probe indicators', nothing else", () => {
    const window = {
      id: 7,
      probes: ['api-*'],
      reason: 'deploy',
      startsAt: T0,
      endsAt: T0 + 10 * MIN,
      endedAt: null,
      createdAt: T0,
    };
    const windows = asConfiguredWindows(window);
    const covered = (rule: string, target: string, at = T0 + MIN) => suppressedBy(windows, rule, target, at)?.name;
    assert.equal(covered('down', 'api-ready'), 'maintenance 7');
    assert.equal(covered('indicator-critical', 'readiness:api-ready'), 'maintenance 7');
    assert.equal(covered('down', 'web-ready'), undefined);
    assert.equal(covered('indicator-critical', 'blocklist:acme'), undefined);
    assert.equal(covered('down', 'api-ready', T0 + 10 * MIN), undefined, 'over at its end');
    assert.equal(
      suppressedBy(asConfiguredWindows({ ...window, endedAt: T0 + 2 * MIN }), 'down', 'api-ready', T0 + 3 * MIN),
      undefined,
      'over once ended',
    );
  });
});

describe('alerts of probes removed from the configuration', () => {
  test("resolve once with the reason, the probe's and its indicators' alike; pending ones end quietly; no reminders afterwards", async () => {
    const clock = new ManualClock(T0);
    const store = new SqliteStore(':memory:', clock);
    stores.push(store);
    const { config } = parseAlertsSection({
      channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
    });
    const sent: Array<{ type: string; target: string; summary: string }> = [];
    const transport: Transport = async (_url, init) => {
      const body = JSON.parse(init.body);
      sent.push({ type: body.type, target: body.alert.target, summary: body.alert.summary });
      return { status: 204 };
    };
    let indicators = [
      {
        id: 'readiness:gone-ready',
        name: 'readiness',
        subject: 'gone-ready',
        value: 120_000,
        unit: 'ms' as const,
        threshold: 60_000,
        trend: 'unknown' as const,
        state: 'critical' as const,
        reason: 'not ready for 2 min',
      },
    ];
    // The default rules: probe-failing (for: 1m, repeat: 4h) and indicator-critical.
    const alerts = new AlertService({
      store,
      clock,
      logger: pino({ level: 'silent' }),
      config: config!,
      transport,
      random: () => 1,
      indicators: () => indicators,
    });
    const fail = (probe: string) => alerts.onRun({ probe, status: 'fail', message: 'HTTP 503', kind: 'http' });
    await fail('gone-ready');
    await fail('kept');
    clock.advance(61_000);
    await fail('gone-ready');
    await fail('kept');
    await fail('gone-pending');
    await alerts.tick();
    assert.deepEqual(sent.map((s) => `${s.type} ${s.target}`).sort(), [
      'alert.firing gone-ready',
      'alert.firing kept',
      'alert.firing readiness:gone-ready',
    ]);
    sent.length = 0;

    // Restarted without gone-ready and gone-pending: their probe and indicator are no longer computed.
    indicators = [];
    await alerts.resolveRemovedProbes(['gone-ready', 'gone-pending']);
    await alerts.resolveRemovedProbes(['gone-ready', 'gone-pending']);
    await alerts.tick();
    assert.deepEqual(sent.map((s) => `${s.type} ${s.target}: ${s.summary}`).sort(), [
      'alert.resolved gone-ready: probe removed from the configuration',
      'alert.resolved readiness:gone-ready: probe removed from the configuration',
    ]);
    const byTarget = new Map((await alerts.list()).map((a) => [a.target, a.status]));
    assert.deepEqual(
      [
        byTarget.get('gone-ready'),
        byTarget.get('gone-pending'),
        byTarget.get('readiness:gone-ready'),
        byTarget.get('kept'),
      ],
      ['ok', 'ok', 'ok', 'firing'],
    );
    const changes = store.stateChanges.list({ subjectPrefix: 'alert:' }).filter((c) => c.to === 'resolved');
    assert.deepEqual(
      changes.map((c) => c.message),
      ['critical: probe removed from the configuration', 'critical: probe removed from the configuration'],
    );
    sent.length = 0;
    clock.advance(5 * 3_600_000);
    await alerts.tick();
    assert.deepEqual(
      sent.map((s) => `${s.type} ${s.target}`),
      ['alert.reminder kept'],
      'only the configured probe still reminds',
    );
  });
});
