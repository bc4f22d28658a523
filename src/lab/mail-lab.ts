// The lab's mail part: Dovecot with an SMTP ingress in front, and an optional submission port.
import type { LabComponent, LabContext } from './component.ts';
import { startDovecot, LAB_SEED_USERS, type RunningDovecot } from './dovecot.ts';
import { startSmtpIngress, type RunningIngress } from './smtp-ingress.ts';
import { mountMailSend, LAB_API_KEYS, type MountedMailSend } from './mail-send.ts';

/** The lab mailbox provider's authserv-id (what seeds are configured to trust). */
export const LAB_AUTHSERV_ID = 'mx.example.test';

export interface RunningMailLab {
  dovecot: RunningDovecot;
  /** The MX: no STARTTLS, no AUTH (what /v3/mail/send relays to). */
  ingress: RunningIngress;
  /** The submission ingress (STARTTLS + AUTH), when asked for. */
  submission: RunningIngress | undefined;
  send: MountedMailSend;
  stop(): Promise<void>;
}

export interface SubmissionOptions {
  port: number;
  /** PEM key and certificate offered with STARTTLS. */
  tls: { key: string | Buffer; cert: string | Buffer };
  /** SMTP AUTH users (user -> password). */
  users: Record<string, string>;
}

type MailLabContext = Pick<LabContext, 'dir' | 'ports' | 'scaisend'> & Partial<Pick<LabContext, 'sendCounters'>>;

/**
 * Dovecot with the seed users, the SMTP ingress that stores into it, and
 * /v3/mail/send relaying to the ingress; optionally a second ingress with
 * STARTTLS and AUTH (submission) storing into the same Dovecot, and IMAP STARTTLS.
 */
export async function startMailLab(
  ctx: MailLabContext,
  users: Record<string, string> = LAB_SEED_USERS,
  options: { submission?: SubmissionOptions; imapTls?: { key: string; cert: string } } = {},
): Promise<RunningMailLab> {
  const dovecot = await startDovecot({
    dir: ctx.dir,
    port: ctx.ports.imap,
    users,
    ...(options.imapTls ? { tls: options.imapTls } : {}),
  });
  let ingress: RunningIngress | undefined;
  let submission: RunningIngress | undefined;
  try {
    ingress = await startSmtpIngress({
      port: ctx.ports.smtp,
      authservId: LAB_AUTHSERV_ID,
      deliver: dovecot.deliver,
      faults: () => ctx.scaisend.faults,
    });
    if (options.submission) {
      submission = await startSmtpIngress({
        port: options.submission.port,
        authservId: LAB_AUTHSERV_ID,
        deliver: dovecot.deliver,
        faults: () => ctx.scaisend.faults,
        tls: options.submission.tls,
        users: options.submission.users,
      });
    }
    const send = mountMailSend(ctx.scaisend, {
      relayPort: ctx.ports.smtp,
      ...(ctx.sendCounters ? { counters: ctx.sendCounters } : {}),
    });
    const running = ingress;
    const runningSubmission = submission;
    return {
      dovecot,
      ingress: running,
      submission: runningSubmission,
      send,
      async stop() {
        await send.close();
        await runningSubmission?.stop();
        await running.stop();
        await dovecot.stop();
      },
    };
  } catch (error) {
    await submission?.stop();
    await ingress?.stop();
    await dovecot.stop();
    throw error;
  }
}

export const mailLabComponent: LabComponent = {
  name: 'mail (Dovecot + SMTP ingress + /v3/mail/send)',
  async start(ctx) {
    const lab = await startMailLab(ctx);
    const users = Object.keys(LAB_SEED_USERS)
      .map((user) => `${user}@example.test`)
      .join(', ');
    return {
      stop: () => lab.stop(),
      describe: `IMAP 127.0.0.1:${ctx.ports.imap} (${users}), SMTP ingress 127.0.0.1:${ctx.ports.smtp}, API keys ${Object.keys(LAB_API_KEYS).join(', ')}`,
    };
  },
};
