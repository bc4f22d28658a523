// Sending a probe message: through ScaiSend's API or by SMTP submission.
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { HttpClient } from '../http/client.ts';
import { ProbeFailure, classifyNetworkError } from '../../core/errors.ts';
import { contextTrusting, plaintextReason, requiresTls } from '../tls/policy.ts';
import type { Clock } from '../../util/clock.ts';

/** What a probe message carries; the same for both send paths. */
export interface ProbeMessage {
  token: string;
  from: string;
  fromName?: string;
  to: Array<{ seed: string; address: string }>;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  /** Ask ScaiSend to track clicks / opens (tracking_settings; API path only). */
  tracking?: { clicks: boolean; opens: boolean };
}

export interface SendOutcome {
  /** Epoch ms of the acceptance (the 202, or the SMTP 250 after DATA). */
  acceptedAt: number;
  latencyMs: number;
  status: number;
  /** X-Message-Id (API) or the SMTP server's queue id / our Message-ID. */
  messageId: string | null;
  /** Set when SMTP credentials went unencrypted (allowed by requireTLS: false or a loopback address), for the run message. */
  plaintext?: string;
}

export interface ApiTarget {
  api: string;
  apiKey: string;
}

export interface SmtpTarget {
  host: string;
  port: number;
  secure: boolean;
  /** Unset: required when credentials are sent, unless the host is a loopback address (see requiresTls). */
  requireTLS?: boolean;
  tls?: { insecure: boolean; ca?: string | undefined; servername?: string | undefined };
  user?: string;
  pass?: string;
}

/** The error text of a SendGrid-style answer: `errors[].message` (with field), else the body's start. */
export function apiErrorText(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as {
      errors?: Array<{ message?: string; field?: string | null }>;
      error?: string;
      message?: string;
    };
    const messages = (parsed.errors ?? [])
      .map((e) => (e.field ? `${e.field}: ${e.message ?? ''}` : (e.message ?? '')))
      .filter(Boolean);
    if (messages.length > 0) return messages.join('; ');
    if (typeof parsed.error === 'string') return parsed.error;
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    /* not JSON: fall through to the raw text */
  }
  return text.trim().slice(0, 300) || '(empty body)';
}

/** SendGrid v3 body: one personalization per seed, the token in custom_args. */
export function sendGridBody(message: ProbeMessage): Record<string, unknown> {
  return {
    personalizations: message.to.map((recipient) => ({
      to: [{ email: recipient.address }],
      custom_args: { scaiprobe_id: message.token, scaiprobe_seed: recipient.seed },
    })),
    from: message.fromName ? { email: message.from, name: message.fromName } : { email: message.from },
    subject: message.subject,
    content: [
      { type: 'text/plain', value: message.text },
      { type: 'text/html', value: message.html },
    ],
    headers: message.headers,
    categories: ['scaiprobe'],
    custom_args: { scaiprobe_id: message.token },
    ...(message.tracking
      ? {
          tracking_settings: {
            click_tracking: { enable: message.tracking.clicks },
            open_tracking: { enable: message.tracking.opens },
          },
        }
      : {}),
  };
}

/** POST {api}/v3/mail/send; anything but 2xx fails with the API's own error text. */
export async function sendViaApi(
  target: ApiTarget,
  message: ProbeMessage,
  deps: { http: HttpClient; clock: Clock; signal: AbortSignal },
): Promise<SendOutcome> {
  const url = `${target.api.replace(/\/+$/, '')}/v3/mail/send`;
  const started = deps.clock.monotonic();
  const response = await deps.http.request({
    url,
    method: 'POST',
    headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(sendGridBody(message)),
    signal: deps.signal,
    maxRedirects: 0,
  });
  const latencyMs = Math.round(deps.clock.monotonic() - started);
  if (response.status >= 200 && response.status < 300) {
    return {
      acceptedAt: deps.clock.now(),
      latencyMs,
      status: response.status,
      messageId: response.headers['x-message-id'] ?? null,
    };
  }
  let detail = apiErrorText(response.body);
  if (response.status === 429) {
    const reset = response.headers['x-ratelimit-reset'] ?? response.headers['retry-after'];
    if (reset) detail += ` (rate limit resets: ${reset})`;
  }
  const code = response.status === 401 || response.status === 403 ? 'AUTH' : 'PROTOCOL';
  throw new ProbeFailure(code, `send refused: POST ${url} answered ${response.status}: ${detail}`);
}

/**
 * SMTP submission with nodemailer's SMTP connection: EHLO, STARTTLS (required
 * when credentials are sent, see requiresTls; else whenever offered), AUTH when
 * configured and offered, the message. The connection rather than a transport,
 * because only it tells whether the session was encrypted.
 */
export async function sendViaSmtp(
  target: SmtpTarget,
  message: ProbeMessage,
  deps: { clock: Clock; signal: AbortSignal },
): Promise<SendOutcome> {
  const [{ default: Connection }, { default: MailComposer }] = await Promise.all([
    import('nodemailer/lib/smtp-connection'),
    import('nodemailer/lib/mail-composer'),
  ]);
  const mime = new MailComposer({
    from: message.fromName ? { name: message.fromName, address: message.from } : message.from,
    to: message.to.map((recipient) => recipient.address),
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: message.headers,
  }).compile();
  const raw = await mime.build();
  const connection = new Connection(connectionOptions(target));
  const where = `SMTP ${target.host}:${target.port}`;
  const started = deps.clock.monotonic();
  const abort = () => connection.close();
  deps.signal.addEventListener('abort', abort, { once: true });
  try {
    const { loggedIn, secure } = await submit(connection, mime.getEnvelope(), raw, target);
    const latencyMs = Math.round(deps.clock.monotonic() - started);
    connection.quit();
    const plaintext =
      loggedIn && !secure
        ? `${where} offers no STARTTLS: the credentials went unencrypted (${plaintextReason(target)})`
        : undefined;
    return {
      acceptedAt: deps.clock.now(),
      latencyMs,
      status: 250,
      messageId: mime.messageId(),
      ...(plaintext ? { plaintext } : {}),
    };
  } catch (error) {
    throw smtpFailure(error, target, where, deps.signal);
  } finally {
    deps.signal.removeEventListener('abort', abort);
    connection.close();
  }
}

/** How to reach the target: STARTTLS required when credentials are sent (see requiresTls), its trust and timeouts. */
function connectionOptions(target: SmtpTarget): SMTPConnection.Options {
  const requireTLS = requiresTls({
    requireTLS: target.requireTLS,
    host: target.host,
    credentials: target.user !== undefined,
  });
  return {
    host: target.host,
    port: target.port,
    secure: target.secure,
    requireTLS,
    tls: {
      rejectUnauthorized: !target.tls?.insecure,
      ...(target.tls?.ca ? { secureContext: contextTrusting(target.tls.ca) } : {}),
      ...(target.tls?.servername ? { servername: target.tls.servername } : {}),
    },
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  };
}

/** What went wrong in an SMTP session, as the probe reports it: deadline, login, STARTTLS, refusal, TLS or network. */
function smtpFailure(error: unknown, target: SmtpTarget, where: string, signal: AbortSignal): ProbeFailure {
  if (signal.aborted)
    return new ProbeFailure('TIMEOUT', 'run deadline reached while sending over SMTP', { cause: error });
  const smtp = error as SMTPConnection.SMTPError;
  if (smtp.code === 'EAUTH')
    return new ProbeFailure('AUTH', `${where} refused the login: ${smtp.response ?? smtp.message}`, { cause: error });
  if (smtp.code === 'ETLS' && smtp.command === 'STARTTLS' && smtp.responseCode) {
    const why = target.requireTLS === undefined ? 'requireTLS, the default when credentials are sent' : 'requireTLS';
    return new ProbeFailure(
      'TLS',
      `${where} offers no STARTTLS (it answered ${smtp.response}), and nothing is sent unencrypted (${why}; set requireTLS: false to send anyway)`,
      { cause: error },
    );
  }
  if (smtp.responseCode)
    return new ProbeFailure('PROTOCOL', `send refused: ${where} answered ${smtp.response ?? smtp.responseCode}`, {
      cause: error,
    });
  if (smtp.code === 'ETLS') return new ProbeFailure('TLS', `${where}: ${smtp.message}`, { cause: error });
  const failure = classifyNetworkError(error, signal);
  return new ProbeFailure(failure.code === 'INTERNAL' ? 'CONNECT' : failure.code, `${where}: ${failure.message}`, {
    cause: error,
  });
}

/** Connects, logs in (when a user is configured and the server offers AUTH) and sends; any error of the session rejects. */
function submit(
  connection: SMTPConnection,
  envelope: SMTPConnection.Envelope,
  raw: Buffer,
  target: SmtpTarget,
): Promise<{ loggedIn: boolean; secure: boolean }> {
  return new Promise((resolve, reject) => {
    connection.once('error', reject);
    connection.once('end', () => reject(new Error('the server closed the connection')));
    connection.connect((error) => {
      if (error) return reject(error);
      const secure = connection.secure;
      const send = (loggedIn: boolean) =>
        connection.send(envelope, raw, (sendError) => (sendError ? reject(sendError) : resolve({ loggedIn, secure })));
      // As nodemailer's transport: AUTH only when offered (a server that wants it then refuses the MAIL FROM).
      const offersAuth = (connection as unknown as { allowsAuth?: boolean }).allowsAuth === true;
      if (target.user === undefined || !offersAuth) return send(false);
      connection.login({ user: target.user, pass: target.pass ?? '' }, (loginError) =>
        loginError ? reject(loginError) : send(true),
      );
    });
  });
}
