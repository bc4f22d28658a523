import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { Clock } from '../util/clock.ts';
import type { Router } from '../server/router.ts';
import { sendJson } from '../server/router.ts';
import type { Indicator } from '../indicators/compute.ts';
import { defaultRules, type AlertsConfig, type RuleConfig } from './config.ts';
import { isOutboxStatus, OUTBOX_STATUSES, Outbox, type Transport } from './outbox.ts';
import { advance, initialState, observe, withdraw, type AlertEvent, type AlertState } from './state.ts';
import { globMatch, suppressedBy } from './windows.ts';
import type { Notification } from './channels.ts';

export const REMOVED_PROBE_REASON = 'probe removed from the configuration';

export function alertId(rule: string, target: string): string {
  return createHash('sha256').update(`${rule}\0${target}`).digest('hex').slice(0, 24);
}

interface RunLike {
  probe: string;
  status: 'pass' | 'warn' | 'fail';
  message: string;
  tenant?: string;
  kind: string;
}

interface AlertRow {
  rule: string;
  target: string;
  id: string;
  state: AlertState;
  severity: RuleConfig['severity'];
  summary: string;
  labels: Record<string, string>;
}

/** The probe an alert is about: its label, or the subject of a per-probe indicator (`<name>:<probe>`). */
function probeOf(row: AlertRow): string {
  if (row.labels.probe) return row.labels.probe;
  const indicator = row.labels.indicator ?? '';
  return indicator.slice(indicator.indexOf(':') + 1);
}

/**
 * Rules over probe results and indicators: one alert per rule and target, its
 * state kept in SQLite, notifications written to the outbox in the same
 * transaction as the state change that caused them.
 */
export class AlertService {
  readonly outbox: Outbox;
  readonly rules: RuleConfig[];

  constructor(
    private readonly deps: { store: Store; clock: Clock; logger: Logger; config: AlertsConfig; indicators?: () => Indicator[]; transport?: Transport; random?: () => number },
  ) {
    const { config } = deps;
    this.rules = config.rules ?? defaultRules(config.channels.map((c) => c.name));
    this.outbox = new Outbox({
      db: deps.store.db,
      clock: deps.clock,
      logger: deps.logger,
      channels: config.channels,
      delivery: config.delivery,
      ...(deps.transport ? { transport: deps.transport } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    });
  }

  private load(rule: string, target: string): AlertRow | undefined {
    const row = this.deps.store.db.prepare('SELECT * FROM alerts WHERE rule = ? AND target = ?').get(rule, target) as Record<string, string> | undefined;
    if (!row) return undefined;
    return { rule, target, id: row.alert_id ?? '', state: JSON.parse(row.state ?? '{}') as AlertState, severity: row.severity as RuleConfig['severity'], summary: row.summary ?? '', labels: JSON.parse(row.labels ?? '{}') as Record<string, string> };
  }

  private save(row: AlertRow): void {
    this.deps.store.db
      .prepare(
        `INSERT INTO alerts (rule, target, alert_id, status, state, severity, summary, labels, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (rule, target) DO UPDATE SET status = excluded.status, state = excluded.state, severity = excluded.severity, summary = excluded.summary, labels = excluded.labels, updated_at = excluded.updated_at`,
      )
      .run(row.rule, row.target, row.id, row.state.status, JSON.stringify(row.state), row.severity, row.summary, JSON.stringify(row.labels), this.deps.clock.now());
  }

  private notification(row: AlertRow, event: AlertEvent | 'test', now: number, startedAt: number, resolvedAt = now): Notification {
    const suffix = event === 'reminder' || event === 'test' ? `${startedAt}-${now}` : String(startedAt);
    return {
      key: `${row.id}-${event}-${suffix}`,
      event,
      createdAt: now,
      alert: { id: row.id, rule: row.rule, target: row.target, severity: row.severity, summary: row.summary, startedAt, ...(event === 'resolved' ? { resolvedAt } : {}), labels: row.labels },
    };
  }

  private channelsOf(rule: RuleConfig): string[] {
    return rule.channels ?? this.deps.config.channels.map((c) => c.name);
  }

  /**
   * Applies a state transition and queues its notification, atomically.
   * While a silence or maintenance window covers the alert nothing is sent:
   * a firing waits in the state (not notified), a resolution of a notified
   * firing waits as `heldResolution`. When the window ends the held resolution
   * goes first, then a firing still going on; a firing that also resolved
   * inside the window is withdrawn (never notified, so nothing is owed).
   * True when a notification was queued.
   */
  private apply(rule: RuleConfig, row: AlertRow, next: { state: AlertState; event?: AlertEvent }): boolean {
    const now = this.deps.clock.now();
    const before = row.state;
    let state = next.state;
    let event = next.event;
    // A firing held back by a silence is sent once the silence is over.
    if (!event && state.status === 'firing' && !state.notified) event = 'firing';
    let held = before.heldResolution;
    const silenced = event || held ? suppressedBy([...this.deps.config.silences, ...this.deps.config.maintenance], rule.name, row.target, now) : undefined;
    let queued = false;
    this.deps.store.db.transaction(() => {
      if (held && !silenced) {
        this.outbox.enqueue(this.notification({ ...row, summary: held.summary }, 'resolved', now, held.firedAt, held.at), this.channelsOf(rule));
        held = undefined;
        queued = true;
      }
      if (event && !silenced) {
        const startedAt = (event === 'resolved' ? before.firedAt : state.firedAt) ?? now;
        this.outbox.enqueue(this.notification(row, event, now, startedAt), this.channelsOf(rule));
        queued = true;
        if (event !== 'resolved') state = { ...state, notified: true, lastNotifiedAt: now };
      }
      if (event === 'resolved' && silenced) held = { firedAt: before.firedAt ?? now, at: now, summary: row.summary };
      // Logged once, at the transition; the held firing is re-checked every tick without a word.
      if (next.event && next.event !== 'reminder' && silenced) {
        this.deps.logger.info({ rule: rule.name, target: row.target, event: next.event, window: silenced.name ?? silenced.reason }, 'alert notification held back by a silence');
      }
      const { heldResolution: _previous, ...rest } = state;
      state = held ? { ...rest, heldResolution: held } : rest;
      this.save({ ...row, state });
      // Firing and resolving are kept as state changes, for reports and incident history.
      const wasFiring = before.status === 'firing';
      const isFiring = state.status === 'firing';
      if (wasFiring !== isFiring) {
        this.deps.store.recordStateChange({
          probe: row.labels.probe ?? '',
          tenant: row.labels.tenant ?? null,
          subject: `alert:${rule.name}:${row.target}`,
          from: wasFiring ? 'firing' : 'ok',
          to: isFiring ? 'firing' : 'resolved',
          at: now,
          runId: null,
          message: `${row.severity}: ${row.summary}`,
        });
      }
    })();
    return queued;
  }

  private probeRules(run: RunLike, tags: string[]): RuleConfig[] {
    return this.rules.filter((rule) => !rule.indicators && (rule.probes ?? ['*']).some((p) => globMatch(p, run.probe)) && rule.tags.every((t) => tags.includes(t)));
  }

  /** Feeds one finished run to every rule that watches its probe; returns how many notifications it queued. */
  onRun(run: RunLike, tags: string[] = []): number {
    const now = this.deps.clock.now();
    let queued = 0;
    for (const rule of this.probeRules(run, tags)) {
      const bad = rule.on === 'warn' ? run.status !== 'pass' : run.status === 'fail';
      const row = this.load(rule.name, run.probe) ?? this.fresh(rule, run.probe);
      row.summary = bad || row.state.status === 'firing' ? run.message || `probe ${run.probe} ${run.status}` : row.summary;
      row.labels = { probe: run.probe, kind: run.kind, ...(run.tenant ? { tenant: run.tenant } : {}) };
      if (this.apply(rule, row, observe(row.state, bad, now, rule))) queued++;
    }
    return queued;
  }

  private fresh(rule: RuleConfig, target: string): AlertRow {
    return { rule: rule.name, target, id: alertId(rule.name, target), state: initialState(), severity: rule.severity, summary: '', labels: {} };
  }

  /**
   * Resolves, once, the open alerts of probes no longer configured: their own
   * (probe rules) and those of indicators computed from them (`readiness:<probe>`).
   * Nothing would ever resolve them otherwise, and reminders would go on forever.
   */
  resolveRemovedProbes(removed: string[]): void {
    if (removed.length === 0) return;
    const gone = new Set(removed);
    const open = this.deps.store.db.prepare(`SELECT rule, target FROM alerts WHERE status != 'ok'`).all() as Array<{ rule: string; target: string }>;
    for (const { rule: ruleName, target } of open) {
      const rule = this.rules.find((r) => r.name === ruleName);
      const row = this.load(ruleName, target);
      if (!rule || !row || !gone.has(probeOf(row))) continue;
      row.summary = REMOVED_PROBE_REASON;
      this.apply(rule, row, withdraw(row.state));
    }
  }

  /** Indicator rules, `for:` expiry, reminders and held-back firings; then sends what is due. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    const indicatorRules = this.rules.filter((rule) => rule.indicators);
    if (indicatorRules.length > 0 && this.deps.indicators) {
      const indicators = this.deps.indicators();
      for (const rule of indicatorRules) {
        for (const indicator of indicators.filter((i) => (rule.indicators ?? []).some((p) => globMatch(p, i.id)))) {
          const bad = rule.on === 'warn' ? indicator.state !== 'ok' : indicator.state === 'critical';
          const row = this.load(rule.name, indicator.id) ?? this.fresh(rule, indicator.id);
          row.summary = indicator.reason;
          row.labels = { indicator: indicator.id, ...(indicator.tenant ? { tenant: indicator.tenant } : {}) };
          this.apply(rule, row, observe(row.state, bad, now, rule));
        }
      }
    }
    // Firing and pending alerts, and resolved ones whose resolution a window still holds.
    const open = this.deps.store.db.prepare(`SELECT rule, target FROM alerts WHERE status != 'ok' OR json_extract(state, '$.heldResolution') IS NOT NULL`);
    for (const raw of open.all() as Array<{ rule: string; target: string }>) {
      const rule = this.rules.find((r) => r.name === raw.rule);
      const row = this.load(raw.rule, raw.target);
      if (rule && row) this.apply(rule, row, advance(row.state, now, rule));
    }
    await this.outbox.drain();
  }

  /** Queues a test notification to one channel (`scaiprobe alert test <channel>`). */
  sendTest(channel: string): string {
    const now = this.deps.clock.now();
    const row: AlertRow = { rule: 'test', target: channel, id: alertId('test', channel), state: initialState(), severity: 'info', summary: 'Test notification from scaiprobe: if you can read this, the channel works.', labels: { test: 'true' } };
    const n = this.notification(row, 'test', now, now);
    this.outbox.enqueue(n, [channel]);
    return n.key;
  }

  list(): Array<Record<string, unknown>> {
    return (this.deps.store.db.prepare('SELECT rule, target FROM alerts ORDER BY updated_at DESC LIMIT 500').all() as Array<{ rule: string; target: string }>).flatMap(({ rule, target }) => {
      const row = this.load(rule, target);
      if (!row) return [];
      const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
      const held = row.state.heldResolution;
      return [{ id: row.id, rule, target, status: row.state.status, since: iso(row.state.since), firedAt: iso(row.state.firedAt), notified: row.state.notified, resolutionHeldSince: iso(held?.at ?? null), severity: row.severity, summary: row.summary, labels: row.labels }];
    });
  }

  registerApi(router: Router): void {
    router.add('GET', '/api/v1/alerts', ({ res }) => sendJson(res, 200, { alerts: this.list(), outbox: { counts: this.outbox.counts(), recent: this.outbox.rows({ limit: 50 }) } }));
    router.add('GET', '/api/v1/alerts/outbox', ({ res, url }) => {
      const status = url.searchParams.get('status');
      if (status && !isOutboxStatus(status)) return sendJson(res, 400, { error: `status must be one of ${OUTBOX_STATUSES.join(', ')}` });
      sendJson(res, 200, { counts: this.outbox.counts(), rows: this.outbox.rows({ ...(status && isOutboxStatus(status) ? { status } : {}), limit: 500 }) });
    });
  }
}
