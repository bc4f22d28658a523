// PowerDNS's HTTP API: a zone with its rrsets.
import { ProbeFailure } from '../../core/errors.ts';
import type { HttpClient } from '../http/client.ts';
import { getJson } from '../http/json.ts';

/** A zone as PowerDNS's HTTP API answers it (GET /api/v1/servers/{server}/zones/{zone}). */
export interface PdnsZone {
  serial?: number;
  edited_serial?: number;
  rrsets: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string; disabled?: boolean }> }>;
}

export interface PdnsApi {
  /** Base URL of the API, e.g. http://127.0.0.1:8081. */
  api: string;
  apiKey: string;
  /** The PowerDNS server id, `localhost` by default. */
  server: string;
}

/** The zone `zoneName` (fully qualified) with its rrsets, from PowerDNS's API. */
export async function fetchPdnsZone(
  io: { http: HttpClient; signal: AbortSignal },
  pdns: PdnsApi,
  zoneName: string,
  maxBodyBytes: number,
): Promise<PdnsZone> {
  const base = pdns.api.replace(/\/+$/, '');
  const zone = (await getJson(
    io,
    `${base}/api/v1/servers/${pdns.server}/zones/${zoneName}`,
    { 'X-API-Key': pdns.apiKey },
    'PowerDNS API',
    maxBodyBytes,
  )) as PdnsZone;
  if (!Array.isArray(zone.rrsets)) throw new ProbeFailure('PROTOCOL', 'PowerDNS API zone has no rrsets');
  return zone;
}

/** A zone as PowerDNS's zone list names it (GET /api/v1/servers/{server}/zones). */
export interface PdnsListedZone {
  name: string;
  serial: number | undefined;
}

/** Every zone PowerDNS's API lists, with the serial it serves (edited_serial when the API edits it). */
export async function listPdnsZones(
  io: { http: HttpClient; signal: AbortSignal },
  pdns: PdnsApi,
  maxBodyBytes: number,
): Promise<PdnsListedZone[]> {
  const base = pdns.api.replace(/\/+$/, '');
  // dnssec=false spares PowerDNS a key lookup per zone; the list needs only names and serials.
  const body = await getJson(
    io,
    `${base}/api/v1/servers/${pdns.server}/zones?dnssec=false`,
    { 'X-API-Key': pdns.apiKey },
    'PowerDNS API',
    maxBodyBytes,
  );
  if (!Array.isArray(body)) throw new ProbeFailure('PROTOCOL', 'PowerDNS API zone list is not a list');
  return body.flatMap((entry: unknown) => {
    const zone = entry as { name?: unknown; serial?: unknown; edited_serial?: unknown };
    if (typeof zone.name !== 'string') return [];
    const serial = [zone.edited_serial, zone.serial].find((value) => typeof value === 'number' && value > 0);
    return [{ name: zone.name, serial: serial as number | undefined }];
  });
}
