import type { LabComponent, LabContext } from './lab.ts';
import { startDovecot, LAB_SEED_USERS, type RunningDovecot } from './dovecot.ts';
import { startSmtpIngress, type RunningIngress } from './smtp-ingress.ts';
import { mountMailSend, LAB_API_KEYS, type MountedMailSend } from './mail-send.ts';

/** The lab mailbox provider's authserv-id (what seeds are configured to trust). */
export const LAB_AUTHSERV_ID = 'mx.example.test';

export interface RunningMailLab {
  dovecot: RunningDovecot;
  ingress: RunningIngress;
  send: MountedMailSend;
  stop(): Promise<void>;
}

/** Dovecot with the seed users, the SMTP ingress that stores into it, and /v3/mail/send relaying to the ingress. */
export async function startMailLab(ctx: Pick<LabContext, 'dir' | 'ports' | 'scaisend'>, users: Record<string, string> = LAB_SEED_USERS): Promise<RunningMailLab> {
  const dovecot = await startDovecot({ dir: ctx.dir, port: ctx.ports.imap, users });
  let ingress: RunningIngress | undefined;
  try {
    ingress = await startSmtpIngress({
      port: ctx.ports.smtp,
      authservId: LAB_AUTHSERV_ID,
      deliver: dovecot.deliver,
      faults: () => ctx.scaisend.faults,
    });
    const send = mountMailSend(ctx.scaisend, { relayPort: ctx.ports.smtp });
    const running = ingress;
    return {
      dovecot,
      ingress: running,
      send,
      async stop() {
        await send.close();
        await running.stop();
        await dovecot.stop();
      },
    };
  } catch (error) {
    await ingress?.stop();
    await dovecot.stop();
    throw error;
  }
}

export const mailLabComponent: LabComponent = {
  name: 'mail (Dovecot + SMTP ingress + /v3/mail/send)',
  async start(ctx) {
    const lab = await startMailLab(ctx);
    const users = Object.keys(LAB_SEED_USERS).map((user) => `${user}@example.test`).join(', ');
    return {
      stop: () => lab.stop(),
      describe: `IMAP 127.0.0.1:${ctx.ports.imap} (${users}), SMTP ingress 127.0.0.1:${ctx.ports.smtp}, API keys ${Object.keys(LAB_API_KEYS).join(', ')}`,
    };
  },
};
