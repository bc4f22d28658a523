// The all-zones sweep at scale: N zones seeded into two real PowerDNS servers (the lab's, caches off),
// a few of them out of sync on purpose, then one `zone-sync` run with `zones: all` through the real
// prober; prints wall time, CPU and what the run found, per concurrency.
//
//   node --import tsx bench/zone-sweep.bench.ts [--zones 10000] [--concurrency 100,250] [--repeat 3]
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { makeTempDir } from '../src/lab/processes.ts';
import { startPdns, type PdnsInstance } from '../src/lab/pdns.ts';
import { zoneSyncKind } from '../src/probers/zone-sync.ts';
import { makeProber, probeOnce, specFor } from '../test/helpers/probe-run.ts';

const { values } = parseArgs({
  options: {
    zones: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '100,250' },
    repeat: { type: 'string', default: '3' },
  },
});
const zoneCount = Number(values.zones);
const API_KEY = 'bench-pdns-api-key';
/** Zones the bench breaks on the second server: a lagging serial, a missing zone, a different NS set. */
const BROKEN = { lagging: 'zone-17.sweep.test', missing: 'zone-42.sweep.test', ns: 'zone-99.sweep.test' };

/** Writes the zones straight into a server's database: 10,000 zones through the API would take minutes. */
function seed(instance: PdnsInstance, second: boolean): void {
  const db = new Database(instance.dbPath);
  const domain = db.prepare("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')");
  const record = db.prepare(
    'INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, ?, ?, ?, 300, 0, 0, 1)',
  );
  db.transaction(() => {
    for (let i = 0; i < zoneCount; i++) {
      const zone = `zone-${i}.sweep.test`;
      if (second && zone === BROKEN.missing) continue;
      const id = Number(domain.run(zone).lastInsertRowid);
      const serial = second && zone === BROKEN.lagging ? 2026112900 : 2026112901;
      record.run(id, zone, 'SOA', `ns1.sweep.test. hostmaster.sweep.test. ${serial} 10800 3600 604800 3600`);
      record.run(id, zone, 'NS', 'ns1.sweep.test.');
      record.run(id, zone, 'NS', second && zone === BROKEN.ns ? 'ns9.sweep.test.' : 'ns2.sweep.test.');
      record.run(id, `www.${zone}`, 'A', '192.0.2.10');
    }
  })();
  db.close();
}

async function startServers(dir: string): Promise<PdnsInstance[]> {
  const servers: PdnsInstance[] = [];
  for (const [index, name] of ['sweep-a', 'sweep-b'].entries()) {
    const home = join(dir, name);
    await mkdir(home, { recursive: true });
    const instance = await startPdns({
      dir: home,
      name,
      dnsPort: 25300 + index,
      apiPort: 28081 + index,
      apiKey: API_KEY,
    });
    seed(instance, index === 1);
    servers.push(instance);
  }
  return servers;
}

async function sweepOnce(servers: PdnsInstance[], concurrency: number) {
  const spec = specFor(zoneSyncKind, {
    powerdns: { api: servers[0]?.apiUrl, apiKey: API_KEY, zones: 'all' },
    servers: servers.map((server) => `127.0.0.1:${server.dnsPort}`),
    concurrency,
  });
  const prober = makeProber(zoneSyncKind, spec);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const measurement = await probeOnce(prober, { timeoutMs: 120_000 });
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await prober.close?.();
  return { measurement, wall, cpu: (used.user + used.system) / 1000 };
}

const dir = await makeTempDir('scaiprobe-zone-sweep-');
const servers = await startServers(dir.dir);
try {
  const rows = [];
  for (const concurrency of (values.concurrency ?? '100').split(',').map(Number))
    for (let round = 0; round < Number(values.repeat); round++) {
      const { measurement, wall, cpu } = await sweepOnce(servers, concurrency);
      const observations = measurement.observations;
      rows.push({
        zones: observations['zones'],
        servers: servers.length,
        concurrency,
        'wall s': (wall / 1000).toFixed(2),
        'CPU s (scaiprobe)': (cpu / 1000).toFixed(2),
        'zones/s': Math.round(Number(observations['zones']) / (wall / 1000)),
        'out of sync': observations['zones.outOfSync'],
        'found all 3': ['lagging', 'missing', 'ns'].every((key) =>
          String(measurement.message).includes(BROKEN[key as keyof typeof BROKEN]),
        ),
      });
    }
  console.log(
    `\nzone-sync, zones: all — ${zoneCount} zones × ${servers.length} PowerDNS 4.7 servers (gsqlite3, caches off), SOA + NS per zone and server; load average ${(await import('node:os')).loadavg()[0]?.toFixed(1)}`,
  );
  console.table(rows);
} finally {
  for (const server of servers) await server.stop();
  await dir.remove();
}
