// The zone-sync kind: the PowerDNS API's zone against what each server serves, and the intended records.
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
import { fetchPdnsZone, listPdnsZones } from '../protocols/dns/powerdns.ts';
import { sweepZones, zoneMatcher, type AskDns, type SweptZone } from '../protocols/dns/zone-sweep.ts';
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
      api: z.url(),
      apiKey: z.string().min(1),
      /** One zone, compared record by record. */
      zone: z.string().min(1).optional(),
      /** Every zone the API lists (`all`), or those matching globs: SOA serial and NS set at every server. */
      zones: z.union([z.literal('all'), z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
      server: z.string().default('localhost'),
    })
    .strict(),
  /** With `zones`: how many zones each run also compares record by record (taken in turn, run after run). */
  sample: z.number().int().min(0).max(1000).default(3),
  servers: z.array(serverText()).min(1),
  /** A third side: the records ScaiDNS means to serve (a URL answering {rrsets: [...]}, or inline rrsets). */
  intended: z
    .object({
      url: z.url().optional(),
      headers: z.record(z.string(), z.string()).optional(),
      rrsets: z.array(rrsetInput).optional(),
    })
    .strict()
    .optional(),
  /** ScaiDNS's GET /api/v1/admin/sync-status: zones `failed`, or synced longer ago than maxAge. */
  syncStatus: z
    .object({
      url: z.url(),
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

type ServedRrsets = { server: DnsServer; map: Map<string, Rrset>; errors: string[]; serial: number | undefined };

/** What one server serves for each rrset the API has (the wire cannot list names the API lacks without AXFR). */
async function servedBy(
  client: DnsClient,
  spec: ZoneSyncSpec,
  ctx: ProbeContext,
  server: DnsServer,
  keys: Array<{ name: string; type: string }>,
): Promise<ServedRrsets> {
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
      name: fqdn(spec.powerdns.zone ?? ''),
      type: 'SOA',
      server,
      signal: ctx.signal,
      timeoutMs: spec.queryTimeout,
      retries: spec.queryRetries,
    })
    .catch(() => undefined);
  return { server, map, errors, serial: soa ? soaSerial(soa.answers) : undefined };
}

/** Each server's rrsets against the API's: counts per server and in all, and the differences found. */
function compareServers(
  results: ServedRrsets[],
  compared: Map<string, Rrset>,
  wantSerial: number | undefined,
  observations: Observations,
) {
  const differences: string[] = [];
  const warnings: string[] = [];
  let missing = 0;
  let extra = 0;
  let ttl = 0;
  const serialsAgree = results.every((result) => result.serial !== undefined && result.serial === wantSerial);
  for (const { server, ...result } of results) {
    const diff = diffRrsets(compared, result.map, server.label);
    missing += diff.missing.length;
    extra += diff.extra.length;
    ttl += diff.ttl.length;
    observations[`missing.${server.label}`] = diff.missing.length;
    observations[`extra.${server.label}`] = diff.extra.length;
    observations[`serial.${server.label}`] = result.serial ?? null;
    differences.push(...diff.missing, ...diff.extra, ...diff.ttl);
    if (result.errors.length)
      warnings.push(`${server.label}: ${result.errors.length} queries failed (${result.errors[0]})`);
  }
  Object.assign(observations, {
    missing,
    extra,
    'ttl.mismatch': ttl,
    'serial.agree': serialsAgree,
    differences: differences.slice(0, 50),
  });
  if (!serialsAgree)
    differences.push(
      `SOA serials: API edited_serial ${wantSerial}, ${results.map((r) => `${r.server.label} ${r.serial ?? '?'}`).join(', ')}`,
    );
  return { differences, warnings, missing, extra, ttl, serialsAgree };
}

/** The API's rrsets against the intended ones (given inline or fetched); adds the differences found. */
async function compareIntended(
  ctx: ProbeContext,
  spec: ZoneSyncSpec,
  intendedSpec: NonNullable<ZoneSyncSpec['intended']>,
  compared: Map<string, Rrset>,
  into: { observations: Observations; differences: string[] },
): Promise<void> {
  const intended = normalizeRrsets(
    intendedSpec.url
      ? ((
          (await getJson(ctx, intendedSpec.url, intendedSpec.headers ?? {}, 'intended records', spec.maxBodyBytes)) as {
            rrsets?: RrsetInput[];
          }
        ).rrsets ?? [])
      : (intendedSpec.rrsets ?? []),
  );
  const diff = diffRrsets(intended, compared, 'PowerDNS API vs intended');
  Object.assign(into.observations, {
    'intended.missing': diff.missing.length,
    'intended.extra': diff.extra.length,
    'intended.ttl.mismatch': diff.ttl.length,
  });
  into.differences.push(...diff.missing, ...diff.extra, ...diff.ttl);
}

function createZoneSyncProber(spec: ZoneSyncSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  if (spec.powerdns.zones !== undefined) return createZoneSweepProber(spec, deps);
  const client = new DnsClient({ clock: deps.clock });
  const servers = spec.servers.map((text) => parseServer(text));
  const zoneName = fqdn(spec.powerdns.zone ?? '');

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
      const wantSerial = zone.edited_serial ?? zone.serial;
      observations['serial.api'] = wantSerial ?? null;
      const results = await Promise.all(servers.map((server) => servedBy(client, spec, ctx, server, keys)));
      const { differences, warnings, missing, extra, ttl, serialsAgree } = compareServers(
        results,
        compared,
        wantSerial,
        observations,
      );
      if (spec.intended) await compareIntended(ctx, spec, spec.intended, compared, { observations, differences });
      if (spec.syncStatus)
        Object.assign(observations, await syncStatus(ctx, spec.syncStatus, zoneName, differences, spec.maxBodyBytes));

      const message = differences.length
        ? `${zoneName}: ${missing} missing, ${extra} extra, ${ttl} TTL mismatches on the wire${serialsAgree ? '' : ', serials differ'}; ${differences.slice(0, 5).join('; ')}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}`
        : `${zoneName}: ${String(observations.records)} records in ${compared.size} rrsets served alike by ${servers.length} server(s), serial ${wantSerial}`;
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
  check: checkZoneSync,
  create: createZoneSyncProber,
};

function checkZoneSync(spec: ZoneSyncSpec): Array<{ path: (string | number)[]; message: string }> {
  const { zone, zones } = spec.powerdns;
  if ((zone === undefined) === (zones === undefined))
    return [{ path: ['powerdns'], message: 'name either one zone (zone) or a set of zones (zones: all, or globs)' }];
  if (zones !== undefined && spec.intended)
    return [
      { path: ['intended'], message: 'intended records are compared for one zone (powerdns.zone), not with zones' },
    ];
  return [];
}

const ZONE_LIST_BYTES = 16 * 1024 * 1024;

/** The most zone names a sweep's run lists in its observations and message. */
const LISTED = 100;

/**
 * `zones: all` (or globs): every zone the API lists, asked of every server for its SOA serial and NS set
 * (against the API's serial and each other), plus a few zones a run compared record by record, in turn.
 */
function createZoneSweepProber(spec: ZoneSyncSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  const client = new DnsClient({ clock: deps.clock });
  const servers = spec.servers.map((text) => parseServer(text));
  const patterns = [spec.powerdns.zones ?? 'all'].flat();
  const matches = zoneMatcher(patterns);
  return {
    async probe(ctx) {
      // The zone list is one answer of about 250 bytes a zone: 16 MiB holds some 60,000 zones.
      const listed = (await listPdnsZones(ctx, spec.powerdns, Math.max(spec.maxBodyBytes, ZONE_LIST_BYTES))).filter(
        (zone) => matches(zone.name),
      );
      const ask: AskDns = (name, type, server) =>
        client.query({
          name,
          type,
          server,
          signal: ctx.signal,
          transport: spec.transport,
          timeoutMs: spec.queryTimeout,
          retries: spec.queryRetries,
        });
      const swept = await sweepZones({
        zones: listed,
        servers,
        ask,
        concurrency: spec.concurrency,
        signal: ctx.signal,
      });
      const cursor = typeof ctx.previousState === 'number' ? ctx.previousState : 0;
      const sampled = await compareSample(spec, deps, ctx, listed, cursor);
      const measurement = sweepMeasurement(swept, servers, sampled, patterns);
      measurement.state = listed.length === 0 ? 0 : (cursor + sampled.zones.length) % listed.length;
      if (spec.syncStatus) {
        const differences: string[] = [];
        Object.assign(
          measurement.observations,
          await syncStatus(ctx, spec.syncStatus, '', differences, spec.maxBodyBytes),
        );
        if (differences.length > 0)
          measurement.message = `${measurement.message ?? ''}; ${differences.slice(0, 5).join('; ')}`;
      }
      const outOfSync = Number(measurement.observations['zones.outOfSync']) + sampled.differing.length;
      if (outOfSync > 0 && spec.expect.length === 0)
        measurement.error = { code: 'DNS', message: measurement.message ?? '' };
      return measurement;
    },
    close: () => client.close(),
  };
}

/** The zones of this run's sample compared record by record, as the one-zone form of the kind does it. */
async function compareSample(
  spec: ZoneSyncSpec & CommonProbeSpec,
  deps: ProberDeps,
  ctx: ProbeContext,
  listed: ReadonlyArray<{ name: string }>,
  cursor: number,
): Promise<{ zones: string[]; differing: string[] }> {
  const count = Math.min(spec.sample, listed.length);
  const zones = Array.from({ length: count }, (_, i) => listed[(cursor + i) % listed.length]?.name ?? '');
  const differing: string[] = [];
  for (const zone of zones) {
    const one = createZoneSyncProber(
      { ...spec, powerdns: { ...spec.powerdns, zone, zones: undefined }, syncStatus: undefined, expect: [] },
      deps,
    );
    try {
      const result = await one.probe(ctx);
      if (result.error) differing.push(result.error.message);
    } finally {
      await one.close?.();
    }
  }
  return { zones, differing };
}

function sweepMeasurement(
  swept: SweptZone[],
  servers: DnsServer[],
  sampled: { zones: string[]; differing: string[] },
  patterns: string[],
): Measurement {
  const outOfSync = swept.filter((zone) => zone.problems.length > 0);
  const observations: Observations = {
    zones: swept.length,
    'zones.outOfSync': outOfSync.length,
    'zones.outOfSyncNames': outOfSync.slice(0, LISTED).map((zone) => zone.zone),
    'sample.zones': sampled.zones,
    'sample.differing': sampled.differing.length,
  };
  for (const server of servers) {
    const at = swept.map((zone) => zone.servers.find((s) => s.label === server.label));
    observations[`unanswered.${server.label}`] = at.filter((s) => s?.error !== undefined).length;
    observations[`serial.differs.${server.label}`] = swept.filter((zone, i) => {
      const serial = at[i]?.serial;
      return serial !== undefined && zone.apiSerial !== undefined && serial !== zone.apiSerial;
    }).length;
  }
  const lines = [
    ...outOfSync.slice(0, 5).map((zone) => `${zone.zone} (${zone.problems.join('; ')})`),
    ...sampled.differing.slice(0, 3),
  ];
  const more = outOfSync.length + sampled.differing.length - lines.length;
  const scope = patterns.includes('all') ? 'zones' : `zones matching ${patterns.join(', ')}`;
  const message =
    lines.length === 0
      ? `${swept.length} ${scope} at ${servers.length} server(s): SOA serials and NS sets agree with the API; ${sampled.zones.length} sampled zone(s) served record for record`
      : `${outOfSync.length} of ${swept.length} ${scope} out of sync${sampled.differing.length ? `, ${sampled.differing.length} sampled zone(s) differ` : ''}: ${lines.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
  return { observations, message, warnings: [] };
}
