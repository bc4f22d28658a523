// The lab zone signed with DNSSEC by PowerDNS itself (pdnsutil), the same keys at both servers, a parent zone with its DS, and switches that break each.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createZone, type PdnsInstance, type PdnsLab } from './pdns.ts';

/** The parent of the lab zone (`test.`), served by the first server, holding the lab zone's DS. */
export const LAB_PARENT_ZONE = 'test.';

function pdnsutil(server: PdnsInstance, args: string[]): string {
  return execFileSync('pdnsutil', [`--config-dir=${dirOf(server)}`, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function dirOf(server: PdnsInstance): string {
  return server.dbPath.replace(/\/pdns\.sqlite$/, '');
}

/** Key ids of a zone at a server, with their roles (`KSK`, `ZSK`, `CSK`). */
function keyIds(server: PdnsInstance, zone: string): Array<{ id: string; role: string }> {
  return pdnsutil(server, ['list-keys', zone])
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[0] === zone.replace(/\.$/, '') && /^\d+$/.test(cols[6] ?? ''))
    .map((cols) => ({ id: cols[6] ?? '', role: cols[1] ?? '' }));
}

export interface SignedZone {
  /** The DS records of the lab zone, as the parent publishes them (zone-file lines). */
  ds: string[];
  /** The same with digests that match no key: what the parent publishes after breakDs(). */
  brokenDs: string[];
  /** Both servers deny with NSEC3 (RFC 9276's parameters: no salt, no extra iterations) instead of NSEC. */
  useNsec3(): void;
  /** The parent zone's DS for the lab zone is replaced by one that matches no key. */
  breakDs(): Promise<void>;
  /** The second server loses the zone's key: it serves the zone unsigned. */
  removeKeyAtSecond(): void;
}

/**
 * Signs `zone` at the first server (pdnsutil secure-zone: one ECDSAP256SHA256 CSK), copies its key to the
 * second so both serve the same DNSKEY set, and publishes the DS in a parent zone at the first server.
 */
export async function signLabZone(lab: PdnsLab, zone: string, scratch: string): Promise<SignedZone> {
  const [first, second] = lab.servers;
  if (!first || !second) throw new Error('the lab has two PowerDNS servers');
  const name = zone.replace(/\.$/, '');
  pdnsutil(first, ['secure-zone', name]);
  for (const { id } of keyIds(first, name)) {
    const file = join(scratch, `key-${id}.private`);
    writeFileSync(file, pdnsutil(first, ['export-zone-key', name, id]));
    pdnsutil(second, ['import-zone-key', name, file, 'ksk', 'active']);
  }
  for (const server of [first, second]) pdnsutil(server, ['rectify-zone', name]);
  const ds = pdnsutil(first, ['export-zone-ds', name])
    .split('\n')
    .filter((line) => /\sIN\s+DS\s/.test(line))
    .map((line) => line.replace(/\s*;.*$/, '').trim());
  const dsRecords = (lines: string[]) => lines.map((line) => line.split(/\s+IN\s+DS\s+/)[1] ?? '');
  const brokenDs = ds.map((line) => line.replace(/[0-9a-f]{8}$/i, '00000000'));
  await createZone(first, lab.apiKey, LAB_PARENT_ZONE, [{ name: zone, type: 'DS', ttl: 300, records: dsRecords(ds) }]);
  return {
    ds,
    brokenDs,
    breakDs: async () => {
      const broken = dsRecords(brokenDs);
      await fetch(`${first.apiUrl}/api/v1/servers/localhost/zones/${LAB_PARENT_ZONE}`, {
        method: 'PATCH',
        headers: { 'X-API-Key': lab.apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({
          rrsets: [
            {
              name: zone,
              type: 'DS',
              ttl: 300,
              changetype: 'REPLACE',
              records: broken.map((content) => ({ content, disabled: false })),
            },
          ],
        }),
      });
    },
    useNsec3: () => {
      for (const server of [first, second]) {
        pdnsutil(server, ['set-nsec3', name, '1 0 0 -']);
        pdnsutil(server, ['rectify-zone', name]);
      }
    },
    removeKeyAtSecond: () => {
      for (const { id } of keyIds(second, name)) pdnsutil(second, ['remove-zone-key', name, id]);
    },
  };
}
