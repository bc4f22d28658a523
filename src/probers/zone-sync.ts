import { z } from 'zod';
import type { RecordType } from 'dns-packet';
import { classifyNetworkError } from '../core/errors.ts';
import { mapLimit } from '../util/map-limit.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { DnsClient, parseServer, type DnsServer } from '../protocols/dns/wire.ts';
import { fqdn, rdataText, soaSerial } from '../protocols/dns/records.ts';
import { queryFields, serverText } from '../protocols/dns/config.ts';
import { duration } from '../core/schema.ts';
import { maxBodyBytesField } from '../protocols/http/body-limit.ts';
import { getJson } from '../protocols/http/json.ts';
import { fetchPdnsZone } from '../protocols/dns/powerdns.ts';
import {
  diffRrsets,
  normalizeRrsets,
  rrsetInput,
  rrsetKey,
  type Rrset,
  type RrsetInput,
} from '../protocols/dns/rrsets.ts';

const fields = z.object({
  powerdns: z
    .object({
      api: z.string().url(),
      apiKey: z.string().min(1),
      zone: z.string().min(1),
      server: z.string().default('localhost'),
    })
    .strict(),
  servers: z.array(serverText()).min(1),
  /** A third side: the records ScaiDNS means to serve (a URL answering {rrsets: [...]}, or inline rrsets). */
  intended: z
    .object({
      url: z.string().url().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      rrsets: z.array(rrsetInput).optional(),
    })
    .strict()
    .optional(),
  /** ScaiDNS's GET /api/v1/admin/sync-status: zones `failed`, or synced longer ago than maxAge. */
  syncStatus: z
    .object({
      url: z.string().url(),
      headers: z.record(z.string(), z.string()).optional(),
      maxAge: duration().default(3_600_000),
    })
    .strict()
    .optional(),
  transport: z.enum(['udp', 'tcp']).default('udp'),
  concurrency: z.number().int().min(1).max(500).default(20),
  /** For each HTTP answer (the PowerDNS zone, intended records, sync-status); a bigger one fails the run. */
  maxBodyBytes: maxBodyBytesField(),
  ...queryFields,
});

export type ZoneSyncSpec = z.output<typeof fields>;

function createZoneSyncProber(spec: ZoneSyncSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const servers = spec.servers.map((text) => parseServer(text));
  const zoneName = fqdn(spec.powerdns.zone);

  /** What one server serves for each rrset the API has (the wire cannot list names the API lacks without AXFR). */
  const served = async (ctx: ProbeContext, server: DnsServer, keys: Array<{ name: string; type: string }>) => {
    const map = new Map<string, Rrset>();
    const errors: string[] = [];
    await mapLimit(keys, spec.concurrency, async ({ name, type }) => {
      try {
        const reply = await client.query({
          name,
          type: type as RecordType,
          server,
          signal: ctx.signal,
          transport: spec.transport,
          timeoutMs: spec.queryTimeout,
          retries: spec.queryRetries,
        });
        const records = reply.answers.filter((record) => record.type === type && fqdn(record.name) === fqdn(name));
        if (records.length === 0) return;
        map.set(rrsetKey(name, type), {
          name: fqdn(name),
          type,
          ttl: (records[0] as { ttl?: number }).ttl ?? 0,
          records: new Set(records.map(rdataText)),
        });
      } catch (error) {
        if (ctx.signal.aborted) throw classifyNetworkError(error, ctx.signal);
        errors.push(`${name} ${type}: ${(error as Error).message}`);
      }
    });
    const soa = await client
      .query({
        name: zoneName,
        type: 'SOA',
        server,
        signal: ctx.signal,
        timeoutMs: spec.queryTimeout,
        retries: spec.queryRetries,
      })
      .catch(() => undefined);
    return { map, errors, serial: soa ? soaSerial(soa.answers) : undefined };
  };

  return {
    async probe(ctx) {
      const zone = await fetchPdnsZone(ctx, spec.powerdns, zoneName, spec.maxBodyBytes);
      const api = normalizeRrsets(zone.rrsets);
      // The SOA is compared by serial (against edited_serial), not by content.
      const compared = new Map([...api].filter(([, rrset]) => rrset.type !== 'SOA'));
      const keys = [...compared.values()].map(({ name, type }) => ({ name, type }));
      const observations: Observations = {
        rrsets: compared.size,
        records: [...compared.values()].reduce((sum, rrset) => sum + rrset.records.size, 0),
      };
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
        if (result.errors.length)
          warnings.push(`${server.label}: ${result.errors.length} queries failed (${result.errors[0]})`);
      });
      Object.assign(observations, {
        missing,
        extra,
        'ttl.mismatch': ttl,
        'serial.agree': serialsAgree,
        differences: differences.slice(0, 50),
      });
      if (!serialsAgree)
        differences.push(
          `SOA serials: API edited_serial ${wantSerial}, ${servers.map((s, i) => `${s.label} ${results[i]?.serial ?? '?'}`).join(', ')}`,
        );

      if (spec.intended) {
        const intended = normalizeRrsets(
          spec.intended.url
            ? ((
                (await getJson(
                  ctx,
                  spec.intended.url,
                  spec.intended.headers ?? {},
                  'intended records',
                  spec.maxBodyBytes,
                )) as { rrsets?: RrsetInput[] }
              ).rrsets ?? [])
            : (spec.intended.rrsets ?? []),
        );
        const diff = diffRrsets(intended, compared, 'PowerDNS API vs intended');
        Object.assign(observations, {
          'intended.missing': diff.missing.length,
          'intended.extra': diff.extra.length,
          'intended.ttl.mismatch': diff.ttl.length,
        });
        differences.push(...diff.missing, ...diff.extra, ...diff.ttl);
      }
      if (spec.syncStatus)
        Object.assign(observations, await syncStatus(ctx, spec.syncStatus, zoneName, differences, spec.maxBodyBytes));

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

async function syncStatus(
  ctx: ProbeContext,
  config: NonNullable<ZoneSyncSpec['syncStatus']>,
  zoneName: string,
  differences: string[],
  maxBodyBytes: number,
): Promise<Observations> {
  const body = (await getJson(ctx, config.url, config.headers ?? {}, 'ScaiDNS sync-status', maxBodyBytes)) as {
    zones?: Array<{ zone?: string; name?: string; status?: string; last_synced_at?: string }>;
  };
  const zones = Array.isArray(body.zones) ? body.zones : [];
  const now = ctx.clock.now();
  const failed = zones.filter((zone) => zone.status === 'failed').map((zone) => zone.zone ?? zone.name ?? '?');
  const stale = zones
    .filter((zone) => zone.last_synced_at && now - Date.parse(zone.last_synced_at) > config.maxAge)
    .map((zone) => zone.zone ?? zone.name ?? '?');
  const ours = zones.find((zone) => fqdn(zone.zone ?? zone.name ?? '') === zoneName);
  for (const name of failed) differences.push(`ScaiDNS sync-status: ${name} failed`);
  for (const name of stale)
    differences.push(`ScaiDNS sync-status: ${name} last synced more than ${Math.round(config.maxAge / 60000)}m ago`);
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
