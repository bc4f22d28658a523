import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { ProbeFailure, classifyNetworkError } from '../core/errors.ts';
import { mapLimit } from '../util/map-limit.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, parseServer, type DnsServer } from '../protocols/dns/wire.ts';
import { fqdn, presentationText, rdataText, soaSerial } from '../protocols/dns/records.ts';
import { queryFields, serverText } from '../protocols/dns/config.ts';
import { duration } from '../core/schema.ts';
import { maxBodyBytesField, wholeBody } from '../protocols/http/body-limit.ts';

const rrsetInput = z.object({
  name: z.string(),
  type: z.string(),
  ttl: z.number().int().optional(),
  records: z.array(z.union([z.string(), z.object({ content: z.string(), disabled: z.boolean().optional() })])),
});

const fields = z.object({
  powerdns: z.object({ api: z.string().url(), apiKey: z.string().min(1), zone: z.string().min(1), server: z.string().default('localhost') }).strict(),
  servers: z.array(serverText()).min(1),
  /** A third side: the records ScaiDNS means to serve (a URL answering {rrsets: [...]}, or inline rrsets). */
  intended: z.object({ url: z.string().url().optional(), headers: z.record(z.string(), z.string()).optional(), rrsets: z.array(rrsetInput).optional() }).strict().optional(),
  /** ScaiDNS's GET /api/v1/admin/sync-status: zones `failed`, or synced longer ago than maxAge. */
  syncStatus: z.object({ url: z.string().url(), headers: z.record(z.string(), z.string()).optional(), maxAge: duration().default(3_600_000) }).strict().optional(),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  concurrency: z.number().int().min(1).max(500).default(20),
  /** For each HTTP answer (the PowerDNS zone, intended records, sync-status); a bigger one fails the run. */
  maxBodyBytes: maxBodyBytesField(),
  ...queryFields,
});

export type ZoneSyncSpec = z.output<typeof fields>;

interface Rrset {
  name: string;
  type: string;
  ttl?: number;
  records: Set<string>;
}

const keyOf = (name: string, type: string) => `${fqdn(name)} ${type.toUpperCase()}`;

/** rrsets as sets of normalized content, disabled records skipped. */
export function normalizeRrsets(input: Array<z.infer<typeof rrsetInput>>): Map<string, Rrset> {
  const map = new Map<string, Rrset>();
  for (const rrset of input) {
    const type = rrset.type.toUpperCase();
    const records = rrset.records
      .filter((record) => typeof record === 'string' || !record.disabled)
      .map((record) => presentationText(type, typeof record === 'string' ? record : record.content));
    if (records.length === 0) continue;
    const key = keyOf(rrset.name, type);
    const existing = map.get(key);
    if (existing) for (const record of records) existing.records.add(record);
    else map.set(key, { name: fqdn(rrset.name), type, ...(rrset.ttl === undefined ? {} : { ttl: rrset.ttl }), records: new Set(records) });
  }
  return map;
}

/** Differences of `actual` against `expected`: records missing, records extra, TTLs that differ. */
export function diffRrsets(expected: Map<string, Rrset>, actual: Map<string, Rrset>, label: string): { missing: string[]; extra: string[]; ttl: string[] } {
  const missing: string[] = [];
  const extra: string[] = [];
  const ttl: string[] = [];
  for (const [key, want] of expected) {
    const got = actual.get(key);
    for (const record of want.records) if (!got?.records.has(record)) missing.push(`${label}: ${key} ${record} missing`);
    if (got && want.ttl !== undefined && got.ttl !== undefined && got.ttl !== want.ttl) ttl.push(`${label}: ${key} TTL ${got.ttl}, expected ${want.ttl}`);
  }
  for (const [key, got] of actual) {
    const want = expected.get(key);
    for (const record of got.records) if (!want?.records.has(record)) extra.push(`${label}: ${key} ${record} extra`);
  }
  return { missing, extra, ttl };
}

interface PdnsZone {
  serial?: number;
  edited_serial?: number;
  rrsets: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string; disabled?: boolean }> }>;
}

async function getJson(ctx: ProbeContext, url: string, headers: Record<string, string>, what: string, maxBodyBytes: number): Promise<unknown> {
  const response = await ctx.http.request({ url, headers: { accept: 'application/json', ...headers }, signal: ctx.signal, maxBodyBytes });
  if (response.status === 401 || response.status === 403) throw new ProbeFailure('AUTH', `${what} refused the credentials (${response.status})`);
  if (response.status !== 200) throw new ProbeFailure('PROTOCOL', `${what} answered ${response.status}: ${response.body.toString().slice(0, 200)}`);
  const body = wholeBody(response, maxBodyBytes, what);
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new ProbeFailure('PROTOCOL', `${what} did not answer JSON`);
  }
}

export function createZoneSyncProber(spec: ZoneSyncSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const servers = spec.servers.map((text) => parseServer(text));
  const zoneName = fqdn(spec.powerdns.zone);

  /** What one server serves for each rrset the API has (the wire cannot list names the API lacks without AXFR). */
  const served = async (ctx: ProbeContext, server: DnsServer, keys: Array<{ name: string; type: string }>) => {
    const map = new Map<string, Rrset>();
    const errors: string[] = [];
    await mapLimit(keys, spec.concurrency, async ({ name, type }) => {
      try {
        const reply = await client.query({ name, type: type as RecordType, server, signal: ctx.signal, transport: spec.transport, timeoutMs: spec.queryTimeout, retries: spec.queryRetries });
        const records = reply.answers.filter((record) => record.type === type && fqdn(record.name) === fqdn(name));
        if (records.length === 0) return;
        map.set(keyOf(name, type), { name: fqdn(name), type, ttl: (records[0] as { ttl?: number }).ttl ?? 0, records: new Set(records.map(rdataText)) });
      } catch (error) {
        if (ctx.signal.aborted) throw classifyNetworkError(error, ctx.signal);
        errors.push(`${name} ${type}: ${(error as Error).message}`);
      }
    });
    const soa = await client.query({ name: zoneName, type: 'SOA', server, signal: ctx.signal, timeoutMs: spec.queryTimeout, retries: spec.queryRetries }).catch(() => undefined);
    return { map, errors, serial: soa ? soaSerial(soa.answers) : undefined };
  };

  return {
    async probe(ctx) {
      const base = spec.powerdns.api.replace(/\/+$/, '');
      const zone = (await getJson(ctx, `${base}/api/v1/servers/${spec.powerdns.server}/zones/${zoneName}`, { 'X-API-Key': spec.powerdns.apiKey }, 'PowerDNS API', spec.maxBodyBytes)) as PdnsZone;
      if (!Array.isArray(zone.rrsets)) throw new ProbeFailure('PROTOCOL', 'PowerDNS API zone has no rrsets');
      const api = normalizeRrsets(zone.rrsets);
      // The SOA is compared by serial (against edited_serial), not by content.
      const compared = new Map([...api].filter(([, rrset]) => rrset.type !== 'SOA'));
      const keys = [...compared.values()].map(({ name, type }) => ({ name, type }));
      const observations: Observations = { rrsets: compared.size, records: [...compared.values()].reduce((sum, rrset) => sum + rrset.records.size, 0) };
      const differences: string[] = [];
      const warnings: string[] = [];
      let missing = 0;
      let extra = 0;
      let ttl = 0;
      const wantSerial = zone.edited_serial ?? zone.serial;
      observations['serial.api'] = wantSerial ?? null;
      let serialsAgree = true;
      const results = await Promise.all(servers.map((server) => served(ctx, server, keys)));
      servers.forEach((server, index) => {
        const result = results[index]!;
        const diff = diffRrsets(compared, result.map, server.label);
        missing += diff.missing.length;
        extra += diff.extra.length;
        ttl += diff.ttl.length;
        observations[`missing.${server.label}`] = diff.missing.length;
        observations[`extra.${server.label}`] = diff.extra.length;
        observations[`serial.${server.label}`] = result.serial ?? null;
        if (result.serial === undefined || result.serial !== wantSerial) serialsAgree = false;
        differences.push(...diff.missing, ...diff.extra, ...diff.ttl);
        if (result.errors.length) warnings.push(`${server.label}: ${result.errors.length} queries failed (${result.errors[0]})`);
      });
      Object.assign(observations, { missing, extra, 'ttl.mismatch': ttl, 'serial.agree': serialsAgree, differences: differences.slice(0, 50) });
      if (!serialsAgree) differences.push(`SOA serials: API edited_serial ${wantSerial}, ${servers.map((s, i) => `${s.label} ${results[i]?.serial ?? '?'}`).join(', ')}`);

      if (spec.intended) {
        const intended = normalizeRrsets(
          spec.intended.url
            ? (((await getJson(ctx, spec.intended.url, spec.intended.headers ?? {}, 'intended records', spec.maxBodyBytes)) as { rrsets?: Array<z.infer<typeof rrsetInput>> }).rrsets ?? [])
            : (spec.intended.rrsets ?? []),
        );
        const diff = diffRrsets(intended, compared, 'PowerDNS API vs intended');
        Object.assign(observations, { 'intended.missing': diff.missing.length, 'intended.extra': diff.extra.length, 'intended.ttl.mismatch': diff.ttl.length });
        differences.push(...diff.missing, ...diff.extra, ...diff.ttl);
      }
      if (spec.syncStatus) Object.assign(observations, await syncStatus(ctx, spec.syncStatus, zoneName, differences, spec.maxBodyBytes));

      const message = differences.length
        ? `${zoneName}: ${missing} missing, ${extra} extra, ${ttl} TTL mismatches on the wire${serialsAgree ? '' : ', serials differ'}; ${differences.slice(0, 5).join('; ')}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}`
        : `${zoneName}: ${observations.records} records in ${compared.size} rrsets served alike by ${servers.length} server(s), serial ${wantSerial}`;
      const measurement: Measurement = { observations, warnings, message };
      // With no assertions of its own, any drift fails the run: finding it is the kind's purpose.
      if (differences.length > 0 && spec.expect.length === 0) measurement.error = { code: 'DNS', message };
      return measurement;
    },
    close: () => client.close(),
  };
}

async function syncStatus(ctx: ProbeContext, config: NonNullable<ZoneSyncSpec['syncStatus']>, zoneName: string, differences: string[], maxBodyBytes: number): Promise<Observations> {
  const body = (await getJson(ctx, config.url, config.headers ?? {}, 'ScaiDNS sync-status', maxBodyBytes)) as { zones?: Array<{ zone?: string; name?: string; status?: string; last_synced_at?: string }> };
  const zones = Array.isArray(body.zones) ? body.zones : [];
  const now = ctx.clock.now();
  const failed = zones.filter((zone) => zone.status === 'failed').map((zone) => zone.zone ?? zone.name ?? '?');
  const stale = zones
    .filter((zone) => zone.last_synced_at && now - Date.parse(zone.last_synced_at) > config.maxAge)
    .map((zone) => zone.zone ?? zone.name ?? '?');
  const ours = zones.find((zone) => fqdn(zone.zone ?? zone.name ?? '') === zoneName);
  for (const name of failed) differences.push(`ScaiDNS sync-status: ${name} failed`);
  for (const name of stale) differences.push(`ScaiDNS sync-status: ${name} last synced more than ${Math.round(config.maxAge / 60000)}m ago`);
  return {
    'sync.failed': failed.length,
    'sync.failedZones': failed,
    'sync.stale': stale.length,
    'sync.age': ours?.last_synced_at ? now - Date.parse(ours.last_synced_at) : null,
    'sync.status': ours?.status ?? null,
  };
}

export const zoneSyncKind: ProbeKind<ZoneSyncSpec> = {
  kind: 'zone-sync',
  fields,
  create: createZoneSyncProber,
};
