// The lab's rbldnsd: blocklist zones served on loopback, with switches to list and delist.
import dgram from 'node:dgram';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode } from 'dns-packet';
import type { LabComponent, LabContext } from './component.ts';
import { sendJson, type LabApp } from './http-app.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { labIdentity } from './identity.ts';

/**
 * Zones served by the lab's rbldnsd. They behave like real lists: RFC 5782
 * test points, per-entry codes and TXT reasons, exclusions, IPv6, a
 * Spamhaus-like zen/dbl answering error codes (127.255.255.x) for some
 * names, and `broken.test`, a list that fails its own test points.
 */
const ZONE_FILES: Record<string, string> = {
  'bl-ip4.zone': [
    '$SOA 300 ns.bl.test. hostmaster.bl.test. 0 600 300 86400 60',
    '$NS 300 ns.bl.test.',
    ':127.0.0.2:Listed in bl.test (test DNSBL): $',
    '127.0.0.2',
    '192.0.2.2',
    '198.51.100.0/24',
    '!198.51.100.200',
    '203.0.113.8 :127.0.0.4:Listed for spam source, see https://bl.test/lookup?ip=$',
  ].join('\n'),
  'bl-ip6.zone': [
    ':127.0.0.2:Listed in bl.test (IPv6): $',
    '2001:db8:bad::/48',
    '2001:db8:1::7 :127.0.0.4:IPv6 spam source $',
  ].join('\n'),
  'dbl.zone': [
    '$SOA 300 ns.dbl.test. hostmaster.dbl.test. 0 600 300 86400 60',
    '$NS 300 ns.dbl.test.',
    ':127.0.0.2:Domain listed in dbl.test: $',
    'test',
    '*.spammy.example',
    '.phish.example :127.0.0.4:Phishing domain $',
  ].join('\n'),
  'zen.zone': [
    '$SOA 300 need.to.know.only. hostmaster.spamhaus.org. 0 600 300 86400 60',
    ':127.0.0.2:https://www.spamhaus.org/query/ip/$',
    '127.0.0.2',
    '203.0.113.66 :127.0.0.4:https://www.spamhaus.org/query/ip/$',
    '198.51.100.0/24 :127.0.0.10:https://www.spamhaus.org/query/ip/$',
    // Error codes, as Spamhaus answers a public resolver or an abusive client: never a listing.
    '192.0.2.99 :127.255.255.254:Query via public/open resolver',
    '192.0.2.98 :127.255.255.255:Excessive number of queries',
  ].join('\n'),
  'zen-dbl.zone': [
    '$SOA 300 need.to.know.only. hostmaster.spamhaus.org. 0 600 300 86400 60',
    ':127.0.1.2:https://www.spamhaus.org/query/domain/$',
    'test',
    'malware.example :127.0.1.5:https://www.spamhaus.org/query/domain/$',
    'ipqueried.example :127.0.1.255:IP queried against a domain list',
  ].join('\n'),
  // No 127.0.0.2 test point: a list in this state must not be trusted for "clean".
  'broken.zone': [':127.0.0.2:Listed in broken.test', '192.0.2.50'].join('\n'),
};

/** zone name -> dataset spec; dynamic-*.zone files hold what the list/delist switch added. */
const ZONES = [
  'bl.test:ip4set:bl-ip4.zone,dynamic-bl.test.zone',
  'bl.test:ip6trie:bl-ip6.zone',
  'dbl.test:dnset:dbl.zone,dynamic-dbl.test.zone',
  'zen.spamhaus.org:ip4set:zen.zone',
  'dbl.spamhaus.org:dnset:zen-dbl.zone',
  'broken.test:ip4set:broken.zone',
];
const DYNAMIC_ZONES = ['bl.test', 'dbl.test'];

export interface RbldnsdLab {
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Lists an IP (bl.test) or domain (dbl.test) while running; resolves once rbldnsd answers with the listing. */
  list(zone: string, entry: string, code?: string, reason?: string): Promise<void>;
  /** Removes what list() added; resolves once rbldnsd answers NXDOMAIN. */
  delist(zone: string, entry: string): Promise<void>;
  stop(): Promise<void>;
}

function queryName(zone: string, entry: string): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(entry)) return `${entry.split('.').reverse().join('.')}.${zone}`;
  return `${entry}.${zone}`;
}

/** One A query over UDP (the lab's own, independent of the probers' wire code): the rcode, or undefined on no reply. */
function askA(port: number, name: string, timeoutMs = 300): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const timer = setTimeout(() => {
      socket.close();
      resolve(undefined);
    }, timeoutMs);
    socket.on('message', (message) => {
      try {
        const packet = decode(message);
        if (packet.id !== id) return;
        clearTimeout(timer);
        socket.close();
        resolve((packet as { rcode?: string }).rcode ?? 'NOERROR');
      } catch {
        /* keep waiting */
      }
    });
    socket.send(
      encode({ type: 'query', id, flags: 0, questions: [{ name, type: 'A', class: 'IN' }] }),
      port,
      '127.0.0.1',
    );
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`rbldnsd: ${what} not seen after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

/** Starts a private rbldnsd (UDP only) on 127.0.0.1:port with the lab's zones in `dir`. */
export async function startRbldnsd(options: { dir: string; port: number }): Promise<RbldnsdLab> {
  const dir = options.dir;
  await mkdir(dir, { recursive: true });
  // rbldnsd drops root for user rbldns, which must be able to reach and read the files.
  await chmod(dir, 0o755);
  for (const [file, content] of Object.entries(ZONE_FILES))
    await writeFile(join(dir, file), `${content}\n`, { mode: 0o644 });
  const dynamic = new Map<string, Map<string, string>>(DYNAMIC_ZONES.map((zone) => [zone, new Map()]));
  const writeDynamic = async (zone: string) => {
    const lines = [...(dynamic.get(zone)?.values() ?? [])];
    await writeFile(join(dir, `dynamic-${zone}.zone`), `${lines.join('\n')}\n`, { mode: 0o644 });
  };
  for (const zone of DYNAMIC_ZONES) await writeDynamic(zone);
  // As root it drops to user rbldns; anyone else it runs as (only root can switch users).
  const user = labIdentity().root ? ['-u', 'rbldns:rbldns'] : [];
  const args = ['-n', '-b', `127.0.0.1/${options.port}`, ...user, '-w', dir, '-t', '60', '-c', '60', '-a', ...ZONES];
  const proc = startProcess({ name: 'rbldnsd', command: 'rbldnsd', args });
  try {
    await waitUntil(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`rbldnsd exited (${proc.child.exitCode}): ${proc.output()}`);
        return (await askA(options.port, '2.0.0.127.bl.test')) === 'NOERROR';
      },
      10_000,
      'the bl.test test point',
    );
  } catch (error) {
    await proc.stop();
    throw error;
  }
  const reload = () => process.kill(proc.pid, 'SIGHUP');
  return {
    port: options.port,
    dir,
    process: proc,
    async list(zone, entry, code = '127.0.0.2', reason = 'Listed by the lab switch: $') {
      const entries = dynamic.get(zone);
      if (!entries) throw new Error(`the list switch works on ${DYNAMIC_ZONES.join(', ')}`);
      entries.set(entry, `${entry} :${code}:${reason}`);
      await writeDynamic(zone);
      reload();
      await waitUntil(
        async () => (await askA(options.port, queryName(zone, entry))) === 'NOERROR',
        5000,
        `listing of ${entry} on ${zone}`,
      );
    },
    async delist(zone, entry) {
      dynamic.get(zone)?.delete(entry);
      await writeDynamic(zone);
      reload();
      await waitUntil(
        async () => (await askA(options.port, queryName(zone, entry))) === 'NXDOMAIN',
        5000,
        `delisting of ${entry} on ${zone}`,
      );
    },
    stop: () => proc.stop(),
  };
}

/** POST /__lab/rbl/list and /__lab/rbl/delist {"zone": "bl.test", "entry": "203.0.113.7", "code"?: "127.0.0.4", "reason"?: "..."}. */
export function mountRblSwitches(app: LabApp, lab: RbldnsdLab): void {
  const read = (body: Buffer) =>
    JSON.parse(body.toString() || '{}') as { zone?: string; entry?: string; code?: string; reason?: string };
  app.route('POST', '/__lab/rbl/list', async ({ body }, res) => {
    const request = read(body);
    if (!request.zone || !request.entry)
      return sendJson(res, 400, { error: 'need {"zone": "bl.test|dbl.test", "entry": "IP or domain"}' });
    await lab.list(request.zone, request.entry, request.code, request.reason);
    sendJson(res, 200, { listed: request.entry, zone: request.zone });
  });
  app.route('POST', '/__lab/rbl/delist', async ({ body }, res) => {
    const request = read(body);
    if (!request.zone || !request.entry)
      return sendJson(res, 400, { error: 'need {"zone": "bl.test|dbl.test", "entry": "IP or domain"}' });
    await lab.delist(request.zone, request.entry);
    sendJson(res, 200, { delisted: request.entry, zone: request.zone });
  });
}

/** Lab part: rbldnsd on 127.0.0.1:5301 (UDP), switches on the ScaiSend stand-in. */
export const rbldnsdComponent: LabComponent = {
  name: 'rbldnsd',
  async start(ctx: LabContext) {
    // The lab dir must be traversable by user rbldns.
    await chmod(ctx.dir, 0o711).catch(() => undefined);
    const lab = await startRbldnsd({ dir: join(ctx.dir, 'rbldnsd'), port: ctx.ports.rbldnsd });
    mountRblSwitches(ctx.scaisend, lab);
    return {
      stop: () => lab.stop(),
      describe: `bl.test, dbl.test, zen.spamhaus.org, dbl.spamhaus.org, broken.test at 127.0.0.1:${ctx.ports.rbldnsd} (UDP); switches: POST /__lab/rbl/list|delist {"zone":"bl.test","entry":"203.0.113.7"} on the ScaiSend stand-in`,
    };
  },
};
