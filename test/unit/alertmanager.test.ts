import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { SqliteStore } from '../../src/store/sqlite/store.ts';
import { ManualClock } from '../../src/util/clock.ts';
import { parseAlertsSection } from '../../src/alerting/config.ts';
import { AlertService } from '../../src/alerting/service.ts';
import { alertmanagerEndpoint, authorization } from '../../src/alerting/alertmanager.ts';
import { headersFor, outgoingBody, serialize } from '../../src/alerting/channels.ts';
import type { Notification } from '../../src/alerting/notification.ts';
import type { Transport } from '../../src/alerting/outbox.ts';

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const stores: SqliteStore[] = [];
after(() => stores.forEach((s) => s.close()));

const notification = (event: Notification['event'], extra: Partial<Notification['alert']> = {}): Notification => ({
  key: 'k',
  event,
  createdAt: T0 + 5000,
  alert: {
    id: 'a1',
    rule: 'probe-failing',
    target: 'api-ready',
    severity: 'critical',
    summary: 'HTTP 503',
    startedAt: T0,
    labels: { probe: 'api-ready', kind: 'http', tenant: 'acme' },
    ...extra,
  },
});

function channel(extra: Record<string, unknown> = {}) {
  const { config, issues } = parseAlertsSection({
    channels: [{ name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9093', ...extra }],
  });
  assert.deepEqual(issues, []);
  return config!.channels[0]!;
}

describe('alertmanager channel: what is posted', () => {
  test('the endpoint is API v2 under the base URL, a route prefix kept', () => {
    assert.equal(alertmanagerEndpoint('http://am:9093'), 'http://am:9093/api/v2/alerts');
    assert.equal(
      alertmanagerEndpoint('https://ops.example.com/alertmanager/'),
      'https://ops.example.com/alertmanager/api/v2/alerts',
    );
    assert.equal(alertmanagerEndpoint('http://am:9093/api/v2/alerts'), 'http://am:9093/api/v2/alerts');
    assert.equal(channel().url, 'http://127.0.0.1:9093/api/v2/alerts');
  });

  test('a firing carries labels and annotations, and gets endsAt of 4 re-post intervals from each attempt', () => {
    const am = channel({ resend: '30s', labels: { team: 'mail', alertname: 'ignored' } });
    const stored = serialize(
      am,
      notification('firing', { description: 'API down', runbook: 'https://runbooks.example.com/api' }),
    );
    const [alert] = JSON.parse(stored) as Array<Record<string, unknown>>;
    assert.deepEqual(alert, {
      labels: {
        team: 'mail',
        alertname: 'probe-failing',
        severity: 'critical',
        probe: 'api-ready',
        kind: 'http',
        tenant: 'acme',
      },
      annotations: { summary: 'HTTP 503', description: 'API down', runbook_url: 'https://runbooks.example.com/api' },
      startsAt: new Date(T0).toISOString(),
    });
    const sent = JSON.parse(outgoingBody(am, stored, T0 + 60_000)) as Array<Record<string, unknown>>;
    assert.equal(
      sent[0]?.endsAt,
      new Date(T0 + 60_000 + 4 * 30_000).toISOString(),
      'valid from the attempt, however late it is',
    );
  });

  test('a resolution carries endsAt = when the condition cleared, whenever it is sent', () => {
    const am = channel();
    const stored = serialize(am, notification('resolved', { resolvedAt: T0 + 90_000 }));
    const sent = JSON.parse(outgoingBody(am, stored, T0 + 3_600_000)) as Array<Record<string, unknown>>;
    assert.equal(sent[0]?.endsAt, new Date(T0 + 90_000).toISOString());
  });

  test('credentials are headers of each attempt, never part of the stored post', () => {
    const basic = channel({ basicAuth: { username: 'scaiprobe', password: 'pa55word-xyz' } });
    const stored = serialize(basic, notification('firing'));
    assert.ok(
      !stored.includes('pa55word-xyz') && !stored.includes(Buffer.from('scaiprobe:pa55word-xyz').toString('base64')),
    );
    assert.equal(
      headersFor(basic, stored, 'k', T0).authorization,
      `Basic ${Buffer.from('scaiprobe:pa55word-xyz').toString('base64')}`,
    );
    assert.equal(headersFor(channel({ bearerToken: 'tok-123' }), stored, 'k', T0).authorization, 'Bearer tok-123');
    assert.equal(headersFor(channel(), stored, 'k', T0).authorization, undefined);
    assert.equal(authorization({}), undefined);
  });

  test('configuration: one kind of credential, label names Alertmanager accepts, a sane resend', () => {
    const issues = (extra: Record<string, unknown>) =>
      parseAlertsSection({
        channels: [{ name: 'am', type: 'alertmanager', url: 'http://am:9093', ...extra }],
      }).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.match(
      issues({ basicAuth: { username: 'u', password: 'p' }, bearerToken: 't' }).join(),
      /bearerToken: give basicAuth or bearerToken, not both/,
    );
    assert.match(issues({ labels: { 'bad-name': 'x' } }).join(), /labels/);
    assert.match(issues({ resend: '100ms' }).join(), /resend: must be between 1s and 1h/);
    assert.match(issues({ url: 'ftp://am' }).join(), /url/);
  });
});

describe('alertmanager channel: re-posting while firing', () => {
  function setup(transport: Transport, extra: Record<string, unknown> = {}) {
    const clock = new ManualClock(T0);
    const store = new SqliteStore(':memory:', clock);
    stores.push(store);
    const { config, issues } = parseAlertsSection({
      channels: [{ name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9/', resend: '1m' }],
      rules: [{ name: 'down', probes: ['api-*'], failures: 1, successes: 1 }],
      delivery: { initialBackoff: '1s', maxBackoff: '1s', expireAfter: '1h' },
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
    return { clock, alerts };
  }
  const run = (status: 'pass' | 'fail') => ({
    probe: 'api-ready',
    status,
    message: status === 'fail' ? 'HTTP 503' : 'ok',
    kind: 'http',
  });
  const endsAt = (body: string) => (JSON.parse(body) as Array<{ endsAt?: string }>)[0]?.endsAt;

  test('every resend while firing, not while a post waits, none after the resolution', async () => {
    const posts: Array<{ at: number; body: string }> = [];
    let down = false;
    const { clock, alerts } = setup(async (_url, init) => {
      if (down) return { error: 'ECONNREFUSED' };
      posts.push({ at: clock.now(), body: init.body });
      return { status: 200 };
    });
    await alerts.onRun(run('fail'));
    await alerts.tick();
    assert.equal(posts.length, 1, 'the firing');
    for (let s = 0; s < 150; s++) {
      clock.advance(1000);
      await alerts.tick();
    }
    assert.deepEqual(
      posts.map((p) => p.at - T0),
      [0, 60_000, 120_000],
      'a re-post every minute',
    );
    assert.equal((await alerts.outbox.rows({ status: 'delivered' })).filter((r) => r.event === 'refresh').length, 2);

    down = true;
    for (let s = 0; s < 300; s++) {
      clock.advance(1000);
      await alerts.tick();
    }
    assert.equal(
      (await alerts.outbox.counts()).pending,
      1,
      'one re-post waits while Alertmanager is down; no pile-up behind it',
    );
    down = false;
    clock.advance(1000);
    await alerts.tick();
    const late = posts.at(-1)!;
    assert.equal(
      endsAt(late.body),
      new Date(late.at + 4 * 60_000).toISOString(),
      'the late post is valid from when it went out',
    );

    await alerts.onRun(run('pass'));
    await alerts.tick();
    const resolution = posts.at(-1)!;
    assert.equal(endsAt(resolution.body), new Date(resolution.at).toISOString());
    const count = posts.length;
    for (let s = 0; s < 180; s++) {
      clock.advance(1000);
      await alerts.tick();
    }
    assert.equal(posts.length, count, 'nothing after the resolution');
  });

  test('a resolution held by a maintenance window keeps the alert alive in Alertmanager until the window ends', async () => {
    const posts: Array<{ at: number; body: string }> = [];
    const { clock, alerts } = setup(
      async (_url, init) => {
        posts.push({ at: clock.now(), body: init.body });
        return { status: 200 };
      },
      { maintenance: [{ from: new Date(T0 + 10_000).toISOString(), until: new Date(T0 + 300_000).toISOString() }] },
    );
    await alerts.onRun(run('fail'));
    await alerts.tick();
    clock.advance(20_000);
    await alerts.onRun(run('pass'));
    for (let s = 0; s < 300; s++) {
      clock.advance(1000);
      await alerts.tick();
    }
    const resolved = posts.findIndex((p) => endsAt(p.body) !== undefined && Date.parse(endsAt(p.body)!) <= p.at);
    assert.ok(resolved > 0, 'the resolution was sent');
    assert.ok(posts[resolved]!.at >= T0 + 300_000, 'only once the window ended');
    assert.ok(posts.slice(1, resolved).length >= 4, 're-posted in the meantime');
  });
});
