// The http kind: one request, its status, headers, body, JSON and certificate as observations.
import { z } from 'zod';
import { tlsOptionsSchema } from '../core/schema.ts';
import type { HttpResponse } from '../protocols/http/client.ts';
import { canonicalHostPattern } from '../protocols/http/redirects.ts';
import { isSensitiveResponseHeader } from '../protocols/http/sensitive-headers.ts';
import type { CommonProbeSpec, Measurement, Observations } from '../core/probe.ts';
import type { ProbeKind, Prober } from './kind.ts';
import { flattenJson, MAX_JSON_DEPTH, MAX_JSON_KEYS, MAX_WHOLE_LIST } from '../protocols/http/json-flatten.ts';

const fields = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
  headers: z.record(z.string(), z.string()).default({}),
  /** A string is sent as is; anything else as JSON. */
  body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  /** Redirects to follow; 0 reports the 3xx itself. */
  redirects: z.number().int().min(0).max(20).default(5),
  /** Follow a redirect from https to plain http (the configured headers and body still stay behind). */
  allowInsecureRedirects: z.boolean().default(false),
  /** Hosts a redirect may lead to besides the url's own; absent: any host but link-local and metadata addresses. */
  redirectHosts: z
    .array(
      z.string().refine((entry) => canonicalHostPattern(entry) !== undefined, {
        error: 'must be a host name, "*.domain" or an IP address (no scheme, port or path)',
      }),
    )
    .optional(),
  tls: tlsOptionsSchema,
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /**
   * What the endpoint is to the operators' thresholds (indicators): `readiness` (how long it has not been ready),
   * `send` (the /v3/mail/send p99), `read` (the read API's p99) or `other`. Default: read from the URL's path.
   */
  role: z.enum(['readiness', 'send', 'read', 'other']).optional(),
});

type HttpSpec = z.output<typeof fields>;

/** The role the manuals give an endpoint by its path: readiness probes, ScaiSend's send call, its other v3 reads. */
export function endpointRole(url: string): 'readiness' | 'send' | 'read' | 'other' {
  const path = new URL(url).pathname;
  if (/\/ready$|\/health\/ready$/.test(path)) return 'readiness';
  if (path.startsWith('/v3/mail/send')) return 'send';
  if (path.startsWith('/v3/')) return 'read';
  return 'other';
}

/** `/health/ready` style bodies: the checks that are not "ok", with their reasons. */
export function failingChecks(json: unknown): string[] {
  const checks = (json as { checks?: unknown } | null)?.checks;
  if (!checks || typeof checks !== 'object' || Array.isArray(checks)) return [];
  return Object.entries(checks)
    .filter(([, result]) => !['ok', 'healthy', 'pass', 'up', true].includes(result as string | boolean))
    .map(([name, result]) => `${name}: ${typeof result === 'string' ? result : JSON.stringify(result)}`);
}

function observe(
  response: HttpResponse,
  maxBodyBytes: number,
): { observations: Observations; message: string; warnings: string[] } {
  const { timings } = response;
  const observations: Observations = {
    status: response.status,
    latency: round(timings.total),
    'latency.firstByte': round(timings.firstByte),
    url: response.url,
    redirects: response.hops.length - 1,
    'body.truncated': response.bodyTruncated,
  };
  if (timings.dns !== undefined) observations['latency.dns'] = round(timings.dns);
  if (timings.connect !== undefined) observations['latency.connect'] = round(timings.connect);
  if (timings.tls !== undefined) observations['latency.tls'] = round(timings.tls);
  for (const [name, value] of Object.entries(response.headers)) {
    // A session cookie or auth challenge from the target is not ours to keep (secret redaction only knows our own values).
    if (!isSensitiveResponseHeader(name)) observations[`headers.${name}`] = value;
  }
  if (response.certificate) {
    observations['cert.daysLeft'] = response.certificate.daysLeft;
    observations['cert.validTo'] = response.certificate.validTo;
    observations['cert.subject'] = response.certificate.subject;
    observations['cert.trusted'] = response.certificate.authorized;
  }
  let message = `HTTP ${response.status} in ${Math.round(timings.total)}ms`;
  const warnings: string[] = [];
  // What a cut body says is unknown, not what its first bytes say: no body, size or json.* to assert on.
  if (response.bodyTruncated)
    return {
      observations,
      message: `${message}; body exceeds maxBodyBytes (${maxBodyBytes}): body, body.size and json.* not observed`,
      warnings,
    };
  const text = response.body.toString('utf8');
  observations.body = text;
  observations['body.size'] = response.body.length;
  const contentType = response.headers['content-type'] ?? '';
  if (contentType.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      const json: unknown = JSON.parse(text);
      const whole = flattenJson(text, json, 'json', observations);
      observations['json.valid'] = true;
      if (!whole)
        message += `; JSON not observed whole (at most ${MAX_JSON_KEYS} json.* paths, ${MAX_JSON_DEPTH} levels deep, lists of up to ${MAX_WHOLE_LIST} items whole)`;
      const failing = failingChecks(json);
      if (failing.length > 0) {
        const status = (json as { status?: unknown }).status;
        message += `; ${typeof status === 'string' ? status : 'failing'}: ${failing.join(', ')}`;
        // A 200 whose own checks fail is not a plain pass: the target says it is degraded.
        if (response.status < 400)
          warnings.push(
            `HTTP ${response.status} but checks failing: ${failing.map((check) => check.split(':')[0]).join(', ')}`,
          );
      }
    } catch (error) {
      observations['json.valid'] = false;
      message += `; body is not valid JSON (${(error as Error).message})`;
    }
  }
  return { observations, message, warnings };
}

const round = (ms: number) => Math.round(ms * 100) / 100;

function createHttpProber(spec: HttpSpec & CommonProbeSpec): Prober {
  const redirects = {
    allowInsecure: spec.allowInsecureRedirects,
    ...(spec.redirectHosts ? { hosts: spec.redirectHosts.flatMap((entry) => canonicalHostPattern(entry) ?? []) } : {}),
  };
  const headers = { ...spec.headers };
  let body: string | undefined;
  if (typeof spec.body === 'string') body = spec.body;
  else if (spec.body !== undefined) {
    body = JSON.stringify(spec.body);
    headers['content-type'] ??= 'application/json';
  }
  const role = spec.role ?? endpointRole(spec.url);
  return {
    async probe(ctx): Promise<Measurement> {
      const response = await ctx.http.request({
        url: spec.url,
        method: spec.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: ctx.signal,
        maxRedirects: spec.redirects,
        redirects,
        maxBodyBytes: spec.maxBodyBytes,
        ...(spec.tls ? { tls: spec.tls } : {}),
      });
      const { observations, message, warnings } = observe(response, spec.maxBodyBytes);
      observations['endpoint.role'] = role;
      const phases: Record<string, number> = { firstByte: response.timings.firstByte, total: response.timings.total };
      for (const phase of ['dns', 'connect', 'tls'] as const) {
        const value = response.timings[phase];
        if (value !== undefined) phases[phase] = value;
      }
      return { observations, phases, message, ...(warnings.length > 0 ? { warnings } : {}) };
    },
  };
}

export const httpKind: ProbeKind<HttpSpec> = {
  kind: 'http',
  feeds: { observations: { endpointUrl: 'url', endpointLatency: 'latency', endpointRole: 'endpoint.role' } },
  fields,
  implicitExpect: ['status < 400'],
  create: createHttpProber,
};
