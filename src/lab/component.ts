// The lab's ports and the shape of one lab part (a real server or a set of routes).
import type { Logger } from 'pino';
import type { LabApp } from './http-app.ts';
import type { SendCounters } from './mail-send.ts';
import type { LabZoneWriter } from './zone-writer.ts';

/** The lab's ports (DESIGN.md); tests pass free ports instead. */
export interface LabPorts {
  scaisend: number;
  scaidns: number;
  imap: number;
  smtp: number;
  pdns1Dns: number;
  pdns1Api: number;
  pdns2Dns: number;
  pdns2Api: number;
  rbldnsd: number;
  redis: number;
  /** HTTPS: example.test's MTA-STS policy and BIMI logo (src/lab/posture.ts). */
  posture: number;
}

export interface LabContext {
  /** A private directory for this lab's data (zone files, mailboxes, databases). */
  dir: string;
  ports: LabPorts;
  logger: Logger;
  scaisend: LabApp;
  scaidns: LabApp;
  /** What ScaiSend's /v3/mail/send handled, per tenant and day (behind /v3/stats); one set per lab. */
  sendCounters: SendCounters;
  /** The lab's PowerDNS servers, set by their part when started: other parts publish their zones there. */
  dns?: LabZoneWriter;
}

/** One part of the lab (a real server or a set of routes); started in order, stopped in reverse. */
export interface LabComponent {
  name: string;
  start(ctx: LabContext): Promise<{ stop(): Promise<void>; describe?: string }>;
}
