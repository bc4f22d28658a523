// The `reports:` section of the configuration: tenants, their tokens, and how many renders run at once.
import { z } from 'zod';
import { ConfigError, locateSectionIssues, type ConfigIssue } from '../config/load.ts';

const tenantSchema = z.strictObject({
  /** Bearer token that reads this tenant's report (and nothing else). */
  token: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Name printed on the report; defaults to the tenant id. */
  name: z.string().min(1).optional(),
});

/** Report renders (HTML and PDF cost CPU and a browser): this many at once, this many waiting, 429 beyond. */
const rendersSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(32).default(2),
  queue: z.number().int().min(0).max(1000).default(8),
});

export const reportsSchema = z.strictObject({
  tenants: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'tenant ids are letters, digits, ".", "_" or "-"'),
      tenantSchema,
    )
    .default({}),
  renders: rendersSchema.default({ concurrency: 2, queue: 8 }),
});

export type ReportsConfig = z.output<typeof reportsSchema>;

/**
 * Tenant tokens open part of the API, so they only make sense beside an admin
 * token (without one the daemon is open to every caller anyway), and each must
 * name one tenant: a token shared by two tenants, or equal to the admin's, would
 * read more than its tenant.
 */
function tokenIssues(reports: ReportsConfig, adminToken: string | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const owners = new Map<string, string>();
  for (const [id, tenant] of Object.entries(reports.tenants)) {
    if (tenant.token === undefined) continue;
    const path = ['reports', 'tenants', id, 'token'];
    if (!adminToken)
      issues.push({
        file: '',
        path,
        message:
          'tenant tokens need server.token: without an admin token the API is open and a tenant token would restrict nothing',
      });
    if (adminToken !== undefined && tenant.token === adminToken)
      issues.push({ file: '', path, message: 'is the same as server.token; give each tenant a token of its own' });
    const other = owners.get(tenant.token);
    if (other !== undefined)
      issues.push({
        file: '',
        path,
        message: `is the same as the token of tenant "${other}"; each tenant needs its own token`,
      });
    owners.set(tenant.token, id);
  }
  return issues;
}

/** Validates `config.sections.reports` (absent = no tenant tokens). Throws ConfigError with file + key path. */
export function parseReportsConfig(
  section: unknown,
  files: string[],
  server?: { token?: string | undefined },
): ReportsConfig {
  const result = reportsSchema.safeParse(section ?? {});
  if (result.success) {
    const issues = server ? tokenIssues(result.data, server.token) : [];
    if (issues.length === 0) return result.data;
    throw new ConfigError(
      locateSectionIssues(
        files,
        'reports',
        issues.map(({ path, message }) => ({ path, message })),
      ),
    );
  }
  const issues = result.error.issues.map((issue) => ({
    path: ['reports', ...(issue.path as Array<string | number>)],
    message:
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message,
  }));
  throw new ConfigError(locateSectionIssues(files, 'reports', issues));
}
