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
