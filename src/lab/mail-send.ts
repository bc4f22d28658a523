// The ScaiSend stand-in's /v3/mail/send: SendGrid-v3 validation, DKIM signing, and the relay to the lab's MX ingress.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { dkimSign } from 'mailauth';
import { ESP_DOMAIN, LAB_SENDING_DOMAINS, type LabDkimKey } from './mail-dns.ts';
import type { MailFaults } from './smtp-ingress.ts';
import { sendJson, type Faults, type LabApp, type LabRequest } from './http-app.ts';
import { mountTracking } from './tracking.ts';

/** Lab API keys and the tenant each belongs to. */
export const LAB_API_KEYS: Record<string, string> = {
  'SG.lab-tenant-a.key': 'tenant-a',
  'SG.lab-tenant-b.key': 'tenant-b',
};

export const METRIC_NAMES = [
  'requests',
  'delivered',
  'bounces',
  'blocks',
  'deferred',
  'spam_reports',
  'opens',
  'unique_opens',
  'clicks',
  'unique_clicks',
  'processed',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type Metrics = Record<MetricName, number>;

/** What the stand-in handled, per tenant and UTC day (YYYY-MM-DD). */
export interface SendCounters {
  add(tenant: string, metric: MetricName, count?: number, at?: number): void;
  /** A copy of one tenant's metrics for one day (zeros when nothing happened). */
  day(tenant: string, date: string): Metrics;
  /** A copy of everything: tenant -> date -> metrics. */
  snapshot(): Record<string, Record<string, Metrics>>;
}

export function emptyMetrics(): Metrics {
  return Object.fromEntries(METRIC_NAMES.map((name) => [name, 0])) as Metrics;
}

export function utcDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export function createSendCounters(now: () => number = Date.now): SendCounters {
  const byTenant = new Map<string, Map<string, Metrics>>();
  return {
    add(tenant, metric, count = 1, at = now()) {
      const days = byTenant.get(tenant) ?? new Map<string, Metrics>();
      byTenant.set(tenant, days);
      const date = utcDate(at);
      const metrics = days.get(date) ?? emptyMetrics();
      days.set(date, metrics);
      metrics[metric] += count;
    },
    day(tenant, date) {
      return { ...(byTenant.get(tenant)?.get(date) ?? emptyMetrics()) };
    },
    snapshot() {
      const copy: Record<string, Record<string, Metrics>> = {};
      for (const [tenant, days] of byTenant)
        copy[tenant] = Object.fromEntries([...days].map(([date, metrics]) => [date, { ...metrics }]));
      return copy;
    },
  };
}

/** Send switches of the ScaiSend stand-in (in its faults, set with POST /__lab/faults). */
export interface SendFaults {
  /** /v3/mail/send answers 429 with rate-limit headers. */
  send429?: boolean;
  /** /v3/mail/send answers this 5xx status. */
  send5xx?: number;
  /** Accepted mail is relayed after this many seconds. */
  mailDelaySec?: number;
  /** Accepted mail is never relayed. */
  mailDrop?: boolean;
}

/** Where the stand-in's relay connects from: 127.0.0.1, the address the lab's SPF records permit, or another (mailSpfFail). */
const RELAY_ADDRESS = { listed: '127.0.0.1', unlisted: '127.0.0.2' } as const;

function relayTransport(port: number, localAddress: string): Transporter {
  // Pooled: smtp-server waits 100 ms before its greeting, a connection per message would cost that each time.
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    localAddress,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 4,
    maxMessages: Infinity,
  });
}

interface Address {
  email: string;
  name?: string;
}
interface Personalization {
  to: Address[];
  cc?: Address[];
  bcc?: Address[];
  subject?: string;
  headers?: Record<string, string>;
  custom_args?: Record<string, string>;
}
export interface SendBody {
  personalizations: Personalization[];
  from: Address;
  reply_to?: Address;
  subject?: string;
  content?: Array<{ type: string; value: string }>;
  headers?: Record<string, string>;
  categories?: string[];
  custom_args?: Record<string, string>;
  template_id?: string;
}

interface FieldError {
  message: string;
  field: string | null;
  help: string | null;
}

const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html';
const EMAIL = /^[^\s@<>()",;]+@[^\s@<>()",;]+\.[^\s@<>()",;]+$/;
const RESERVED_HEADERS = new Set([
  'x-sg-id',
  'x-sg-eid',
  'received',
  'dkim-signature',
  'content-type',
  'content-transfer-encoding',
  'to',
  'from',
  'subject',
  'reply-to',
  'cc',
  'bcc',
]);
const MAX_BODY_BYTES = 30 * 1024 * 1024;

function err(field: string | null, message: string, anchor: string): FieldError {
  return { message, field, help: `${HELP}#${anchor}` };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkAddress(value: unknown, field: string, errors: FieldError[]): void {
  if (!isObject(value) || typeof value.email !== 'string') {
    errors.push(err(field, `The ${field} object requires an email parameter.`, 'message.personalizations.to'));
  } else if (!EMAIL.test(value.email)) {
    errors.push(err(`${field}.email`, 'Does not contain a valid address.', 'message.personalizations.to'));
  }
}

function checkHeaders(value: unknown, field: string, errors: FieldError[]): void {
  if (value === undefined) return;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    errors.push(err(field, 'The headers must be an object of string values.', 'message.headers'));
    return;
  }
  for (const name of Object.keys(value)) {
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      errors.push(err(field, `The header ${name} is a reserved header and cannot be set.`, 'message.headers'));
  }
}

/** One personalization: its recipient lists, subject, headers and custom args; returns how many recipients it has. */
function checkPersonalization(p: unknown, i: number, body: Record<string, unknown>, errors: FieldError[]): number {
  const field = `personalizations.${i}`;
  if (!isObject(p) || !Array.isArray(p.to) || p.to.length === 0) {
    errors.push(
      err(
        `${field}.to`,
        'The to array is required for all personalization objects, and must have at least one email object with a valid email address.',
        'message.personalizations.to',
      ),
    );
    return 0;
  }
  let recipients = 0;
  for (const kind of ['to', 'cc', 'bcc'] as const) {
    const list = p[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list))
      errors.push(err(`${field}.${kind}`, `The ${kind} field must be an array.`, 'message.personalizations.to'));
    else list.forEach((a: unknown, j) => checkAddress(a, `${field}.${kind}.${j}`, errors));
    recipients += Array.isArray(list) ? list.length : 0;
  }
  if (p.subject !== undefined && typeof p.subject !== 'string')
    errors.push(err(`${field}.subject`, 'The subject must be a string.', 'message.subject'));
  if (typeof body.subject !== 'string' && typeof p.subject !== 'string' && body.template_id === undefined) {
    errors.push(
      err(
        'subject',
        'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.',
        'message.subject',
      ),
    );
  }
  checkHeaders(p.headers, `${field}.headers`, errors);
  if (
    p.custom_args !== undefined &&
    (!isObject(p.custom_args) || Object.values(p.custom_args).some((v) => typeof v !== 'string'))
  ) {
    errors.push(err(`${field}.custom_args`, 'Custom args must be an object of string values.', 'message.custom_args'));
  }
  return recipients;
}

function checkPersonalizations(body: Record<string, unknown>, errors: FieldError[]): void {
  const personalizations = body.personalizations;
  if (!Array.isArray(personalizations) || personalizations.length === 0) {
    errors.push(
      err(
        'personalizations',
        'The personalizations field is required and must have at least one personalization.',
        'message.personalizations',
      ),
    );
    return;
  }
  if (personalizations.length > 1000) {
    errors.push(
      err(
        'personalizations',
        'The personalizations field may not have more than 1000 items.',
        'message.personalizations',
      ),
    );
    return;
  }
  let recipients = 0;
  personalizations.forEach((p: unknown, i) => (recipients += checkPersonalization(p, i, body, errors)));
  if (recipients > 1000)
    errors.push(
      err('personalizations', 'The total number of recipients must be no more than 1000.', 'message.personalizations'),
    );
}

function checkContent(body: Record<string, unknown>, errors: FieldError[]): void {
  if (body.template_id !== undefined) return;
  const content = body.content;
  if (!Array.isArray(content) || content.length === 0) {
    errors.push(
      err(
        'content',
        'Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block.',
        'message.content',
      ),
    );
    return;
  }
  content.forEach((c: unknown, i) => {
    if (!isObject(c) || typeof c.type !== 'string' || c.type === '')
      errors.push(err(`content.${i}.type`, 'The content type must be provided.', 'message.content.type'));
    else if (typeof c.value !== 'string' || c.value === '')
      errors.push(
        err(
          `content.${i}.value`,
          'The content value must be a string at least one character in length.',
          'message.content.value',
        ),
      );
  });
}

function checkExtras(body: Record<string, unknown>, errors: FieldError[]): void {
  checkHeaders(body.headers, 'headers', errors);
  if (body.categories !== undefined && (!Array.isArray(body.categories) || body.categories.length > 10)) {
    errors.push(err('categories', 'You may not have more than 10 categories per request.', 'message.categories'));
  }
  if (body.custom_args !== undefined) {
    if (!isObject(body.custom_args) || Object.values(body.custom_args).some((v) => typeof v !== 'string')) {
      errors.push(err('custom_args', 'Custom args must be an object of string values.', 'message.custom_args'));
    } else if (Buffer.byteLength(JSON.stringify(body.custom_args)) > 10_000) {
      errors.push(err('custom_args', 'The custom_args may not exceed 10,000 bytes.', 'message.custom_args'));
    }
  }
}

/** SendGrid v3 /mail/send validation (the subset ScaiSend follows). */
export function validateSendBody(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  if (!isObject(body)) return [err(null, 'Bad Request', 'message')];
  checkPersonalizations(body, errors);
  if (!isObject(body.from)) {
    errors.push(
      err(
        'from',
        'The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.',
        'message.from',
      ),
    );
  } else checkAddress(body.from, 'from', errors);
  checkContent(body, errors);
  checkExtras(body, errors);
  return errors;
}

function tenantOf(request: LabRequest, keys: Record<string, string>): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.req.headers.authorization ?? '');
  return match?.[1] ? keys[match[1]] : undefined;
}

function unauthorized(res: ServerResponse): void {
  sendJson(res, 401, {
    errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }],
  });
}

export interface MailSendOptions {
  /** SMTP port of the ingress the stand-in relays to (127.0.0.1). */
  relayPort: number;
  keys?: Record<string, string>;
  now?: () => number;
  /** The keys every relayed message is signed with, one signature each (published by mail-dns.ts). */
  dkimKeys: LabDkimKey[];
  /** The lab's counters (LabContext.sendCounters), shared with the stats switch; new ones when absent. */
  counters?: SendCounters;
}

export interface MountedMailSend {
  counters: SendCounters;
  close(): Promise<void>;
}

/** Mounts POST /v3/mail/send, GET /v3/stats and GET /v3/stats/sum on the ScaiSend stand-in. */
/** What relaying one personalization needs: the tracking rewriter, the relays (listed in SPF or not), the counters. */
interface RelayContext {
  options: MailSendOptions;
  tracking: ReturnType<typeof mountTracking>;
  relays: { listed: ReturnType<typeof relayTransport>; unlisted: ReturnType<typeof relayTransport> };
  counters: SendCounters;
}

/** Composes, signs and relays one personalization to the ingress; counts it delivered, deferred or bounced. */
async function relayOne(
  ctx: RelayContext,
  tenant: string,
  body: SendBody,
  p: Personalization,
  id: { messageId: string; index: number },
  faults: SendFaults & MailFaults,
): Promise<void> {
  const recipients = [...p.to, ...(p.cc ?? []), ...(p.bcc ?? [])];
  const fromDomain = (body.from.email.split('@')[1] ?? ESP_DOMAIN).toLowerCase();
  const eid = `${id.messageId}.${id.index}`;
  const html = ctx.tracking.apply(tenant, body, eid, body.content?.find((c) => c.type === 'text/html')?.value);
  try {
    const composed = await new MailComposer({
      from: body.from.name ? { name: body.from.name, address: body.from.email } : body.from.email,
      to: p.to.map((a) => a.email),
      cc: p.cc?.map((a) => a.email),
      subject: p.subject ?? body.subject,
      text: body.content?.find((c) => c.type === 'text/plain')?.value,
      html,
      messageId: `<${eid}@${fromDomain}>`,
      headers: { ...body.headers, ...p.headers, 'X-SG-EID': eid },
    })
      .compile()
      .build();
    const raw = await signForRelay(composed, ctx.options.dkimKeys, signingDomain(fromDomain, faults), faults);
    const relay = faults.mailSpfFail ? ctx.relays.unlisted : ctx.relays.listed;
    await relay.sendMail({
      envelope: { from: `bounces+${tenant}@${ESP_DOMAIN}`, to: recipients.map((a) => a.email) },
      raw,
    });
    ctx.counters.add(tenant, 'delivered', recipients.length);
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode ?? 0;
    ctx.counters.add(tenant, code >= 500 ? 'bounces' : 'deferred', recipients.length);
  }
}

/** The answer a send fault switch forces (429 with rate-limit headers, or a 5xx), if one is on. */
function faultAnswer(res: ServerResponse, faults: SendFaults, now: () => number): boolean {
  if (faults.send429) {
    const reset = Math.ceil(now() / 1000) + 60;
    sendJson(
      res,
      429,
      { errors: [{ message: 'too many requests', field: null, help: null }] },
      { 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
    );
    return true;
  }
  if (typeof faults.send5xx === 'number') {
    sendJson(res, faults.send5xx, {
      errors: [{ message: `internal error (lab fault: ${faults.send5xx})`, field: null, help: null }],
    });
    return true;
  }
  return false;
}

/** The request's body as a valid send, or undefined once the error answer (413, 400) went out. */
function sendBodyOf(request: LabRequest, res: ServerResponse): SendBody | undefined {
  const declared = Number(request.req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES || request.body.length > MAX_BODY_BYTES) {
    sendJson(res, 413, {
      errors: [{ message: 'The request body is larger than the 30 MB limit.', field: null, help: null }],
    });
    return undefined;
  }
  let body: unknown;
  try {
    body = JSON.parse(request.body.toString('utf8'));
  } catch {
    sendJson(res, 400, { errors: [{ message: 'Bad Request', field: null, help: null }] });
    return undefined;
  }
  const errors = validateSendBody(body);
  if (errors.length > 0) {
    sendJson(res, 400, { errors });
    return undefined;
  }
  return body as SendBody;
}

export function mountMailSend(app: LabApp, options: MailSendOptions): MountedMailSend {
  const keys = options.keys ?? LAB_API_KEYS;
  const now = options.now ?? Date.now;
  const counters = options.counters ?? createSendCounters(now);
  const relays = {
    listed: relayTransport(options.relayPort, RELAY_ADDRESS.listed),
    unlisted: relayTransport(options.relayPort, RELAY_ADDRESS.unlisted),
  };
  const ctx: RelayContext = { options, tracking: mountTracking(app, counters), relays, counters };
  const timers = new Set<NodeJS.Timeout>();

  app.route('POST', '/v3/mail/send', (request, res) => {
    const tenant = tenantOf(request, keys);
    if (!tenant) return unauthorized(res);
    const faults = request.faults as Faults & SendFaults & MailFaults;
    if (faultAnswer(res, faults, now)) return;
    const send = sendBodyOf(request, res);
    if (!send) return;
    const messageId = randomBytes(16).toString('base64url').slice(0, 22);
    const recipientCount = send.personalizations.reduce(
      (n, p) => n + p.to.length + (p.cc?.length ?? 0) + (p.bcc?.length ?? 0),
      0,
    );
    counters.add(tenant, 'requests', recipientCount);
    counters.add(tenant, 'processed', recipientCount);
    res.writeHead(202, { 'x-message-id': messageId, 'content-length': 0 });
    res.end();
    if (faults.mailDrop) return;
    const go = () =>
      send.personalizations.forEach((p, index) => void relayOne(ctx, tenant, send, p, { messageId, index }, faults));
    const delayMs = Math.max(0, (faults.mailDelaySec ?? 0) * 1000);
    if (delayMs === 0) return go();
    const timer = setTimeout(() => {
      timers.delete(timer);
      go();
    }, delayMs);
    timers.add(timer);
  });

  mountSendStats(app, counters, { keys, now });

  return {
    counters,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      relays.listed.close();
      relays.unlisted.close();
      return Promise.resolve();
    },
  };
}

/**
 * Signs as the From domain when the lab publishes its keys (the tenant's domain is authenticated),
 * else as the stand-in's own domain, as SendGrid signs as sendgrid.net; mailDmarcFail forces the latter.
 */
function signingDomain(fromDomain: string, faults: MailFaults): string {
  return !faults.mailDmarcFail && LAB_SENDING_DOMAINS.includes(fromDomain) ? fromDomain : ESP_DOMAIN;
}

/** One DKIM-Signature per key (RSA first: receivers that read one result read that one); mailDkimFail then alters the body. */
async function signForRelay(message: Buffer, keys: LabDkimKey[], domain: string, faults: MailFaults): Promise<Buffer> {
  const signed = await dkimSign(message, {
    signingDomain: domain,
    selector: keys[0]?.selector ?? '',
    privateKey: keys[0]?.privateKey ?? '',
    signatureData: keys.map((key) => ({
      signingDomain: domain,
      selector: key.selector,
      privateKey: key.privateKey,
      algorithm: key.algorithm,
    })),
  });
  if (signed.errors.length) throw new Error(`DKIM signing failed: ${JSON.stringify(signed.errors)}`);
  const out = Buffer.concat([Buffer.from(signed.signatures), message]);
  // A relay on the way that rewrites the message (a footer, a link wrapper) after it was signed.
  return faults.mailDkimFail ? Buffer.concat([out, Buffer.from('\r\n-- \r\nadded in transit\r\n')]) : out;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function dayRange(start: string, end: string): string[] | undefined {
  const from = Date.parse(`${start}T00:00:00Z`);
  const to = Date.parse(`${end}T00:00:00Z`);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from || to - from > 366 * 86_400_000) return undefined;
  const days: string[] = [];
  for (let at = from; at <= to; at += 86_400_000) days.push(utcDate(at));
  return days;
}

/** Reads start_date / end_date (YYYY-MM-DD, or `today`); answers 400 and returns undefined when unusable. */
function readRange(request: LabRequest, res: ServerResponse, now: () => number): string[] | undefined {
  const today = utcDate(now());
  const param = (name: string) => {
    const value = request.url.searchParams.get(name);
    return value === 'today' ? today : value;
  };
  const start = param('start_date');
  const end = param('end_date') ?? today;
  if (!start || !DATE.test(start)) {
    sendJson(res, 400, {
      errors: [{ message: 'start_date is required and must be YYYY-MM-DD', field: 'start_date', help: null }],
    });
    return undefined;
  }
  const days = DATE.test(end) ? dayRange(start, end) : undefined;
  if (!days)
    sendJson(res, 400, {
      errors: [
        {
          message: 'end_date must be YYYY-MM-DD, not before start_date, at most a year later',
          field: 'end_date',
          help: null,
        },
      ],
    });
  return days;
}

/** Mounts GET /v3/stats and GET /v3/stats/sum answering from `counters` (mountMailSend does it too; mounting again with the same counters is harmless). */
export function mountSendStats(
  app: LabApp,
  counters: SendCounters,
  options: { keys?: Record<string, string>; now?: () => number } = {},
): void {
  const keys = options.keys ?? LAB_API_KEYS;
  const now = options.now ?? Date.now;
  app.route('GET', '/v3/stats', (request, res) => {
    const tenant = tenantOf(request, keys);
    if (!tenant) return unauthorized(res);
    const days = readRange(request, res, now);
    if (!days) return;
    sendJson(
      res,
      200,
      days.map((date) => ({ date, stats: [{ metrics: counters.day(tenant, date) }] })),
    );
  });
  app.route('GET', '/v3/stats/sum', (request, res) => {
    const tenant = tenantOf(request, keys);
    if (!tenant) return unauthorized(res);
    const days = readRange(request, res, now);
    if (!days) return;
    const sum = emptyMetrics();
    for (const date of days) {
      const metrics = counters.day(tenant, date);
      for (const name of METRIC_NAMES) sum[name] += metrics[name];
    }
    sendJson(res, 200, { metrics: sum });
  });
}
