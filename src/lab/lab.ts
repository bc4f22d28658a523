// The lab: starts its parts (mail, DNS, blocklists, stand-ins) on local ports and stops them.
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { createScaiSendStandIn } from './scaisend.ts';
import { createScaiDnsStandIn } from './scaidns.ts';
import type { LabApp } from './http-app.ts';
import { mailLabComponent } from './mail-lab.ts';
import { LAB_PDNS_API_KEY, LAB_CHALLENGE_TOKEN } from './pdns.ts';
import { pdnsComponent } from './pdns-component.ts';
import { rbldnsdComponent } from './rbldnsd.ts';
import { postureComponent } from './posture.ts';
import { ratesLabComponent, LAB_WEBHOOK_SECRET } from './rates-lab.ts';
import { createSendCounters, type SendCounters } from './mail-send.ts';
import type { LabComponent, LabContext, LabPorts } from './component.ts';
import { labIdentity, type LabIdentity } from './identity.ts';

export const DEFAULT_LAB_PORTS: LabPorts = {
  scaisend: 8000,
  scaidns: 8001,
  imap: 10143,
  smtp: 2525,
  pdns1Dns: 5300,
  pdns1Api: 8081,
  pdns2Dns: 5302,
  pdns2Api: 8082,
  rbldnsd: 5301,
  redis: 6390,
  posture: 8443,
};

export interface RunningLab {
  ports: LabPorts;
  dir: string;
  scaisend: LabApp;
  scaidns: LabApp;
  scaisendUrl: string;
  scaidnsUrl: string;
  sendCounters: SendCounters;
  /** One line per started part, for people. */
  describe(): string[];
  stop(): Promise<void>;
}

/** Every lab part beyond the two HTTP stand-ins; each issue's lab part adds itself here. PowerDNS first: the mail part publishes its sending domains there. */
export const LAB_COMPONENTS: LabComponent[] = [
  pdnsComponent,
  mailLabComponent,
  rbldnsdComponent,
  ratesLabComponent,
  postureComponent,
];

/**
 * The lab keeps its data in `<dir>/current`, wiped at every start: mailboxes,
 * zones and blocklists are seeded anew, so a second start never trips over the
 * first one's files. Only that one subfolder (or the folder it links to) is ever removed.
 */
async function freshLabDir(dir: string, identity: LabIdentity): Promise<string> {
  await refuseIfRunning(dir);
  const current = join(dir, 'current');
  await mkdir(dir, { recursive: true });
  await removePrevious(current);
  await writeFile(join(dir, 'lab.pid'), `${process.pid}\n`);
  // Started by root, the servers drop to their own users (dovecot, nobody, rbldns), who must be
  // able to pass through every folder above their files. A checkout in a private folder (a home
  // of mode 0700, /root) keeps them out: their files then go to a folder of the system's temp
  // folder, linked from <dir>/current. Anyone else's lab runs as that user and needs neither.
  if (identity.root && !(await passableByAll(dirname(resolve(dir))))) {
    if (!(await passableByAll(tmpdir()))) {
      throw new Error(
        `the lab's servers run as their own users, which can reach neither ${resolve(dir)} nor ${tmpdir()}: start it with --dir in a folder that every user may pass through`,
      );
    }
    const elsewhere = await mkdtemp(join(tmpdir(), RELOCATED_PREFIX));
    await chmod(elsewhere, 0o711);
    await symlink(elsewhere, current);
    return elsewhere;
  }
  await chmod(dir, (await stat(dir)).mode | 0o711);
  await mkdir(current, { recursive: true });
  return current;
}

const RELOCATED_PREFIX = 'scaiprobe-lab-files-';

/** Removes the previous start's data: the folder itself, or the folder in the temp folder it links to. */
async function removePrevious(current: string): Promise<void> {
  const link = await lstat(current).catch(() => undefined);
  if (link?.isSymbolicLink()) {
    const target = await readlink(current);
    if (basename(target).startsWith(RELOCATED_PREFIX)) await rm(target, { recursive: true, force: true });
  }
  await rm(current, { recursive: true, force: true });
}

/** Whether a user other than the owner may pass through `dir` and every folder above it. */
async function passableByAll(dir: string): Promise<boolean> {
  for (let folder = resolve(dir); ; folder = dirname(folder)) {
    if (((await stat(folder)).mode & 0o001) === 0) return false;
    if (dirname(folder) === folder) return true;
  }
}

/** A second lab on the same folder would wipe the first one's mailboxes and zones under it. */
async function refuseIfRunning(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, 'lab.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // a stale file: that lab is gone
  }
  throw new Error(
    `a lab is already running from ${dir} (pid ${pid}); stop it first, or start this one with --dir elsewhere`,
  );
}

export async function startLab(options: {
  dir: string;
  ports?: Partial<LabPorts>;
  logger: Logger;
  components?: LabComponent[];
}): Promise<RunningLab> {
  const dir = await freshLabDir(options.dir, labIdentity());
  const ports = { ...DEFAULT_LAB_PORTS, ...options.ports };
  const scaisend = createScaiSendStandIn();
  const scaidns = createScaiDnsStandIn();
  const sendCounters = createSendCounters();
  const stops: Array<() => Promise<void>> = [];
  const lines: string[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse())
      await stop().catch((error: unknown) => options.logger.warn({ err: error }, 'lab part failed to stop'));
    stops.length = 0;
    await rm(join(options.dir, 'lab.pid'), { force: true });
  };
  try {
    const ctx: LabContext = { dir, ports, logger: options.logger, scaisend, scaidns, sendCounters };
    for (const component of options.components ?? LAB_COMPONENTS) {
      const started = await component.start(ctx);
      stops.push(() => started.stop());
      lines.push(`${component.name}: ${started.describe ?? 'started'}`);
    }
    const send = await scaisend.listen(ports.scaisend);
    stops.push(() => scaisend.close());
    const dns = await scaidns.listen(ports.scaidns);
    stops.push(() => scaidns.close());
    lines.unshift(
      `ScaiSend stand-in: ${send.url} (faults: ${send.url}/__lab/faults)`,
      `ScaiDNS stand-in: ${dns.url} (faults: ${dns.url}/__lab/faults)`,
    );
    return {
      ports: { ...ports, scaisend: send.port, scaidns: dns.port },
      dir,
      scaisend,
      scaidns,
      scaisendUrl: send.url,
      scaidnsUrl: dns.url,
      sendCounters,
      describe: () => [...lines],
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * The lab's own credentials, exported into the environment by `scaiprobe run --lab`
 * and `scaiprobe lab` (only where unset) so the shipped configuration's
 * `${NAME}` references resolve. Each lab part adds the names it needs.
 */
export const LAB_ENV: Record<string, string> = {
  PDNS_API_KEY: LAB_PDNS_API_KEY,
  CHALLENGE_TOKEN: LAB_CHALLENGE_TOKEN,
  SCAISEND_API_KEY: 'SG.lab-tenant-a.key',
  SEED_A_PASS: 'alicepw',
  SEED_B_PASS: 'bobpw',
  SCAISEND_TENANT_B_KEY: 'SG.lab-tenant-b.key',
  ALERT_WEBHOOK_SECRET: LAB_WEBHOOK_SECRET,
};
