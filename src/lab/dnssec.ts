// The lab zone signed with DNSSEC by PowerDNS itself (pdnsutil), the same keys at both servers, a parent zone with its DS, and switches that break each.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sendJson, type LabApp } from './http-app.ts';
import { createZone, setRrset, type PdnsInstance, type PdnsLab } from './pdns.ts';

/** The parent of the lab zone (`test.`), served by both servers, holding the lab zone's DS. */
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
  const dsRrset = (lines: string[]) => ({ name: zone, type: 'DS', ttl: 300, records: dsRecords(lines) });
  // Both servers serve the parent too, so that every zone the API lists is served alike.
  for (const server of [first, second]) await createZone(server, lab.apiKey, LAB_PARENT_ZONE, [dsRrset(ds)]);
  return {
    ds,
    brokenDs,
    breakDs: async () => {
      for (const server of [first, second]) await setRrset(server, lab.apiKey, LAB_PARENT_ZONE, dsRrset(brokenDs));
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

/**
 * Switches on the ScaiDNS stand-in (no body needed):
 * - POST /__lab/dns/dnssec/break-ds: the parent's DS for the lab zone matches no key any more;
 * - POST /__lab/dns/dnssec/remove-key: the second server loses the zone's key and serves it unsigned.
 * Neither is undone: the lab starts signed again next time.
 */
export function mountDnssecSwitches(app: LabApp, signed: SignedZone): void {
  app.route('POST', '/__lab/dns/dnssec/break-ds', async (_req, res) => {
    await signed.breakDs();
    sendJson(res, 200, { ds: signed.brokenDs });
  });
  app.route('POST', '/__lab/dns/dnssec/remove-key', (_req, res) => {
    signed.removeKeyAtSecond();
    sendJson(res, 200, { removed: true });
  });
}
