// What the store keeps and hands back: runs, items, state changes, probes, alerts, outbox rows, rollups, the daemon lock.
import type { ObservationValue, RunItem } from '../core/probe.ts';
import type { AssertionOutcome } from '../core/assertions.ts';

export type RunStatus = 'pass' | 'warn' | 'fail';

/** A finished run as the runner hands it to the store. */
export interface RunRecord {
  uid: string;
  probe: string;
  kind: string;
  tenant?: string;
  startedAt: number;
  durationMs: number;
  status: RunStatus;
  attempts: number;
  message: string;
  error: { code: string; message: string } | null;
  observations: Record<string, ObservationValue>;
  assertions: AssertionOutcome[];
  phases: Record<string, number>;
  items: RunItem[];
  state?: unknown;
  /** In a fleet: the location and the agent that ran it (absent for a single daemon). */
  location?: string;
  agent?: string;
}

export interface StoredRun extends Omit<RunRecord, 'items' | 'state'> {
  id: number;
}

/** A stored run with the items it reported (what a fleet replica copies). */
export interface RunWithItems extends StoredRun {
  items: RunItem[];
}

/** A run without its body (message, observations, assertions, phases): what a chart or a timeline needs. */
export type RunSummary = Pick<
  StoredRun,
  | 'id'
  | 'uid'
  | 'probe'
  | 'kind'
  | 'tenant'
  | 'startedAt'
  | 'durationMs'
  | 'status'
  | 'attempts'
  | 'error'
  | 'location'
  | 'agent'
>;

export interface StateChange {
  id: number;
  probe: string;
  tenant: string | null;
  /** '' for the probe's own status; `<type>:<key>` for an item; `alert:<rule>:<target>` for an alert. */
  subject: string;
  from: string | null;
  to: string;
  at: number;
  runId: number | null;
  message: string;
}

export type NewStateChange = Omit<StateChange, 'id'>;

/** What committing a run caused: its id and the state changes (the probe's status, its items' states). */
export interface RecordedRun {
  runId: number;
  changes: NewStateChange[];
}

/** A configured probe as the configuration last said it. */
export interface ConfiguredProbe {
  name: string;
  kind: string;
  tenant?: string;
  tags: string[];
}

export interface ProbeLatest {
  probe: string;
  kind: string;
  tenant: string | null;
  tags: string[];
  runId: number | null;
  status: RunStatus | null;
  statusSince: number | null;
  startedAt: number | null;
  durationMs: number | null;
  message: string | null;
  errorCode: string | null;
  /** When the probe left the configuration (removed or disabled); null while configured. */
  removedAt: number | null;
  /** In a fleet: the newest run at each location, by location name (absent when runs carry no location). */
  locations?: Array<{ location: string; status: RunStatus; startedAt: number; statusSince: number; message: string }>;
}

export interface LatestFilter {
  names?: string[];
  status?: RunStatus;
  tenant?: string;
  tag?: string;
  /** Also the probes no longer configured, for their history. */
  includeRemoved?: boolean;
}

export interface StoredItem {
  id: number;
  runId: number;
  probe: string;
  tenant: string | null;
  type: string;
  key: string;
  state: string | null;
  at: number;
  data: Record<string, unknown>;
}

export interface ItemQuery {
  type: string;
  probe?: string;
  tenant?: string;
  since?: number;
  until?: number;
  limit?: number;
  /** Newest first; by default the newest `limit` are answered oldest first. */
  newest?: boolean;
}

/** An item's current state (the last one its probe reported), and since when. */
export interface ItemState {
  probe: string;
  type: string;
  key: string;
  state: string;
  since: number;
}

/** An item in a given state now, with its probe's tenant and the data of its latest report. */
export interface CurrentItem {
  probe: string;
  key: string;
  tenant: string | null;
  data: Record<string, unknown>;
}

/** The fields of a `mail.message` item that reports read (placement, time to inbox, authentication). */
export interface MailMessageFields {
  at: number;
  seed: string;
  provider: string | null;
  placement: string;
  tti: number | null;
  /** 1 when the item carries authentication results, else 0 (or null without data). */
  auth: number;
  spf: string | null;
  dkim: string | null;
  dmarc: string | null;
  dkimDomain: string | null;
  compauthReason: string | null;
  receivedSpf: string | null;
  /** The location of the run that reported it (null for a single daemon's runs). */
  location: string | null;
}

export interface StateChangeQuery {
  probe?: string;
  /** Subjects starting with this (`alert:`, `rbl`). */
  subjectPrefix?: string;
  since?: number;
  until?: number;
  tenant?: string;
  limit?: number;
}

export interface HourlyRollup {
  hour: number;
  runs: number;
  passes: number;
  warns: number;
  fails: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** One alert (a rule and a target) as kept: its state is the alerting part's, kept as given. */
export interface StoredAlert {
  rule: string;
  target: string;
  id: string;
  /** The state's own status (`ok`, `pending`, `firing`), kept beside it for queries. */
  status: string;
  /** The alerting part's state; the store reads only `heldResolution` (a resolution still owed) of it. */
  state: { heldResolution?: unknown } & Record<string, unknown>;
  severity: string;
  summary: string;
  labels: Record<string, string>;
}

export const OUTBOX_STATUSES = ['pending', 'delivered', 'failed', 'expired'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export interface OutboxRow {
  id: number;
  key: string;
  alertId: string;
  channel: string;
  event: string;
  createdAt: number;
  expiresAt: number;
  nextAttemptAt: number;
  attempts: number;
  status: OutboxStatus;
  lastStatus: number | null;
  lastError: string | null;
  /** The start of the receiver's answer to the last attempt that was not a 2xx. */
  lastResponse: string | null;
  finishedAt: number | null;
  /** Who is sending it right now (`pid@host/…`), and until when that claim holds. */
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/** A notification for one channel, written before any byte is sent. */
export interface NewOutboxRow {
  key: string;
  alertId: string;
  channel: string;
  event: string;
  body: string;
  createdAt: number;
  expiresAt: number;
}

/** A row leased to its sender, with the body to send. */
export interface LeasedRow {
  row: OutboxRow;
  body: string;
}

/** How an attempt ended, for the row it was made for. */
export interface Settlement {
  id: number;
  /** The lease holder; a row leased to someone else since is left alone. */
  owner: string;
  status: OutboxStatus;
  lastStatus: number | null;
  lastError: string | null;
  lastResponse: string | null;
  nextAttemptAt: number;
  finishedAt: number | null;
}

export interface LockHolder {
  owner: string;
  pid: number;
  host: string;
  startedAt: number;
  heartbeatAt: number;
}

/** A maintenance window started at run time (`scaiprobe maintenance start`, the API), before it is stored. */
export interface NewMaintenanceWindow {
  /** Probe-name globs (`*` any) whose alerts it holds. */
  probes: string[];
  reason: string;
  startsAt: number;
  /** When it ends unless it is ended before. */
  endsAt: number;
  createdAt: number;
}

export interface MaintenanceWindow extends NewMaintenanceWindow {
  id: number;
  /** When it was ended before its end (`maintenance end`); null while it runs, or when it ran its course. */
  endedAt: number | null;
}
