// The alert service: rules judged on each run and indicator, alerts stored, notifications queued.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { NewOutboxRow, NewStateChange, StoredAlert } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';
import type { Indicator } from '../indicators/compute.ts';
import { defaultRules, type AlertsConfig, type RuleConfig, type WindowConfig } from './config.ts';
import { Outbox, type OutboxRow, type OutboxStatus, type Transport } from './outbox.ts';
import { advance, initialState, observe, withdraw, type AlertEvent, type AlertState } from './state.ts';
import { asConfiguredWindows, suppressedBy } from './windows.ts';
import { globMatch } from '../util/glob.ts';
import type { Notification } from './notification.ts';
import { judgeQuorum, localFailure, localMessage, quorumSummary, withResult } from './quorum.ts';
import { Serial } from './serial.ts';
import type { AlertingStore } from './store.ts';

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
  /** In a fleet: where the run ran (its rules then judge the quorum of the probe's locations). */
  location?: string | undefined;
  startedAt?: number;
}

/** What the fleet knows of a probe's locations; without it every location seen running counts. */
export interface LocationsView {
  /** The probe's live locations (those with a live agent that runs it). */
  live?: (probe: string) => string[];
  /** The probe's interval, when known: a location silent for a few of them no longer counts. */
  interval?: (probe: string) => number | undefined;
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

function rowOf(stored: StoredAlert): AlertRow {
  return {
    rule: stored.rule,
    target: stored.target,
    id: stored.id,
    state: stored.state as unknown as AlertState,
    severity: stored.severity as RuleConfig['severity'],
    summary: stored.summary,
    labels: stored.labels,
  };
}

function storedOf(row: AlertRow): StoredAlert {
  return {
    rule: row.rule,
    target: row.target,
    id: row.id,
    status: row.state.status,
    state: { ...row.state },
    severity: row.severity,
    summary: row.summary,
    labels: row.labels,
  };
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/**
 * Firing and resolving are kept as state changes, for reports and incident
 * history; so are local failures (seen from fewer locations than the quorum)
 * starting, moving to other locations and ending.
 */
function changeOf(row: AlertRow, before: AlertState, after: AlertState, now: number): { change?: NewStateChange } {
  const wasFiring = before.status === 'firing';
  const isFiring = after.status === 'firing';
  const base = {
    probe: row.labels.probe ?? '',
    tenant: row.labels.tenant ?? null,
    subject: `alert:${row.rule}:${row.target}`,
    at: now,
    runId: null,
  };
  if (wasFiring !== isFiring) {
    return {
      change: {
        ...base,
        from: wasFiring ? 'firing' : 'ok',
        to: isFiring ? 'firing' : 'resolved',
        message: `${row.severity}: ${row.summary}`,
      },
    };
  }
  const was = before.local?.locations.join(', ');
  const is = after.local?.locations.join(', ');
  if (was === is || isFiring) return {};
  return {
    change: {
      ...base,
      from: was === undefined ? 'ok' : 'local',
      to: after.local ? 'local' : 'ok',
      message: after.local ? localMessage(after.local, now) : `no longer failing from ${was ?? ''}`,
    },
  };
}

/**
 * Rules over probe results and indicators: one alert per rule and target, its
 * state kept in the store, notifications written to the outbox together
 * with the state change that caused them.
 *
 * Every store call is awaited (the store may answer through Promises), and
 * evaluations run one at a time, so two runs finishing together never
 * interleave the read and the write of one alert.
 */
export class AlertService {
  readonly outbox: Outbox;
  readonly rules: RuleConfig[];
  /** When each alert was last re-posted to each Alertmanager channel (`<alert id>\0<channel>`); empty after a restart, which re-posts at once. */
  private readonly refreshed = new Map<string, number>();
  private readonly serial = new Serial();

  constructor(
    private readonly deps: {
      store: AlertingStore;
      clock: Clock;
      logger: Logger;
      config: AlertsConfig;
      locations?: LocationsView;
      indicators?: () => Indicator[];
      transport?: Transport;
      random?: () => number;
    },
  ) {
    const { config } = deps;
    this.rules = config.rules ?? defaultRules(config.channels.map((c) => c.name));
    this.outbox = new Outbox({
      outbox: deps.store.outbox,
      clock: deps.clock,
      logger: deps.logger,
      channels: config.channels,
      delivery: config.delivery,
      ...(deps.transport ? { transport: deps.transport } : {}),
      ...(deps.random ? { random: deps.random } : {}),
    });
  }

  private async load(rule: string, target: string): Promise<AlertRow | undefined> {
    const stored = await this.deps.store.alerts.get(rule, target);
    return stored ? rowOf(stored) : undefined;
  }

  private notification(
    row: AlertRow,
    event: Notification['event'],
    now: number,
    startedAt: number,
    resolvedAt = now,
  ): Notification {
    const suffix =
      event === 'reminder' || event === 'refresh' || event === 'test' ? `${startedAt}-${now}` : String(startedAt);
    const rule = this.rules.find((r) => r.name === row.rule);
    return {
      key: `${row.id}-${event}-${suffix}`,
      event,
      createdAt: now,
      alert: {
        id: row.id,
        rule: row.rule,
        target: row.target,
        severity: row.severity,
        summary: row.summary,
        startedAt,
        ...(event === 'resolved' ? { resolvedAt } : {}),
        labels: row.labels,
        ...(rule?.description ? { description: rule.description } : {}),
        ...(rule?.runbook ? { runbook: rule.runbook } : {}),
      },
    };
  }

  /** The configured silences and maintenance windows, and the maintenance windows started at run time (read from the store each time: another process may start one). */
  private async windows(now: number): Promise<WindowConfig[]> {
    const { silences, maintenance } = this.deps.config;
    const started = await this.deps.store.maintenanceWindows.active(now);
    return [...silences, ...maintenance, ...started.flatMap(asConfiguredWindows)];
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
  private async apply(
    rule: RuleConfig,
    row: AlertRow,
    next: { state: AlertState; event?: AlertEvent },
  ): Promise<boolean> {
    const now = this.deps.clock.now();
    const before = row.state;
    let state = next.state;
    let event = next.event;
    // A firing held back by a silence is sent once the silence is over.
    if (!event && state.status === 'firing' && !state.notified) event = 'firing';
    let held = before.heldResolution;
    const silenced = event || held ? suppressedBy(await this.windows(now), rule.name, row.target, now) : undefined;
    const notifications: NewOutboxRow[] = [];
    let queued = false;
    if (held && !silenced) {
      notifications.push(
        ...this.outbox.rowsFor(
          this.notification({ ...row, summary: held.summary }, 'resolved', now, held.firedAt, held.at),
          this.channelsOf(rule),
        ),
      );
      held = undefined;
      queued = true;
    }
    if (event && !silenced) {
      const startedAt = (event === 'resolved' ? before.firedAt : state.firedAt) ?? now;
      notifications.push(...this.outbox.rowsFor(this.notification(row, event, now, startedAt), this.channelsOf(rule)));
      queued = true;
      if (event !== 'resolved') state = { ...state, notified: true, lastNotifiedAt: now };
    }
    if (event === 'resolved' && silenced) held = { firedAt: before.firedAt ?? now, at: now, summary: row.summary };
    // Logged once, at the transition; the held firing is re-checked every tick without a word.
    if (next.event && next.event !== 'reminder' && silenced) {
      this.deps.logger.info(
        { rule: rule.name, target: row.target, event: next.event, window: silenced.name ?? silenced.reason },
        'alert notification held back by a silence',
      );
    }
    const { heldResolution: _previous, ...rest } = state;
    state = held ? { ...rest, heldResolution: held } : rest;
    // The alert, what it queued and its state change are stored together (all or none).
    await this.deps.store.alerts.save(storedOf({ ...row, state }), {
      notifications,
      ...changeOf(row, before, state, now),
    });
    return queued;
  }

  private probeRules(run: RunLike, tags: string[]): RuleConfig[] {
    return this.rules.filter(
      (rule) =>
        !rule.indicators &&
        (rule.probes ?? ['*']).some((p) => globMatch(p, run.probe)) &&
        rule.tags.every((t) => tags.includes(t)),
    );
  }

  /** Feeds one finished run to every rule that watches its probe; resolves with how many notifications it queued. */
  onRun(run: RunLike, tags: string[] = []): Promise<number> {
    return this.serial.run(async () => {
      const now = this.deps.clock.now();
      let queued = 0;
      for (const rule of this.probeRules(run, tags)) {
        const bad = rule.on === 'warn' ? run.status !== 'pass' : run.status === 'fail';
        const row = (await this.load(rule.name, run.probe)) ?? this.fresh(rule, run.probe);
        const next = this.judgeRun(rule, row, run, bad, now);
        if (!next) continue;
        row.labels = { probe: run.probe, kind: run.kind, ...(run.tenant ? { tenant: run.tenant } : {}) };
        if (await this.apply(rule, row, next)) queued++;
      }
      return queued;
    });
  }

  /**
   * The next state after one run (its summary set on `row`). A run from a
   * location updates that location's latest result and the rule judges the
   * quorum of the probe's locations; a run read before (not newer than its
   * location's latest) changes nothing: undefined. A run without a location
   * is judged on its own.
   */
  private judgeRun(
    rule: RuleConfig,
    row: AlertRow,
    run: RunLike,
    bad: boolean,
    now: number,
  ): { state: AlertState; event?: AlertEvent } | undefined {
    const ownSummary = run.message || `probe ${run.probe} ${run.status}`;
    if (run.location === undefined) {
      row.summary = bad || row.state.status === 'firing' ? ownSummary : row.summary;
      return observe(row.state, bad, now, rule);
    }
    const at = run.startedAt ?? now;
    const locations = withResult(row.state.locations ?? {}, run.location, { bad, at, message: ownSummary });
    if (!locations) return undefined;
    const { live, interval } = this.deps.locations ?? {};
    const liveNow = live?.(run.probe);
    const intervalNow = interval?.(run.probe);
    // Staleness is judged at the run's own time: a backlog read late (spooled while the database was away, or a
    // slow replicator) is judged as it happened, not dropped as stale against the clock.
    const verdict = judgeQuorum(locations, rule.quorum ?? 1, {
      now: Math.min(now, at),
      ...(liveNow ? { live: liveNow } : {}),
      ...(intervalNow !== undefined ? { interval: intervalNow } : {}),
    });
    const next = observe(row.state, verdict.holds, now, rule);
    const { local: _before, ...rest } = next.state;
    const local = rest.status === 'ok' ? localFailure(locations, verdict) : undefined;
    row.summary =
      quorumSummary(locations, verdict.failing) ?? (row.state.status === 'firing' ? ownSummary : row.summary);
    return { ...next, state: { ...rest, locations, ...(local ? { local } : {}) } };
  }

  private fresh(rule: RuleConfig, target: string): AlertRow {
    return {
      rule: rule.name,
      target,
      id: alertId(rule.name, target),
      state: initialState(),
      severity: rule.severity,
      summary: '',
      labels: {},
    };
  }

  /**
   * Resolves, once, the open alerts of probes no longer configured: their own
   * (probe rules) and those of indicators computed from them (`readiness:<probe>`).
   * Nothing would ever resolve them otherwise, and reminders would go on forever.
   */
  resolveRemovedProbes(removed: string[]): Promise<void> {
    if (removed.length === 0) return Promise.resolve();
    const gone = new Set(removed);
    return this.resolveProbesGone((probe) => gone.has(probe));
  }

  /** Resolves, as removed, the open alerts of the probes `gone` says are (a fleet's leader decides by its own rule). */
  resolveProbesGone(gone: (probe: string) => boolean): Promise<void> {
    return this.serial.run(async () => {
      for (const row of (await this.deps.store.alerts.open()).map(rowOf)) {
        const rule = this.rules.find((r) => r.name === row.rule);
        if (!rule || !gone(probeOf(row))) continue;
        row.summary = REMOVED_PROBE_REASON;
        await this.apply(rule, row, withdraw(row.state));
      }
    });
  }

  /** Indicator rules, `for:` expiry, reminders and held-back firings; then sends what is due. */
  async tick(): Promise<void> {
    await this.evaluate();
    await this.outbox.drain();
  }

  /** Indicator rules, `for:` expiry, reminders, held-back firings and Alertmanager re-posts: what time alone changes. */
  evaluate(): Promise<void> {
    return this.serial.run(async () => {
      const now = this.deps.clock.now();
      await this.evaluateIndicators(now);
      // Firing and pending alerts, and resolved ones whose resolution a window still holds.
      for (const row of (await this.deps.store.alerts.owing()).map(rowOf)) {
        const rule = this.rules.find((r) => r.name === row.rule);
        if (rule) await this.apply(rule, row, advance(row.state, now, rule));
      }
      await this.refreshAlertmanagers(now);
    });
  }

  private async evaluateIndicators(now: number): Promise<void> {
    const indicatorRules = this.rules.filter((rule) => rule.indicators);
    if (indicatorRules.length === 0 || !this.deps.indicators) return;
    const indicators = this.deps.indicators();
    for (const rule of indicatorRules) {
      for (const indicator of indicators.filter((i) => (rule.indicators ?? []).some((p) => globMatch(p, i.id)))) {
        const bad = rule.on === 'warn' ? indicator.state !== 'ok' : indicator.state === 'critical';
        const row = (await this.load(rule.name, indicator.id)) ?? this.fresh(rule, indicator.id);
        row.summary = indicator.reason;
        row.labels = { indicator: indicator.id, ...(indicator.tenant ? { tenant: indicator.tenant } : {}) };
        await this.apply(rule, row, observe(row.state, bad, now, rule));
      }
    }
  }

  /**
   * Alertmanager resolves an alert whose `endsAt` passes without a new post:
   * each notified firing (and each resolution a window still holds, which the
   * receiver must not learn early) is posted again every `resend`, unless a
   * post of it to that channel is still waiting (it goes out with a fresh
   * `endsAt` anyway). Re-posts keep an alert Alertmanager already has; they go
   * on during silences, which hold new notifications, not this.
   */
  private async refreshAlertmanagers(now: number): Promise<void> {
    const channels = this.deps.config.channels.filter((c) => c.type === 'alertmanager');
    if (channels.length === 0) return;
    const keep = new Set<string>();
    for (const row of (await this.deps.store.alerts.owing()).map(rowOf)) {
      const rule = this.rules.find((r) => r.name === row.rule);
      const held = row.state.heldResolution;
      if (!rule || !((row.state.status === 'firing' && row.state.notified) || held)) continue;
      for (const channel of channels.filter((c) => this.channelsOf(rule).includes(c.name))) {
        const key = `${row.id}\0${channel.name}`;
        keep.add(key);
        const last = Math.max(this.refreshed.get(key) ?? 0, held ? 0 : (row.state.lastNotifiedAt ?? 0));
        if (now - last < channel.resend || (await this.outbox.waiting(row.id, channel.name))) continue;
        await this.outbox.enqueue(
          this.notification(
            { ...row, summary: held?.summary ?? row.summary },
            'refresh',
            now,
            held?.firedAt ?? row.state.firedAt ?? now,
          ),
          [channel.name],
        );
        this.refreshed.set(key, now);
      }
    }
    for (const key of this.refreshed.keys()) if (!keep.has(key)) this.refreshed.delete(key);
  }

  /** Queues a test notification to one channel (`scaiprobe alert test <channel>`). */
  async sendTest(channel: string): Promise<string> {
    const now = this.deps.clock.now();
    const row: AlertRow = {
      rule: 'test',
      target: channel,
      id: alertId('test', channel),
      state: initialState(),
      severity: 'info',
      summary: 'Test notification from scaiprobe: if you can read this, the channel works.',
      labels: { test: 'true' },
    };
    const n = this.notification(row, 'test', now, now);
    await this.outbox.enqueue(n, [channel]);
    return n.key;
  }

  async list(): Promise<Array<Record<string, unknown>>> {
    const now = this.deps.clock.now();
    return (await this.deps.store.alerts.recent(500)).map((stored) => {
      const row = rowOf(stored);
      const { heldResolution: held, local, locations } = row.state;
      return {
        id: row.id,
        rule: row.rule,
        target: row.target,
        status: row.state.status,
        since: iso(row.state.since),
        firedAt: iso(row.state.firedAt),
        notified: row.state.notified,
        resolutionHeldSince: iso(held?.at ?? null),
        severity: row.severity,
        summary: row.summary,
        labels: row.labels,
        // A failure seen from fewer locations than the rule's quorum: shown, not notified.
        local: local
          ? { locations: local.locations, since: iso(local.since), message: localMessage(local, now) }
          : null,
        ...(locations
          ? {
              locations: Object.fromEntries(
                Object.entries(locations).map(([name, r]) => [
                  name,
                  { status: r.bad ? 'failing' : 'ok', at: iso(r.at), since: iso(r.since ?? null) },
                ]),
              ),
            }
          : {}),
      };
    });
  }

  /** The alerts and the outbox at a glance: counts and the latest rows. */
  async overview(): Promise<{
    alerts: Array<Record<string, unknown>>;
    outbox: { counts: Record<OutboxStatus, number>; recent: OutboxRow[] };
  }> {
    const [alerts, counts, recent] = await Promise.all([
      this.list(),
      this.outbox.counts(),
      this.outbox.rows({ limit: 50 }),
    ]);
    return { alerts, outbox: { counts, recent } };
  }
}
