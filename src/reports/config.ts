import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../config/load.ts';

const tenantSchema = z.strictObject({
  /** Bearer token that reads this tenant's report (and nothing else). */
  token: z.string().min(8, 'must be at least 8 characters').optional(),
  /** Name printed on the report; defaults to the tenant id. */
  name: z.string().min(1).optional(),
});

export const reportsSchema = z.strictObject({
  tenants: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'tenant ids are letters, digits, ".", "_" or "-"'), tenantSchema).default({}),
});

export type ReportsConfig = z.output<typeof reportsSchema>;

/** The file that holds the top-level `reports:` key, so errors point at it. */
function fileWithSection(files: string[]): string {
  return files.find((file) => {
    try {
      return /^reports\s*:/m.test(readFileSync(file, 'utf8'));
    } catch {
      return false;
    }
  }) ?? files[0] ?? 'configuration';
}

/** Validates `config.sections.reports` (absent = no tenant tokens). Throws ConfigError with file + key path. */
export function parseReportsConfig(section: unknown, files: string[]): ReportsConfig {
  const result = reportsSchema.safeParse(section ?? {});
  if (result.success) return result.data;
  const file = fileWithSection(files);
  const issues: ConfigIssue[] = result.error.issues.map((issue) => ({
    file,
    path: ['reports', ...(issue.path as Array<string | number>)],
    message: issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message,
  }));
  throw new ConfigError(issues);
}
