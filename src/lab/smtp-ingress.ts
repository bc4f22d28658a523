// The lab's SMTP ingress: receives mail as an MX (or submission port), stamps the verifier's Authentication-Results, delivers to Dovecot.
import { EventEmitter } from 'node:events';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { Faults } from './http-app.ts';

/** What the lab's receiving provider does with a message, switched at run time (the ScaiSend stand-in's faults). */
export interface MailFaults {
  /** Deliver to the Junk folder instead of INBOX. */
  mailJunk?: boolean;
  /** Deliver to this folder (e.g. "Trash"), whatever mailJunk says. */
  mailFolder?: string;
  /** The stand-in alters the body after signing: DKIM fails, and so DMARC (the bounce domain is not aligned). */
  mailDkimFail?: boolean;
  /** The stand-in signs as its own domain, not the From domain: DKIM passes, DMARC fails. */
  mailDmarcFail?: boolean;
  /** The DMARC policy the sending domains publish (default none). */
  mailDmarcPolicy?: string;
  /** The stand-in relays from 127.0.0.2, an address the SPF records do not list. */
  mailSpfFail?: boolean;
  /** The MX ingress's STARTTLS presents an expired certificate, or one for another name. */
  mxCertificate?: 'expired' | 'wrong-name';
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

/** What the SMTP session said about the sender, for SPF. */
export interface SmtpEnvelope {
  ip: string;
  helo: string;
  mailFrom: string;
}

export interface IngressOptions {
  port: number;
  authservId: string;
  /** The Authentication-Results header (with its CRLF) to put on top of a message; rejects when it cannot be judged. */
  authenticate(message: Buffer, envelope: SmtpEnvelope): Promise<string>;
  /** Receives a message for a user into a folder (dovecot-lda); rejects with exitCode 67 for an unknown user. */
  deliver(user: string, folder: string, message: Buffer, envelopeFrom: string): Promise<void>;
  faults: () => Faults;
  /** Offer STARTTLS with this key and certificate (PEM); without, STARTTLS is not offered. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Chooses the key and certificate at each handshake (a fault switch), instead of `tls` alone. */
  tlsNow?: () => { key: string | Buffer; cert: string | Buffer };
  /**
   * Require AUTH PLAIN / LOGIN with these users (user -> password), as a
   * submission service does; with `tls`, AUTH is offered only after STARTTLS.
   * Without, AUTH is not offered and anyone may send (an MX).
   */
  users?: Record<string, string>;
}

/** An SNI callback that asks `choose` which key and certificate to present, every handshake. */
function certificateChooser(choose: NonNullable<IngressOptions['tlsNow']>) {
  return (_servername: string, callback: (error: Error | null, context?: tls.SecureContext) => void) => {
    try {
      callback(null, tls.createSecureContext(choose()));
    } catch (error) {
      callback(error as Error);
    }
  };
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

/** The trace header an MTA adds (RFC 5321 section 4.4), below the Authentication-Results and the Return-Path the delivery adds: where the message came from. */
function receivedHeader(authservId: string, session: SMTPServerSession): string {
  const protocol = session.secure ? 'ESMTPS' : 'ESMTP';
  return (
    `Received: from ${session.hostNameAppearsAs} ([${session.remoteAddress}])\r\n` +
    `\tby ${authservId} with ${protocol} id ${session.id}; ${new Date().toUTCString().replace('GMT', '+0000')}\r\n`
  );
}

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** Judges one message, stores a copy per recipient and emits 'stored' for each; rejects with the SMTP error to answer. */
async function receive(
  options: IngressOptions,
  events: EventEmitter,
  session: SMTPServerSession,
  message: Buffer,
): Promise<void> {
  const faults = options.faults() as MailFaults;
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const envelope = { ip: session.remoteAddress, helo: session.hostNameAppearsAs, mailFrom };
  const header = await options.authenticate(message, envelope).catch((error: unknown) => {
    throw smtpError(`4.7.0 ${(error as Error).message}`, 451);
  });
  const trace = `Return-Path: <${mailFrom}>\r\n${receivedHeader(options.authservId, session)}`;
  const stamped = Buffer.concat([Buffer.from(header + trace), message]);
  const folder = typeof faults.mailFolder === 'string' ? faults.mailFolder : faults.mailJunk ? 'Junk' : 'INBOX';
  const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address.split('@')[0]?.toLowerCase() ?? '');
  const settled = await Promise.allSettled(recipients.map((user) => options.deliver(user, folder, stamped, mailFrom)));
  const failed = settled.filter((result) => result.status === 'rejected');
  if (failed.length === settled.length && failed.length > 0) {
    const reason = (failed[0] as PromiseRejectedResult).reason as { exitCode?: number; message?: string };
    if (reason.exitCode === 67) throw smtpError('5.1.1 user unknown', 550);
    throw smtpError(`4.3.0 delivery failed: ${reason.message}`, 451);
  }
  const block = headerBlock(message);
  const common = {
    folder,
    messageId: headerValue(block, 'Message-ID'),
    subject: headerValue(block, 'Subject'),
    at: performance.now(),
    epochAt: Date.now(),
    greeting: session.openingCommand,
    tls: session.secure,
    authUser: typeof session.user === 'string' ? session.user : undefined,
  };
  recipients.forEach((user, index) => {
    if (settled[index]?.status === 'fulfilled') events.emit('stored', { user, ...common } satisfies StoredMessage);
  });
}

/**
 * The SMTP ingress of the lab's mailbox provider: accepts mail on 127.0.0.1,
 * adds the Authentication-Results `authenticate` gives and stores each recipient's copy with
 * dovecot-lda before answering 250 (so 250 means stored).
 */
export async function startSmtpIngress(options: IngressOptions): Promise<RunningIngress> {
  const events = new EventEmitter();
  const users = options.users;
  const server = new SMTPServer({
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(users ? [] : ['AUTH'])],
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    ...(options.tls && options.tlsNow ? { SNICallback: certificateChooser(options.tlsNow) } : {}),
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
        receive(options, events, session, Buffer.concat(chunks)).then(() => callback(), callback);
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
