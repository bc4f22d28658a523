// An IMAP account as configured, and the account the IMAP client takes.
import { z } from 'zod';
import { tlsOptionsSchema } from '../../core/schema.ts';
import type { ImapAccount } from './watch.ts';

/** An IMAP account as configured (a mail probe's seed, a browser probe's mailbox). */
export const imapFields = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(993),
  secure: z.boolean().default(true),
  user: z.string().min(1),
  pass: z.string().optional(),
  /** OAuth2 access token (XOAUTH2) instead of pass. */
  accessToken: z.string().optional(),
  tlsInsecure: z.boolean().default(false),
  /** Certificate checks: trust `ca` (PEM) besides the system's, skip them (`insecure`, as tlsInsecure), `servername` for SNI and the name check. */
  tls: tlsOptionsSchema,
  /** No login without STARTTLS (when not `secure`); default: required unless the host is a loopback address. */
  requireTLS: z.boolean().optional(),
});

/** The account the IMAP client takes, from its configuration. */
export function imapAccount(imap: z.output<typeof imapFields>): ImapAccount {
  const { host, port, secure, user, pass, accessToken, tlsInsecure, tls, requireTLS } = imap;
  return {
    host,
    port,
    secure,
    user,
    tlsInsecure: tlsInsecure || Boolean(tls?.insecure),
    ...(pass !== undefined ? { pass } : {}),
    ...(accessToken !== undefined ? { accessToken } : {}),
    ...(tls ? { tls: { ca: tls.ca, servername: tls.servername } } : {}),
    ...(requireTLS !== undefined ? { requireTLS } : {}),
  };
}
