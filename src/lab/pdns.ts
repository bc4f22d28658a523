// The lab's PowerDNS pair: zones, keys, API edits and switches that put a server behind.
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LabRrset, LabZoneWriter } from './zone-writer.ts';
import { sendJson, type LabApp } from './http-app.ts';
import { startProcess, waitForPort, type ManagedProcess } from './processes.ts';

/** The lab's PowerDNS API key and validation-challenge token (exported as PDNS_API_KEY / CHALLENGE_TOKEN). */
export const LAB_PDNS_API_KEY = 'lab-pdns-api-key';
export const LAB_CHALLENGE_TOKEN = 'lab-challenge-token-5f2c9a';
export const LAB_ZONE = 'example.test.';
export const LAB_REVERSE_ZONE = '2.0.192.in-addr.arpa.';
export const CHALLENGE_NAME = '_scaidns-challenge.example.test.';

export type { LabRrset };

export interface PdnsInstance {
  name: string;
  dnsPort: number;
  apiPort: number;
  apiUrl: string;
  dbPath: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Splits a long TXT value into quoted <=255-byte strings, as zone files and the PowerDNS API want it. */
function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

/** The records both lab servers start with; the example configs of issue 4 rely on them. */
export function labZoneRrsets(
  challengeToken: string,
  dkimPublicKey: string,
): { forward: LabRrset[]; reverse: LabRrset[] } {
  return {
    forward: [
      { name: 'ns1.example.test.', type: 'A', ttl: 300, records: ['127.0.0.1'] },
      { name: 'www.example.test.', type: 'A', ttl: 60, records: ['192.0.2.10', '192.0.2.11'] },
      { name: 'www.example.test.', type: 'AAAA', ttl: 60, records: ['2001:db8::10'] },
      { name: 'alias.example.test.', type: 'CNAME', ttl: 300, records: ['www.example.test.'] },
      { name: 'example.test.', type: 'MX', ttl: 300, records: ['10 mx.example.test.'] },
      { name: 'mx.example.test.', type: 'A', ttl: 300, records: ['192.0.2.25'] },
      // Mail posture (src/lab/posture.ts): MTA-STS and TLS reporting, BIMI, and the ingress's name for STARTTLS.
      { name: 'inbound.example.test.', type: 'A', ttl: 300, records: ['127.0.0.1'] },
      { name: 'mta-sts.example.test.', type: 'A', ttl: 300, records: ['127.0.0.1'] },
      { name: 'bimi.example.test.', type: 'A', ttl: 300, records: ['127.0.0.1'] },
      { name: '_mta-sts.example.test.', type: 'TXT', ttl: 300, records: [quoteTxt('v=STSv1; id=20261129000000')] },
      {
        name: '_smtp._tls.example.test.',
        type: 'TXT',
        ttl: 300,
        records: [quoteTxt('v=TLSRPTv1; rua=mailto:tlsrpt@example.test')],
      },
      {
        name: 'default._bimi.example.test.',
        type: 'TXT',
        ttl: 300,
        records: [quoteTxt('v=BIMI1; l=https://bimi.example.test:8443/logo.svg')],
      },
      { name: 'example.test.', type: 'TXT', ttl: 300, records: [quoteTxt('v=spf1 mx include:_spf.example.test -all')] },
      { name: '_spf.example.test.', type: 'TXT', ttl: 300, records: [quoteTxt('v=spf1 ip4:192.0.2.0/25 ~all')] },
      {
        name: '_dmarc.example.test.',
        type: 'TXT',
        ttl: 300,
        records: [quoteTxt('v=DMARC1; p=reject; adkim=s; aspf=r; rua=mailto:dmarc@example.test')],
      },
      {
        name: 's1._domainkey.example.test.',
        type: 'TXT',
        ttl: 300,
        records: [quoteTxt(`v=DKIM1; k=rsa; p=${dkimPublicKey}`)],
      },
      { name: CHALLENGE_NAME, type: 'TXT', ttl: 60, records: [quoteTxt(challengeToken)] },
    ],
    reverse: [
      { name: '25.2.0.192.in-addr.arpa.', type: 'PTR', ttl: 300, records: ['mx.example.test.'] },
      { name: '10.2.0.192.in-addr.arpa.', type: 'PTR', ttl: 300, records: ['www.example.test.'] },
    ],
  };
}

function pdnsConf(dir: string, dnsPort: number, apiPort: number, apiKey: string): string {
  return [
    'launch=gsqlite3',
    `gsqlite3-database=${join(dir, 'pdns.sqlite')}`,
    'gsqlite3-pragma-synchronous=0',
    // DNSSEC keys and signing on the fly for zones made secure with pdnsutil secure-zone; others stay unsigned.
    'gsqlite3-dnssec=yes',
    'local-address=127.0.0.1',
    // PowerDNS 4.7 (Debian 12) has local-port; newer versions want local-address=IP:PORT.
    `local-port=${dnsPort}`,
    'api=yes',
    `api-key=${apiKey}`,
    'webserver=yes',
    'webserver-address=127.0.0.1',
    `webserver-port=${apiPort}`,
    'webserver-allow-from=127.0.0.0/8',
    'daemon=no',
    'guardian=no',
    'disable-syslog=yes',
    'loglevel=3',
    'write-pid=no',
    `socket-dir=${join(dir, 'run')}`,
    'primary=no',
    'secondary=no',
    'disable-axfr=yes',
    // Caches off: an edit (through the API or behind its back) is visible at once.
    'cache-ttl=0',
    'negquery-cache-ttl=0',
    'query-cache-ttl=0',
    'zone-cache-refresh-interval=0',
    'dnssec-key-cache-ttl=0',
    'domain-metadata-cache-ttl=0',
    'security-poll-suffix=',
    'default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600',
    '',
  ].join('\n');
}

/** Starts one private PowerDNS (gsqlite3, API on) in `dir`, bound to 127.0.0.1. */
export async function startPdns(options: {
  dir: string;
  name: string;
  dnsPort: number;
  apiPort: number;
  apiKey: string;
}): Promise<PdnsInstance> {
  await mkdir(join(options.dir, 'run'), { recursive: true });
  const dbPath = join(options.dir, 'pdns.sqlite');
  execFileSync('sqlite3', [dbPath], { input: await readSchema() });
  await writeFile(
    join(options.dir, 'pdns.conf'),
    pdnsConf(options.dir, options.dnsPort, options.apiPort, options.apiKey),
  );
  const proc = startProcess({ name: options.name, command: 'pdns_server', args: [`--config-dir=${options.dir}`] });
  try {
    await waitForPort(options.apiPort, '127.0.0.1', 15_000, proc);
    await waitForPort(options.dnsPort, '127.0.0.1', 15_000, proc);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    name: options.name,
    dnsPort: options.dnsPort,
    apiPort: options.apiPort,
    apiUrl: `http://127.0.0.1:${options.apiPort}`,
    dbPath,
    process: proc,
    stop: () => proc.stop(),
  };
}

function readSchema(): Promise<string> {
  return readFile('/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql', 'utf8');
}

async function api(
  instance: PdnsInstance,
  apiKey: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${instance.apiUrl}/api/v1/servers/localhost${path}`, {
    method,
    headers: { 'X-API-Key': apiKey, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${instance.name} API ${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Creates a zone with its records through the API (one call, so every server seeded alike gets the same serial). */
export async function createZone(
  instance: PdnsInstance,
  apiKey: string,
  zone: string,
  rrsets: LabRrset[],
): Promise<void> {
  await api(instance, apiKey, 'POST', '/zones', {
    name: zone,
    kind: 'Native',
    nameservers: ['ns1.example.test.'],
    soa_edit_api: 'DEFAULT',
    rrsets: rrsets.map((rrset) => ({
      ...rrset,
      records: rrset.records.map((content) => ({ content, disabled: false })),
    })),
  });
}

/** Replaces (records given) or deletes (records empty) one rrset through the API. */
export async function setRrset(instance: PdnsInstance, apiKey: string, zone: string, rrset: LabRrset): Promise<void> {
  const change =
    rrset.records.length === 0
      ? { name: rrset.name, type: rrset.type, changetype: 'DELETE' }
      : { ...rrset, changetype: 'REPLACE', records: rrset.records.map((content) => ({ content, disabled: false })) };
  await api(instance, apiKey, 'PATCH', `/zones/${zone}`, { rrsets: [change] });
}

/** Edits a record's content in the database, behind the API's back (what a drifted secondary looks like). */
export function editBehindApi(instance: PdnsInstance, name: string, type: string, from: string, to: string): number {
  const db = new Database(instance.dbPath);
  try {
    return db
      .prepare('UPDATE records SET content = ? WHERE name = ? AND type = ? AND content = ?')
      .run(to, name.replace(/\.$/, ''), type, from).changes;
  } finally {
    db.close();
  }
}

/** Sets the SOA serial in the database, behind the API's back. */
export function setSerialBehindApi(instance: PdnsInstance, zone: string, serial: number): void {
  const db = new Database(instance.dbPath);
  try {
    const row = db
      .prepare("SELECT id, content FROM records WHERE name = ? AND type = 'SOA'")
      .get(zone.replace(/\.$/, '')) as { id: number; content: string } | undefined;
    if (!row) throw new Error(`no SOA for ${zone} on ${instance.name}`);
    const parts = row.content.split(/\s+/);
    parts[2] = String(serial);
    db.prepare('UPDATE records SET content = ? WHERE id = ?').run(parts.join(' '), row.id);
  } finally {
    db.close();
  }
}

export interface PdnsLab {
  servers: PdnsInstance[];
  apiKey: string;
  zone: LabRrset[];
  reverse: LabRrset[];
  challengeToken: string;
  stop(): Promise<void>;
}

/** Two PowerDNS servers with identical zones (example.test and its reverse zone), as the lab and the tests use them. */
export async function startPdnsPair(options: {
  dir: string;
  ports: { dns1: number; api1: number; dns2: number; api2: number };
  apiKey?: string;
  challengeToken?: string;
}): Promise<PdnsLab> {
  const apiKey = options.apiKey ?? LAB_PDNS_API_KEY;
  const challengeToken = options.challengeToken ?? LAB_CHALLENGE_TOKEN;
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkim = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const { forward, reverse } = labZoneRrsets(challengeToken, dkim);
  const servers: PdnsInstance[] = [];
  const stop = async () => {
    for (const server of servers.reverse()) await server.stop();
  };
  try {
    const specs = [
      { name: 'pdns1', dnsPort: options.ports.dns1, apiPort: options.ports.api1 },
      { name: 'pdns2', dnsPort: options.ports.dns2, apiPort: options.ports.api2 },
    ];
    for (const spec of specs) {
      const dir = join(options.dir, spec.name);
      await mkdir(dir, { recursive: true });
      servers.push(await startPdns({ ...spec, dir, apiKey }));
    }
    for (const server of servers) {
      await createZone(server, apiKey, LAB_ZONE, forward);
      await createZone(server, apiKey, LAB_REVERSE_ZONE, reverse);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, apiKey, zone: forward, reverse, challengeToken, stop };
}

/** Writes to every server of `lab` alike; resolvers are pointed at the first. */
export function zoneWriter(lab: Pick<PdnsLab, 'servers' | 'apiKey'>): LabZoneWriter {
  return {
    dnsPort: lab.servers[0]?.dnsPort ?? 0,
    async createZone(zone, rrsets) {
      for (const server of lab.servers) await createZone(server, lab.apiKey, zone, rrsets);
    },
    async setRrset(zone, rrset) {
      for (const server of lab.servers) await setRrset(server, lab.apiKey, zone, rrset);
    },
  };
}

const DRIFT = { name: 'www.example.test.', type: 'A', from: '192.0.2.10', to: '192.0.2.99' };

/**
 * Switches on the ScaiDNS stand-in (JSON bodies):
 * - POST /__lab/dns/challenge {"servers": ["pdns1"], "token"?: "..."} publishes the challenge TXT at those servers and withdraws it elsewhere;
 * - POST /__lab/dns/drift {} edits www.example.test A 192.0.2.10 -> 192.0.2.99 in pdns2's database behind the API; DELETE undoes it;
 * - POST /__lab/dns/serial {"server": "pdns2", "serial": 123} sets a SOA serial behind the API;
 * - GET /api/v1/admin/sync-status (faults: syncFailed: ["example.test."], syncAgeSeconds: 7200);
 * - GET /api/v1/admin/zones/example.test./records: the records ScaiDNS intends (rrsets).
 */
export function mountDnsSwitches(app: LabApp, lab: PdnsLab, now: () => number = Date.now): void {
  const byName = (name: string) => lab.servers.find((server) => server.name === name);
  let token = lab.challengeToken;
  app.route('POST', '/__lab/dns/challenge', async ({ body }, res) => {
    const request = JSON.parse(body.toString() || '{}') as { servers?: string[]; token?: string };
    const publishAt = request.servers ?? lab.servers.map((server) => server.name);
    token = request.token ?? token;
    for (const server of lab.servers) {
      const records = publishAt.includes(server.name) ? [quoteTxt(token)] : [];
      await setRrset(server, lab.apiKey, LAB_ZONE, { name: CHALLENGE_NAME, type: 'TXT', ttl: 60, records });
    }
    sendJson(res, 200, { challenge: CHALLENGE_NAME, publishedAt: publishAt });
  });
  app.route('POST', '/__lab/dns/drift', (_request, res) => {
    const server = lab.servers[1] ?? lab.servers[0];
    const changed = server ? editBehindApi(server, DRIFT.name, DRIFT.type, DRIFT.from, DRIFT.to) : 0;
    sendJson(res, 200, {
      server: server?.name,
      drifted: `${DRIFT.name} ${DRIFT.type} ${DRIFT.from} -> ${DRIFT.to}`,
      changed,
    });
  });
  app.route('DELETE', '/__lab/dns/drift', (_request, res) => {
    const server = lab.servers[1] ?? lab.servers[0];
    const changed = server ? editBehindApi(server, DRIFT.name, DRIFT.type, DRIFT.to, DRIFT.from) : 0;
    sendJson(res, 200, { server: server?.name, restored: true, changed });
  });
  app.route('POST', '/__lab/dns/serial', ({ body }, res) => {
    const request = JSON.parse(body.toString() || '{}') as { server?: string; serial?: number };
    const server = byName(request.server ?? 'pdns2');
    if (!server || typeof request.serial !== 'number')
      return sendJson(res, 400, { error: 'need {"server": "pdns1|pdns2", "serial": N}' });
    setSerialBehindApi(server, LAB_ZONE, request.serial);
    sendJson(res, 200, { server: server.name, serial: request.serial });
  });
  app.route('GET', '/api/v1/admin/sync-status', ({ faults }, res) => {
    const failed = Array.isArray(faults.syncFailed) ? (faults.syncFailed as string[]) : [];
    const age = typeof faults.syncAgeSeconds === 'number' ? faults.syncAgeSeconds : 30;
    const zones = [LAB_ZONE, LAB_REVERSE_ZONE].map((zone) => ({
      zone,
      status: failed.includes(zone) ? 'failed' : 'synced',
      last_synced_at: new Date(now() - age * 1000).toISOString(),
      ...(failed.includes(zone) ? { error: 'PowerDNS API returned 422: malformed record' } : {}),
    }));
    sendJson(res, 200, { zones });
  });
  app.route('GET', `/api/v1/admin/zones/${LAB_ZONE}/records`, (_request, res) => {
    const records = lab.zone.map((rrset) =>
      rrset.name === CHALLENGE_NAME ? { ...rrset, records: [quoteTxt(token)] } : rrset,
    );
    // The apex NS set comes from the zone's `nameservers` (PowerDNS's default TTL 3600).
    const rrsets = [{ name: LAB_ZONE, type: 'NS', ttl: 3600, records: ['ns1.example.test.'] }, ...records];
    sendJson(res, 200, { zone: LAB_ZONE, rrsets });
  });
}

/** Lab part: two PowerDNS servers (5300/8081 and 5302/8082) and their switches on the ScaiDNS stand-in. */
