import { EventEmitter } from 'node:events';
import { SMTPServer } from 'smtp-server';
import type { Faults } from './http-app.ts';

/** What the lab's receiving provider does with a message, switched at run time (the ScaiSend stand-in's faults). */
export interface MailFaults {
  /** Deliver to the Junk folder instead of INBOX. */
  mailJunk?: boolean;
  /** Deliver to this folder (e.g. "Trash"), whatever mailJunk says. */
  mailFolder?: string;
  /** DKIM verification fails (dkim=fail, and so DMARC fails unless SPF aligns... it does not here: the lab's SPF is not aligned). */
  mailDkimFail?: boolean;
  /** DMARC fails whatever DKIM says. */
  mailDmarcFail?: boolean;
  /** The published DMARC policy the receiver reports (default none). */
  mailDmarcPolicy?: string;
}

export interface StoredMessage {
  user: string;
  folder: string;
  messageId: string | undefined;
  subject: string | undefined;
  /** performance.now() when the 250 (stored) was given. */
  at: number;
  /** Epoch milliseconds of the same moment. */
  epochAt: number;
  /** How the client opened the session (EHLO / HELO). */
  greeting: string;
  /** Whether the session was encrypted (STARTTLS) when the message came. */
  tls: boolean;
  /** The user the client logged in as (AUTH), if it did. */
  authUser: string | undefined;
}

export interface RunningIngress {
  port: number;
  /** Emits 'stored' (StoredMessage) per recipient when the 250 goes out. */
  events: EventEmitter;
  stop(): Promise<void>;
}

export interface IngressOptions {
  port: number;
  authservId: string;
  /** Receives a message for a user into a folder (dovecot-lda); rejects with exitCode 67 for an unknown user. */
  deliver(user: string, folder: string, message: Buffer, envelopeFrom: string): Promise<void>;
  faults: () => Faults;
  /** Offer STARTTLS with this key and certificate (PEM); without, STARTTLS is not offered. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Require AUTH PLAIN / LOGIN with these users (user -> password), as a
   * submission service does; with `tls`, AUTH is offered only after STARTTLS.
   * Without, AUTH is not offered and anyone may send (an MX).
   */
  users?: Record<string, string>;
}

function headerBlock(message: Buffer): string {
  const text = message.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
}

function headerValue(block: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(block);
  return match?.[1]?.trim();
}

function domainOf(address: string | undefined): string {
  const match = /@([^>\s]+)>?\s*$/.exec(address ?? '');
  return (match?.[1] ?? '').toLowerCase();
}

/** Relaxed alignment: one domain is the other or a subdomain of it. */
function aligned(a: string, b: string): boolean {
  return a !== '' && b !== '' && (a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`));
}

/**
 * The receiving provider's verdict, written by hand (the lab shares no code
 * with the parser that reads it): SPF always passes for the envelope sender,
 * DKIM passes when a DKIM-Signature is present, DMARC from alignment; faults
 * turn DKIM or DMARC into failures.
 */
export function buildAuthenticationResults(
  authservId: string,
  block: string,
  envelopeFrom: string,
  faults: MailFaults,
): string {
  const mailFrom = domainOf(envelopeFrom);
  const fromDomain = domainOf(headerValue(block, 'From'));
  const signature = headerValue(block, 'DKIM-Signature');
  const d = /(?:^|;)\s*d=([^;\s]+)/.exec(signature ?? '')?.[1]?.toLowerCase();
  const s = /(?:^|;)\s*s=([^;\s]+)/.exec(signature ?? '')?.[1]?.toLowerCase();
  const spf = mailFrom ? 'pass' : 'none';
  const dkim = !signature ? 'none' : faults.mailDkimFail ? 'fail' : 'pass';
  const dmarcPass =
    (dkim === 'pass' && aligned(d ?? '', fromDomain)) || (spf === 'pass' && aligned(mailFrom, fromDomain));
  const dmarc = faults.mailDmarcFail ? 'fail' : dmarcPass ? 'pass' : 'fail';
  const policy = faults.mailDmarcPolicy ?? 'none';
  const dkimPart = signature
    ? `dkim=${dkim} header.d=${d ?? ''} header.s=${s ?? ''}`
    : 'dkim=none (message not signed)';
  return (
    `Authentication-Results: ${authservId};\r\n` +
    `\tspf=${spf} (${authservId}: domain of ${envelopeFrom || 'postmaster'} designates 127.0.0.1 as permitted sender) smtp.mailfrom=${mailFrom || 'unknown'};\r\n` +
    `\t${dkimPart};\r\n` +
    `\tdmarc=${dmarc} (p=${policy.toUpperCase()} dis=NONE) header.from=${fromDomain || 'unknown'}\r\n`
  );
}

/**
 * The SMTP ingress of the lab's mailbox provider: accepts mail on 127.0.0.1,
 * adds its Authentication-Results and stores each recipient's copy with
 * dovecot-lda before answering 250 (so 250 means stored).
 */
export async function startSmtpIngress(options: IngressOptions): Promise<RunningIngress> {
  const events = new EventEmitter();
  const users = options.users;
  const server = new SMTPServer({
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(users ? [] : ['AUTH'])],
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    disableReverseLookup: true,
    authOptional: !users,
    authMethods: ['PLAIN', 'LOGIN'],
    // Credentials never cross an unencrypted session when TLS is there to be had.
    allowInsecureAuth: !options.tls,
    onAuth(auth, _session, callback) {
      if (
        users &&
        auth.username !== undefined &&
        users[auth.username] !== undefined &&
        users[auth.username] === auth.password
      ) {
        callback(null, { user: auth.username });
        return;
      }
      callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    logger: false,
    size: 40 * 1024 * 1024,
    banner: `${options.authservId} lab ingress`,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error) => callback(error));
      stream.on('end', () => {
        const message = Buffer.concat(chunks);
        const faults = options.faults() as MailFaults;
        const envelopeFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        const block = headerBlock(message);
        const stamped = Buffer.concat([
          Buffer.from(buildAuthenticationResults(options.authservId, block, envelopeFrom, faults)),
          message,
        ]);
        const folder = typeof faults.mailFolder === 'string' ? faults.mailFolder : faults.mailJunk ? 'Junk' : 'INBOX';
        const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address.split('@')[0]?.toLowerCase() ?? '');
        void Promise.allSettled(recipients.map((user) => options.deliver(user, folder, stamped, envelopeFrom))).then(
          (settled) => {
            const failed = settled.filter((result) => result.status === 'rejected');
            if (failed.length === settled.length && failed.length > 0) {
              const reason = (failed[0] as PromiseRejectedResult).reason as { exitCode?: number; message?: string };
              const error = Object.assign(
                new Error(reason.exitCode === 67 ? '5.1.1 user unknown' : `4.3.0 delivery failed: ${reason.message}`),
                {
                  responseCode: reason.exitCode === 67 ? 550 : 451,
                },
              );
              return callback(error);
            }
            const at = performance.now();
            const epochAt = Date.now();
            const how = {
              greeting: session.openingCommand,
              tls: session.secure,
              authUser: typeof session.user === 'string' ? session.user : undefined,
            };
            recipients.forEach((user, index) => {
              if (settled[index]?.status !== 'fulfilled') return;
              const stored: StoredMessage = {
                user,
                folder,
                messageId: headerValue(block, 'Message-ID'),
                subject: headerValue(block, 'Subject'),
                at,
                epochAt,
                ...how,
              };
              events.emit('stored', stored);
            });
            callback();
          },
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  server.on('error', () => undefined);
  return {
    port: options.port,
    events,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
