import assert from 'node:assert/strict';
import type { ErrorCode } from '../../src/core/probe.ts';
import type { FinishedRun } from '../../src/runner/engine.ts';
import type { RunStatus } from '../../src/store/types.ts';
import type { TestMailLab } from './mail-lab.ts';

/**
 * The rows of the fault matrix (test/integration/fault-matrix.test.ts): the
 * fault, the probe that meets it, who produces it (a real server where one
 * can, a Node server or a hand-written fake where none will), and the run's
 * expected status and error code. `fixed` says what the code did before the
 * row was written, where that was wrong.
 */

export interface Env {
  temp: string;
  testCa: string;
  mail: TestMailLab;
  pdns: { dns: string; api: string; apiKey: string };
  redis: { plain: number; auth: number };
  closed: number;
  blackhole: number;
  silent: number;
  healthy: string;
  resetMidBody: string;
  resetMidChunked: string;
  stallMidBody: string;
  status503: string;
  degraded200: string;
  malformedJson: string;
  truncatedJson: string;
  tlsExpired: number;
  tlsValid: number;
  tlsSelfSigned: number;
  dnsFake: string;
  imapGone: number;
  imapFlapping: number;
  smtp451: number;
  smtp550: number;
  api413: string;
  promGarbage: string;
  prom500: string;
  statsOdd: string;
  slowPage: string;
  slowPageRequested(): Promise<void>;
  hook: {
    status500: string;
    status429: string;
    silent: string;
    redirect: string;
    redirectTarget: string;
    redirectTargetHits: number;
  };
  run(name: string): Promise<FinishedRun>;
  deleteFolder(user: string, folder: string): Promise<void>;
  createFolder(user: string, folder: string): Promise<void>;
  killChromium(): number[];
  outbox(channel: string): Promise<
    | {
        status: string;
        attempts: number;
        lastStatus: number | null;
        lastError: string | null;
        createdAt: number;
        nextAttemptAt: number;
      }
    | undefined
  >;
}

type Probe = Record<string, unknown>;

export interface FaultRow {
  kind: string;
  fault: string;
  /** The probe's name in the configuration. */
  name: string;
  /** Who produces the fault (for the table in docs/troubleshooting.md). */
  source: string;
  expect: { status: RunStatus | 'pending'; code: ErrorCode | null; message?: RegExp };
  /** What was wrong before the row existed. */
  fixed?: string;
  probes(env: Env): Probe[];
  arrange?(env: Env): Promise<void> | void;
  act?(env: Env): Promise<FinishedRun | undefined>;
  check(env: Env, run: FinishedRun | undefined): Promise<void> | void;
  restore?: (env: Env) => Promise<void> | void;
  /** For alert-receiver rows: the webhook channel the row's probe alerts. */
  webhook?: { channel: string; url(env: Env): string; timeout?: string };
  timeoutMs?: number;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}

interface RowSpec {
  kind: string;
  fault: string;
  source: string;
  status: RunStatus;
  code: ErrorCode | null;
  message?: RegExp;
  fixed?: string;
  probe(env: Env): Probe;
  arrange?(env: Env, name: string): Promise<void> | void;
  act?(env: Env, name: string): Promise<FinishedRun>;
  restore?: (env: Env) => Promise<void> | void;
  /** Further checks on the run. */
  also?(run: FinishedRun, env: Env): void;
  timeoutMs?: number;
}

/** A row whose probe meets the fault and whose run is judged. */
function probeRow(spec: RowSpec): FaultRow {
  const name = `${spec.kind}-${slug(spec.fault)}`;
  return {
    kind: spec.kind,
    fault: spec.fault,
    name,
    source: spec.source,
    expect: { status: spec.status, code: spec.code, ...(spec.message ? { message: spec.message } : {}) },
    ...(spec.fixed ? { fixed: spec.fixed } : {}),
    // Our own verification of mail asks the test lab's PowerDNS, never the system's resolver.
    probes: (env) => [
      { name, kind: spec.kind, ...(spec.kind === 'mail' ? { resolver: env.mail.dnsServer } : {}), ...spec.probe(env) },
    ],
    ...(spec.arrange ? { arrange: (env: Env) => spec.arrange?.(env, name) } : {}),
    ...(spec.act ? { act: (env: Env) => spec.act?.(env, name) ?? Promise.resolve(undefined) } : {}),
    ...(spec.restore ? { restore: spec.restore } : {}),
    ...(spec.timeoutMs ? { timeoutMs: spec.timeoutMs } : {}),
    check(env, run) {
      assert.ok(run, 'the run finished');
      assert.deepEqual(
        { status: run.status, code: run.error?.code ?? null },
        { status: spec.status, code: spec.code },
        run.message,
      );
      if (spec.message) assert.match(run.message, spec.message);
      spec.also?.(run, env);
    },
  };
}

interface WebhookSpec {
  fault: string;
  source: string;
  lastStatus: number | null;
  lastError: RegExp;
  url: (env: Env) => string;
  timeout?: string;
  fixed?: string;
  also?(row: NonNullable<Awaited<ReturnType<Env['outbox']>>>, env: Env): void;
}

/** A row whose fault is at an alert receiver: a probe fails, its alert goes to the channel, and the outbox row is judged. */
function webhookRow(spec: WebhookSpec): FaultRow {
  const channel = `hook-${slug(spec.fault)}`;
  const name = `webhook-${slug(spec.fault)}`;
  return {
    kind: 'webhook',
    fault: spec.fault,
    name,
    source: spec.source,
    expect: { status: 'pending', code: null, message: spec.lastError },
    ...(spec.fixed ? { fixed: spec.fixed } : {}),
    webhook: { channel, url: spec.url, ...(spec.timeout ? { timeout: spec.timeout } : {}) },
    // The alert's source: a probe that fails at once.
    probes: (env) => [{ name, kind: 'http', url: `http://127.0.0.1:${env.closed}/ready`, timeout: '5s' }],
    async check(env) {
      const deadline = Date.now() + 15_000;
      let row = await env.outbox(channel);
      while (!row && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        row = await env.outbox(channel);
      }
      assert.ok(row, `an attempt to deliver to ${channel}`);
      assert.deepEqual(
        { status: row.status, attempts: row.attempts, lastStatus: row.lastStatus },
        { status: 'pending', attempts: 1, lastStatus: spec.lastStatus },
        row.lastError ?? '',
      );
      assert.match(row.lastError ?? '', spec.lastError);
      spec.also?.(row, env);
    },
  };
}

const mailSend = { api: '', apiKey: '${FAULTS_API_KEY}', from: 'probe@send.example.test' };
const seedOf = (env: Env, user: 'alice' | 'bob', extra: Record<string, unknown> = {}) => ({
  name: `seed-${user}`,
  address: `${user}@example.test`,
  imap: {
    host: '127.0.0.1',
    port: env.mail.imapPort,
    secure: false,
    user,
    pass: `\${FAULTS_${user.toUpperCase()}_PASS}`,
  },
  authservId: 'mx.example.test',
  ...extra,
});
const fakeSeed = (port: number) => ({
  name: 'seed-fake',
  address: 'carol@example.test',
  imap: { host: '127.0.0.1', port, secure: false, user: 'carol', pass: '${FAULTS_FAKE_PASS}' },
});
const dnsQuery = { queryTimeout: '300ms', queryRetries: 1, serials: false };

export const FAULT_MATRIX: FaultRow[] = [
  // ---- http ---------------------------------------------------------------------------------------
  probeRow({
    kind: 'http',
    fault: 'connection refused',
    source: 'closed port',
    status: 'fail',
    code: 'CONNECT',
    message: /ECONNREFUSED/,
    probe: (env) => ({ url: `http://127.0.0.1:${env.closed}/health`, timeout: '3s' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'reset mid-body (Content-Length)',
    source: 'Node HTTP server, RST after 15 of 1000 bytes',
    status: 'fail',
    code: 'PROTOCOL',
    message: /body length does not match/,
    probe: (env) => ({ url: env.resetMidBody, timeout: '3s' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'reset mid-body (chunked)',
    source: 'Node HTTP server, RST inside a chunked body',
    status: 'fail',
    code: 'PROTOCOL',
    message: /malformed response/,
    fixed: 'INTERNAL ("Response does not match the HTTP/1.1 protocol"), logged as a scaiprobe bug',
    probe: (env) => ({ url: env.resetMidChunked, timeout: '3s' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'timeout while connecting',
    source: 'listener that never accepts, backlog full',
    status: 'fail',
    code: 'TIMEOUT',
    message: /\(connecting to 127\.0\.0\.1:\d+\)/,
    fixed: 'the message named no phase; the hanging connect was left open after the run',
    probe: (env) => ({ url: `http://127.0.0.1:${env.blackhole}/health`, timeout: '1500ms' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'timeout in the TLS handshake',
    source: 'TCP server that never speaks',
    status: 'fail',
    code: 'TIMEOUT',
    message: /\(in the TLS handshake with 127\.0\.0\.1:\d+\)/,
    fixed: 'the message named no phase',
    probe: (env) => ({ url: `https://127.0.0.1:${env.silent}/health`, timeout: '1500ms' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'timeout waiting for the first byte',
    source: 'TCP server that never answers',
    status: 'fail',
    code: 'TIMEOUT',
    message: /\(waiting for the first byte from 127\.0\.0\.1:\d+\)/,
    fixed: 'the message named no phase',
    probe: (env) => ({ url: `http://127.0.0.1:${env.silent}/health`, timeout: '1500ms' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'timeout reading the body',
    source: 'Node HTTP server, body stalls',
    status: 'fail',
    code: 'TIMEOUT',
    message: /\(reading the body from 127\.0\.0\.1:\d+\)/,
    fixed: 'the message named no phase',
    probe: (env) => ({ url: env.stallMidBody, timeout: '1500ms' }),
  }),
  probeRow({
    kind: 'http',
    fault: '503',
    source: 'Node HTTP server',
    status: 'fail',
    code: null,
    message: /failed: status < 400 \(actual: 503\)/,
    probe: (env) => ({ url: env.status503, timeout: '3s' }),
  }),
  probeRow({
    kind: 'http',
    fault: '/health/ready degraded with 200',
    source: 'Node HTTP server: 200 {"status":"degraded","checks":{...,"pdns":"connection refused"}}',
    status: 'warn',
    code: null,
    message: /degraded: pdns: connection refused — warning: HTTP 200 but checks failing: pdns/,
    fixed: 'pass',
    probe: (env) => ({ url: env.degraded200, timeout: '3s' }),
  }),
  probeRow({
    kind: 'http',
    fault: 'malformed JSON',
    source: 'Node HTTP server: {"status": ok}',
    status: 'fail',
    code: null,
    message: /body is not valid JSON .* failed: json\.status == "ok" \(actual: not observed\)/,
    probe: (env) => ({ url: env.malformedJson, timeout: '3s', expect: ['json.status == "ok"'] }),
    also: (run) => assert.equal(run.observations['json.valid'], false),
  }),
  probeRow({
    kind: 'http',
    fault: 'truncated JSON',
    source: 'Node HTTP server: {"status": "ok", "checks": {',
    status: 'fail',
    code: null,
    message: /body is not valid JSON/,
    probe: (env) => ({ url: env.truncatedJson, timeout: '3s', expect: ['json.status == "ok"'] }),
    also: (run) => assert.equal(run.observations['json.valid'], false),
  }),
  probeRow({
    kind: 'http',
    fault: 'TLS certificate expired',
    source: 'Node HTTPS server, test/fixtures/tls/expired-cert.pem',
    status: 'fail',
    code: 'TLS',
    message: /CERT_HAS_EXPIRED/,
    probe: (env) => ({ url: `https://127.0.0.1:${env.tlsExpired}/`, timeout: '3s', tls: { ca: env.testCa } }),
  }),
  probeRow({
    kind: 'http',
    fault: 'TLS certificate for another name',
    source: 'Node HTTPS server, certificate for localhost / 127.0.0.1, asked as 127.0.0.2',
    status: 'fail',
    code: 'TLS',
    message: /ERR_TLS_CERT_ALTNAME_INVALID/,
    probe: (env) => ({ url: `https://127.0.0.2:${env.tlsValid}/`, timeout: '3s', tls: { ca: env.testCa } }),
  }),
  probeRow({
    kind: 'http',
    fault: 'TLS certificate self-signed',
    source: 'Node HTTPS server, certificate made with openssl at test time',
    status: 'fail',
    code: 'TLS',
    message: /SELF_SIGNED/,
    probe: (env) => ({ url: `https://127.0.0.1:${env.tlsSelfSigned}/`, timeout: '3s' }),
  }),

  // ---- dns ----------------------------------------------------------------------------------------
  probeRow({
    kind: 'dns',
    fault: 'SERVFAIL',
    source: 'DNS fake',
    status: 'fail',
    code: null,
    message: /SERVFAIL.*failed: rcode == "NOERROR"/,
    probe: (env) => ({
      query: { name: 'servfail.example.test' },
      servers: [env.dnsFake],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'REFUSED',
    source: 'PowerDNS, a zone it does not serve',
    status: 'fail',
    code: null,
    message: /REFUSED.*failed: rcode == "NOERROR"/,
    probe: (env) => ({
      query: { name: 'www.other.test' },
      servers: [env.pdns.dns],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'reply cut short',
    source: 'DNS fake, answer cut inside its record',
    status: 'fail',
    code: 'PROTOCOL',
    message: /malformed reply .*cut short/,
    probe: (env) => ({
      query: { name: 'cut.example.test' },
      servers: [env.dnsFake],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'malformed reply',
    source: 'DNS fake, right id then noise',
    status: 'fail',
    code: 'PROTOCOL',
    message: /malformed reply/,
    probe: (env) => ({
      query: { name: 'garbage.example.test' },
      servers: [env.dnsFake],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'mismatched id',
    source: 'DNS fake, a good answer under another id',
    status: 'fail',
    code: 'TIMEOUT',
    message: /no answer from .* after 2 tries/,
    probe: (env) => ({
      query: { name: 'wrong-id.example.test' },
      servers: [env.dnsFake],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'no answer',
    source: 'DNS fake, silent',
    status: 'fail',
    code: 'TIMEOUT',
    message: /no answer from .* after 2 tries/,
    probe: (env) => ({
      query: { name: 'silent.example.test' },
      servers: [env.dnsFake],
      ...dnsQuery,
      expect: ['rcode == "NOERROR"'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'NOERROR without records',
    source: 'PowerDNS, a type the name lacks',
    status: 'fail',
    code: null,
    message: /NOERROR, 0 record\(s\).*failed: answers\.count > 0/,
    probe: (env) => ({
      query: { name: 'www.example.test', type: 'SRV' },
      servers: [env.pdns.dns],
      ...dnsQuery,
      expect: ['answers.count > 0'],
    }),
  }),
  probeRow({
    kind: 'dns',
    fault: 'truncated (TC), retried over TCP',
    source: 'PowerDNS, 30 TXT records of 90 bytes',
    status: 'pass',
    code: null,
    probe: (env) => ({
      query: { name: 'big.example.test', type: 'TXT' },
      servers: [env.pdns.dns],
      ...dnsQuery,
      expect: ['answers.count == 30'],
    }),
    also: (run, env) => assert.equal(run.observations[`transport.${env.pdns.dns}`], 'tcp'),
  }),
  probeRow({
    kind: 'dns',
    fault: 'truncated (TC), TCP refused',
    source: 'DNS fake, TC set, no TCP listener',
    status: 'fail',
    code: 'CONNECT',
    message: /ECONNREFUSED/,
    probe: (env) => ({ query: { name: 'truncated.example.test' }, servers: [env.dnsFake], ...dnsQuery }),
  }),

  // ---- mail ---------------------------------------------------------------------------------------
  probeRow({
    kind: 'mail',
    fault: 'IMAP login refused',
    source: 'Dovecot, wrong password',
    status: 'fail',
    code: 'AUTH',
    message: /IMAP login as alice@.* refused/,
    probe: (env) => ({
      timeout: '8s',
      send: { ...mailSend, api: env.mail.apiUrl },
      seeds: [{ ...seedOf(env, 'alice'), imap: { ...seedOf(env, 'alice').imap, pass: '${FAULTS_WRONG_PASS}' } }],
    }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'connection cut mid-IDLE, server gone',
    source: 'IMAP fake: IDLE cut, then connections refused',
    status: 'fail',
    code: 'CONNECT',
    message: /\(INBOX, idle\) closed while waiting for the probe message; reconnecting failed: .*ECONNREFUSED/,
    probe: (env) => ({ timeout: '8s', send: { ...mailSend, api: env.mail.apiUrl }, seeds: [fakeSeed(env.imapGone)] }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'connection cut mid-IDLE, again and again',
    source: 'IMAP fake: every IDLE cut',
    status: 'fail',
    code: 'CONNECT',
    message: /closed again while waiting for the probe message/,
    fixed: 'fail with no error code: the seed was reported "missing" after six reconnects',
    probe: (env) => ({
      timeout: '8s',
      send: { ...mailSend, api: env.mail.apiUrl },
      seeds: [fakeSeed(env.imapFlapping)],
    }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'spam folder deleted',
    source: 'Dovecot: a configured junkFolder deleted after a good run',
    status: 'fail',
    code: 'CONFIG',
    message: /folder Spam does not exist/,
    fixed: 'CONNECT, then PROTOCOL ("Command failed") on later runs, while a fresh start said CONFIG',
    probe: (env) => ({
      timeout: '20s',
      send: { ...mailSend, api: env.mail.apiUrl },
      seeds: [seedOf(env, 'bob', { junkFolder: 'Spam' })],
      expect: ['missing == 0'],
    }),
    async arrange(env, name) {
      await env.createFolder('bob', 'Spam');
      const good = await env.run(name);
      assert.equal(good.status, 'pass', `before the folder is deleted: ${good.message}`);
      await env.deleteFolder('bob', 'Spam');
    },
    timeoutMs: 90_000,
  }),
  probeRow({
    kind: 'mail',
    fault: 'SMTP 4xx on RCPT',
    source: 'smtp-server: 451',
    status: 'fail',
    code: 'PROTOCOL',
    message: /send refused: SMTP .* answered 451/,
    probe: (env) => ({
      timeout: '8s',
      send: { via: 'smtp', smtp: { host: '127.0.0.1', port: env.smtp451 }, from: 'probe@send.example.test' },
      seeds: [seedOf(env, 'alice')],
    }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'SMTP 5xx on RCPT',
    source: 'smtp-server: 550',
    status: 'fail',
    code: 'PROTOCOL',
    message: /send refused: SMTP .* answered 550/,
    probe: (env) => ({
      timeout: '8s',
      send: { via: 'smtp', smtp: { host: '127.0.0.1', port: env.smtp550 }, from: 'probe@send.example.test' },
      seeds: [seedOf(env, 'alice')],
    }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'API 401',
    source: 'ScaiSend stand-in, revoked key',
    status: 'fail',
    code: 'AUTH',
    message: /answered 401/,
    probe: (env) => ({
      timeout: '8s',
      send: { ...mailSend, api: env.mail.apiUrl, apiKey: '${FAULTS_WRONG_API_KEY}' },
      seeds: [seedOf(env, 'alice')],
    }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'API 413',
    source: 'Node HTTP server, SendGrid-style error body',
    status: 'fail',
    code: 'PROTOCOL',
    message: /answered 413: The request body is larger than the 30 MB limit/,
    probe: (env) => ({ timeout: '8s', send: { ...mailSend, api: env.api413 }, seeds: [seedOf(env, 'alice')] }),
  }),
  probeRow({
    kind: 'mail',
    fault: 'API 429',
    source: 'ScaiSend stand-in, send429',
    status: 'fail',
    code: 'PROTOCOL',
    message: /answered 429: too many requests \(rate limit resets: \d+\)/,
    probe: (env) => ({ timeout: '8s', send: { ...mailSend, api: env.mail.apiUrl }, seeds: [seedOf(env, 'alice')] }),
    arrange: (env) => env.mail.setFaults({ send429: true }),
    restore: (env) => env.mail.clearFaults(),
  }),
  probeRow({
    kind: 'mail',
    fault: 'API 5xx',
    source: 'ScaiSend stand-in, send5xx 503',
    status: 'fail',
    code: 'PROTOCOL',
    message: /answered 503/,
    probe: (env) => ({ timeout: '8s', send: { ...mailSend, api: env.mail.apiUrl }, seeds: [seedOf(env, 'alice')] }),
    arrange: (env) => env.mail.setFaults({ send5xx: 503 }),
    restore: (env) => env.mail.clearFaults(),
  }),

  // ---- queue --------------------------------------------------------------------------------------
  probeRow({
    kind: 'queue',
    fault: 'Redis down',
    source: 'closed port',
    status: 'fail',
    code: 'CONNECT',
    message: /ECONNREFUSED/,
    probe: (env) => ({ redis: `redis://127.0.0.1:${env.closed}`, keys: ['email:process'], timeout: '3s' }),
  }),
  probeRow({
    kind: 'queue',
    fault: 'key of the wrong type',
    source: 'Redis, a string where a list is read',
    status: 'fail',
    code: null,
    message: /failed: depth\.errors == 0 \(actual: 1\) — warning: email:process: WRONGTYPE/,
    probe: (env) => ({
      redis: `redis://127.0.0.1:${env.redis.plain}`,
      keys: ['email:process', 'smtp:deliver'],
      timeout: '3s',
    }),
    also: (run) => assert.equal(run.observations['depth.smtp:deliver'], 2),
  }),
  probeRow({
    kind: 'queue',
    fault: 'password refused',
    source: 'Redis with requirepass',
    status: 'fail',
    code: 'AUTH',
    message: /WRONGPASS/,
    fixed: 'CONNECT "Connection is closed." (the refusal came as an error event and was dropped)',
    probe: (env) => ({
      redis: `redis://127.0.0.1:${env.redis.auth}`,
      password: '${FAULTS_REDIS_PASSWORD}',
      keys: ['email:process'],
      timeout: '3s',
    }),
  }),

  // ---- zone-sync ----------------------------------------------------------------------------------
  probeRow({
    kind: 'zone-sync',
    fault: 'PowerDNS API 401',
    source: 'PowerDNS, wrong X-API-Key',
    status: 'fail',
    code: 'AUTH',
    message: /PowerDNS API refused the credentials \(401\)/,
    probe: (env) => ({
      powerdns: { api: env.pdns.api, apiKey: '${FAULTS_WRONG_PDNS_KEY}', zone: 'example.test' },
      servers: [env.pdns.dns],
      timeout: '5s',
    }),
  }),
  probeRow({
    kind: 'zone-sync',
    fault: 'PowerDNS API 404',
    source: 'PowerDNS, a zone it does not have',
    status: 'fail',
    code: 'PROTOCOL',
    message: /PowerDNS API answered 404/,
    probe: (env) => ({
      powerdns: { api: env.pdns.api, apiKey: '${FAULTS_PDNS_KEY}', zone: 'missing.test' },
      servers: [env.pdns.dns],
      timeout: '5s',
    }),
  }),

  // ---- prometheus, stats --------------------------------------------------------------------------
  probeRow({
    kind: 'prometheus',
    fault: 'exposition garbage',
    source: 'Node HTTP server: a label set left open, then HTML',
    status: 'fail',
    code: 'PROTOCOL',
    message: /metrics line 3: expected , or \} after label path/,
    probe: (env) => ({ url: env.promGarbage, timeout: '3s', warmup: '200ms', expect: ['rate5m(x_total) < 1'] }),
  }),
  probeRow({
    kind: 'prometheus',
    fault: 'metrics page 500',
    source: 'Node HTTP server',
    status: 'fail',
    code: 'PROTOCOL',
    message: /answered HTTP 500, not a metrics page/,
    probe: (env) => ({ url: env.prom500, timeout: '3s', expect: ['x_total < 1'] }),
  }),
  probeRow({
    kind: 'stats',
    fault: 'a day that is not an object',
    source: 'Node HTTP server: /v3/stats answers [null]',
    status: 'fail',
    code: 'PROTOCOL',
    message: /expected \{date, stats: \[\.\.\.\]\} per day, got null/,
    fixed: 'INTERNAL (a TypeError in the kind)',
    probe: (env) => ({ api: env.statsOdd, apiKey: '${FAULTS_API_KEY}', timeout: '3s' }),
  }),

  // ---- browser ------------------------------------------------------------------------------------
  probeRow({
    kind: 'browser',
    fault: 'Chromium killed mid-run',
    source: "Debian's Chromium, SIGKILL while a page loads",
    status: 'fail',
    code: 'INTERNAL',
    message: /Chromium exited during the run/,
    fixed: 'fail with no error code: "step 1 failed", as if the page were at fault',
    probe: (env) => ({
      steps: [{ goto: `${env.slowPage}/slow` }, { expectText: 'Welcome' }],
      screenshots: { dir: `${env.temp}/shots` },
      timeout: '60s',
    }),
    async act(env, name) {
      const requested = env.slowPageRequested();
      const running = env.run(name);
      await requested;
      assert.ok(env.killChromium().length > 0, 'a Chromium process to kill');
      const run = await running;
      // The next run starts a new Chromium and passes.
      const next = await env.run(name);
      assert.equal(next.status, 'pass', `the run after the crash: ${next.message}`);
      return run;
    },
    timeoutMs: 150_000,
  }),

  // ---- alert receivers ----------------------------------------------------------------------------
  webhookRow({
    fault: 'receiver answers 500',
    source: 'Node HTTP server',
    lastStatus: 500,
    lastError: /^HTTP 500$/,
    url: (env) => env.hook.status500,
  }),
  webhookRow({
    fault: 'receiver answers 429 with Retry-After',
    source: 'Node HTTP server, Retry-After: 7',
    lastStatus: 429,
    lastError: /^HTTP 429$/,
    url: (env) => env.hook.status429,
    // Retry-After is honoured: the next attempt is 7 s away, not the hour of the configured backoff.
    also: (row) =>
      assert.ok(
        row.nextAttemptAt - row.createdAt >= 7000 && row.nextAttemptAt - row.createdAt < 60_000,
        `next attempt ${row.nextAttemptAt - row.createdAt} ms after creation`,
      ),
  }),
  webhookRow({
    fault: 'receiver never answers',
    source: 'Node HTTP server that holds the request',
    lastStatus: null,
    lastError: /timeout|aborted/i,
    url: (env) => env.hook.silent,
    timeout: '500ms',
  }),
  webhookRow({
    fault: 'receiver redirects',
    source: 'Node HTTP server, 302 to another receiver',
    lastStatus: 302,
    lastError: /^HTTP 302 \(redirect to http:\/\/127\.0\.0\.1:\d+\/hook, not followed\)$/,
    fixed: 'the row said only "HTTP 302"',
    url: (env) => env.hook.redirect,
    also: (_row, env) => assert.equal(env.hook.redirectTargetHits, 0, 'the signed body did not follow the redirect'),
  }),
];
