// The lab's mail part: Dovecot with an SMTP ingress in front, a verifier, the sending domains' DNS, and an optional submission port.
import { startDovecot, LAB_SEED_USERS, type RunningDovecot } from './dovecot.ts';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { LabComponent, LabContext } from './component.ts';
import type { LabZoneWriter } from './zone-writer.ts';
import type { Faults } from './http-app.ts';
import { startSmtpIngress, type IngressOptions, type MailFaults, type RunningIngress } from './smtp-ingress.ts';
import { makeDkimKeys, publishMailZones, type LabDkimKey, type LabMailDns } from './mail-dns.ts';
import { startMailVerifier, type MailVerifier } from './mail-verifier.ts';
import {
  createZone,
  labZoneRrsets,
  LAB_CHALLENGE_TOKEN,
  LAB_PDNS_API_KEY,
  LAB_ZONE,
  startPdns,
  zoneWriter,
} from './pdns.ts';
import { freePort } from './processes.ts';
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
  /** The PowerDNS port (127.0.0.1) with the sending domains' keys, SPF and DMARC. */
  dnsPort: number;
  /** The receiver's Authentication-Results for a message (what the ingresses stamp). */
  authenticate: IngressOptions['authenticate'];
  stop(): Promise<void>;
}

export interface SubmissionOptions {
  port: number;
  /** PEM key and certificate offered with STARTTLS. */
  tls: { key: string | Buffer; cert: string | Buffer };
  /** SMTP AUTH users (user -> password). */
  users: Record<string, string>;
}

type MailLabContext = Pick<LabContext, 'dir' | 'ports' | 'scaisend'> &
  Partial<Pick<LabContext, 'sendCounters' | 'dns'>>;

/**
 * The lab's PowerDNS when it runs (the whole lab), else a private one for the
 * mail lab alone (tests, benchmarks), which also serves example.test and an
 * empty test. as the whole lab does: DMARC's tree walk asks _dmarc.example.test
 * and _dmarc.test, which must not be refused.
 */
async function mailDnsServers(
  ctx: MailLabContext,
  keys: Promise<LabDkimKey[]>,
): Promise<{ writer: LabZoneWriter; stop(): Promise<void> }> {
  if (ctx.dns) return { writer: ctx.dns, stop: () => Promise.resolve() };
  const [dnsPort, apiPort] = [await freePort(), await freePort()];
  const dir = join(ctx.dir, 'mail-dns');
  const server = await startPdns({ dir, name: 'pdns-mail', dnsPort, apiPort, apiKey: LAB_PDNS_API_KEY });
  try {
    const rsa = (await keys).find((key) => key.algorithm === 'rsa-sha256');
    const zone = labZoneRrsets(LAB_CHALLENGE_TOKEN, rsa?.publicKey ?? '').forward;
    await createZone(server, LAB_PDNS_API_KEY, LAB_ZONE, zone);
    await createZone(server, LAB_PDNS_API_KEY, 'test.', []);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { writer: zoneWriter({ servers: [server], apiKey: LAB_PDNS_API_KEY }), stop: () => server.stop() };
}

/** The receiver's judgement: the published DMARC policy follows its switch, then the verifier reads message and DNS. */
function receiverVerdict(
  dns: LabMailDns,
  verifier: MailVerifier,
  faults: () => Faults,
): IngressOptions['authenticate'] {
  return async (message, envelope) => {
    const policy = (faults() as MailFaults).mailDmarcPolicy;
    await dns.setDmarcPolicy(typeof policy === 'string' ? policy.toLowerCase() : 'none');
    return verifier.verify(message, { dnsPort: dns.dnsPort, authservId: LAB_AUTHSERV_ID, ...envelope });
  };
}

/**
 * Dovecot with the seed users, the SMTP ingress that stores into it, and
 * /v3/mail/send relaying to the ingress; optionally a second ingress with
 * STARTTLS and AUTH (submission) storing into the same Dovecot, and IMAP STARTTLS.
 * Mail is DKIM-signed with keys made now and published in the lab's PowerDNS;
 * the ingress stamps what a verifier independent of scaiprobe finds.
 */
export async function startMailLab(
  ctx: MailLabContext,
  users: Record<string, string> = LAB_SEED_USERS,
  options: { submission?: SubmissionOptions; imapTls?: { key: string; cert: string } } = {},
): Promise<RunningMailLab> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const making = makeDkimKeys(ctx.dir);
    // Both started, or whichever did stopped again.
    const started = await Promise.allSettled([mailDnsServers(ctx, making), startMailVerifier()]);
    for (const part of started) if (part.status === 'fulfilled') stops.push(() => part.value.stop());
    const [dnsServers, verifier] = started.map((part) => {
      if (part.status === 'rejected') throw part.reason;
      return part.value;
    }) as [Awaited<ReturnType<typeof mailDnsServers>>, MailVerifier];
    const keys = await making;
    const dovecot = await startDovecot({
      dir: ctx.dir,
      port: ctx.ports.imap,
      users,
      ...(options.imapTls ? { tls: options.imapTls } : {}),
    });
    stops.push(() => dovecot.stop());
    const faults = () => ctx.scaisend.faults;
    const authenticate = receiverVerdict(await publishMailZones(dnsServers.writer, keys), verifier, faults);
    const common = { authservId: LAB_AUTHSERV_ID, authenticate, deliver: dovecot.deliver, faults };
    const ingress = await startSmtpIngress({ port: ctx.ports.smtp, ...common, ...mxTls(faults) });
    stops.push(() => ingress.stop());
    const submission = options.submission ? await startSmtpIngress({ ...common, ...options.submission }) : undefined;
    if (submission) stops.push(() => submission.stop());
    const send = mountMailSend(ctx.scaisend, {
      relayPort: ctx.ports.smtp,
      dkimKeys: keys,
      ...(ctx.sendCounters ? { counters: ctx.sendCounters } : {}),
    });
    stops.push(() => send.close());
    return { dovecot, ingress, submission, send, dnsPort: dnsServers.writer.dnsPort, authenticate, stop: stopAll };
  } catch (error) {
    await stopAll();
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

const LAB_TLS = new URL('./tls/', import.meta.url);
const pem = (name: string) => readFileSync(new URL(name, LAB_TLS), 'utf8');

/** The MX ingress's STARTTLS: the lab CA's certificate for inbound.example.test, or the one a fault switch picks. */
function mxTls(faults: () => Faults): Pick<IngressOptions, 'tls' | 'tlsNow'> {
  const material = {
    valid: { key: pem('lab-services.key'), cert: pem('lab-services.pem') },
    expired: { key: pem('lab-expired.key'), cert: pem('lab-expired.pem') },
    'wrong-name': { key: pem('lab-wrong-name.key'), cert: pem('lab-wrong-name.pem') },
  };
  return { tls: material.valid, tlsNow: () => material[(faults() as MailFaults).mxCertificate ?? 'valid'] };
}
