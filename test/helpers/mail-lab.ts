import { readFile } from 'node:fs/promises';
import pino from 'pino';
import { ImapFlow } from 'imapflow';
import { systemClock } from '../../src/util/clock.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import { Redactor } from '../../src/util/redact.ts';
import { runProbe } from '../../src/runner/run-probe.ts';
import type { RunRecord } from '../../src/store/types.ts';
import type { CommonProbeSpec } from '../../src/core/probe.ts';
import type { Prober, ProberDeps } from '../../src/probers/kind.ts';
import type { RecordedItems } from '../../src/core/probe.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';
import { specFor } from './probe-run.ts';
import { mailKind } from '../../src/probers/mail.ts';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import { startMailLab, type RunningMailLab } from '../../src/lab/mail-lab.ts';
import { freePort, makeTempDir } from '../../src/lab/processes.ts';
import { DEFAULT_LAB_PORTS } from '../../src/lab/lab.ts';
import type { LabApp } from '../../src/lab/http-app.ts';

export const USERS = { alice: 'alicepw', bob: 'bobpw', carol: 'carolpw' };
/** The submission ingress's SMTP AUTH user. */
export const SUBMISSION_USER = { user: 'submit', pass: 'submitpw' };
const TLS_FIXTURES = new URL('../fixtures/tls/', import.meta.url);

export interface TestMailLab {
  lab: RunningMailLab;
  scaisend: LabApp;
  apiUrl: string;
  imapPort: number;
  smtpPort: number;
  /** The submission ingress (STARTTLS with test/fixtures/tls/valid-cert.pem, AUTH as SUBMISSION_USER). */
  submissionPort: number;
  /** PEM of the CA that signed the submission ingress's certificate. */
  testCa: string;
  /** `127.0.0.1:<port>` of the PowerDNS with the sending domains: the mail probe's `resolver`. */
  dnsServer: string;
  setFaults(faults: Record<string, unknown>): void;
  clearFaults(): void;
  stop(): Promise<void>;
}

/**
 * A private Dovecot + ingress + ScaiSend stand-in on free ports, in a fresh directory;
 * with `imapTls`, Dovecot offers STARTTLS with test/fixtures/tls/valid-cert.pem.
 */
export async function startTestMailLab(
  users: Record<string, string> = USERS,
  options: { imapTls?: boolean } = {},
): Promise<TestMailLab> {
  const temp = await makeTempDir('scaiprobe-mail-');
  const scaisend = createScaiSendStandIn();
  const ports = { ...DEFAULT_LAB_PORTS, imap: await freePort(), smtp: await freePort() };
  const submissionPort = await freePort();
  let lab: RunningMailLab | undefined;
  try {
    const [key, cert, testCa] = await Promise.all(
      ['server-key.pem', 'valid-cert.pem', 'test-ca.pem'].map((file) => readFile(new URL(file, TLS_FIXTURES), 'utf8')),
    );
    const submission = {
      port: submissionPort,
      tls: { key: key ?? '', cert: cert ?? '' },
      users: { [SUBMISSION_USER.user]: SUBMISSION_USER.pass },
    };
    lab = await startMailLab({ dir: temp.dir, ports, scaisend }, users, {
      submission,
      ...(options.imapTls ? { imapTls: submission.tls } : {}),
    });
    const { url } = await scaisend.listen(0);
    const running = lab;
    return {
      lab: running,
      scaisend,
      apiUrl: url,
      imapPort: ports.imap,
      smtpPort: ports.smtp,
      submissionPort,
      testCa: testCa ?? '',
      dnsServer: `127.0.0.1:${running.dnsPort}`,
      setFaults: (faults) => Object.assign(scaisend.faults, faults),
      clearFaults: () => {
        for (const key of Object.keys(scaisend.faults)) delete scaisend.faults[key];
      },
      async stop() {
        await scaisend.close().catch(() => undefined);
        await running.stop().catch(() => undefined);
        await temp.remove();
      },
    };
  } catch (error) {
    await lab?.stop().catch(() => undefined);
    await scaisend.close().catch(() => undefined);
    await temp.remove();
    throw error;
  }
}

export function seed(
  name: string,
  user: string,
  imapPort: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    address: `${user}@example.test`,
    imap: { host: '127.0.0.1', port: imapPort, secure: false, user, pass: USERS[user as keyof typeof USERS] },
    authservId: 'mx.example.test',
    ...extra,
  };
}

/**
 * A mail probe spec, built by the loader (see specFor). Without a `resolver` (a
 * test lab's dnsServer), our own verification is off: the system's resolver is
 * never asked from a test.
 */
export function mailSpec(
  raw: Record<string, unknown>,
  options: { name?: string; timeoutMs?: number; expect?: string[] } = {},
) {
  const verify = raw.resolver === undefined && raw.verify === undefined ? { verify: { enabled: false } } : {};
  return specFor(
    mailKind,
    { name: options.name ?? 'mail-test', timeout: `${options.timeoutMs ?? 15_000}ms`, ...verify, ...raw },
    options.expect ?? [],
  );
}

/** A prober's dependencies; `recorded` is what it reads of other probes' runs (see `run`). */
export function deps(recorded: RecordedItems = new RecentItems()): ProberDeps {
  return { clock: systemClock, logger: pino({ level: 'silent' }), http: createHttpClient(), recorded };
}

/** One run through the real runner (deadline, error conversion, assertions); its items go to `recent` as the engine keeps them. */
export async function run(spec: CommonProbeSpec, prober: Prober, recent?: RecentItems): Promise<RunRecord> {
  const d = deps();
  const record = await runProbe(spec, prober, { ...d, redactor: new Redactor([]) });
  recent?.remember(record);
  return record;
}

/** Every message (folder, subject) in a user's mailbox, read over IMAP. */
export async function mailboxContents(
  imapPort: number,
  user: keyof typeof USERS,
): Promise<Array<{ folder: string; subject: string }>> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: imapPort,
    secure: false,
    auth: { user, pass: USERS[user] },
    logger: false,
  });
  await client.connect();
  const found: Array<{ folder: string; subject: string }> = [];
  try {
    for (const folder of await client.list()) {
      const lock = await client.getMailboxLock(folder.path);
      try {
        if (client.mailbox && client.mailbox.exists > 0) {
          for (const message of await client.fetchAll('1:*', { envelope: true }))
            found.push({ folder: folder.path, subject: message.envelope?.subject ?? '' });
        }
      } finally {
        lock.release();
      }
    }
  } finally {
    await client.logout();
  }
  return found;
}

/** Puts a raw RFC 5322 message into a user's folder, as a delivery from anyone would. */
export async function appendMessage(
  imapPort: number,
  user: keyof typeof USERS,
  raw: string,
  folder = 'INBOX',
): Promise<void> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: imapPort,
    secure: false,
    auth: { user, pass: USERS[user] },
    logger: false,
  });
  await client.connect();
  try {
    await client.append(folder, raw);
  } finally {
    await client.logout();
  }
}
