// Secret references (${ENV} and ${file:...}) resolved in a configuration, and inline credentials refused.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { headerCredentials, placeholder, urlCredentials, type CredentialFinding } from './credentials.ts';

/** Keys whose values are credentials: they may only be written as references, and their values are secrets. */
export const SECRET_KEYS = new Set([
  'apiKey',
  'pass',
  'password',
  'token',
  'accessToken',
  'bearerToken',
  'secret',
  'routingKey',
  'adminToken',
  'tenantTokens',
]);

/** `${ENV_NAME}`, `${file:PATH}`; with the `secret:` mark (`${secret:ENV_NAME}`, `${secret:file:PATH}`) the value is a secret wherever it is used. */
const REFERENCE = /\$\{([^}]+)\}/g;
const WHOLE_REFERENCE = /^\s*\$\{[^}]+\}\s*$/;
const SECRET_MARK = 'secret:';

export interface SecretIssue {
  path: (string | number)[];
  message: string;
}

interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  /** Receives the resolved values that are secrets (for redaction). */
  secrets: Set<string>;
  issues: SecretIssue[];
}

/**
 * Replaces `${...}` references in every string of a parsed YAML tree. Only
 * values that are secrets are collected for redaction: those of secret-typed
 * keys, those marked `secret:`, and those in a credential position (a URL's
 * password, a credential-named query parameter or header, Authorization and
 * Cookie). Any other reference (`${DNS_HOST}`) is plain configuration: hiding
 * it would only blank out observation names and messages.
 */
export function resolveSecrets(value: unknown, options: ResolveOptions, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return resolveString(value, path, options);
  if (Array.isArray(value)) return value.map((item, index) => resolveSecrets(item, options, [...path, index]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (SECRET_KEYS.has(key) && typeof child === 'string' && !WHOLE_REFERENCE.test(child)) {
        options.issues.push({
          path: [...path, key],
          message: `is a secret: write it as "\${ENV_NAME}" or "\${file:/path}", not inline`,
        });
      }
      out[key] = resolveSecrets(child, options, [...path, key]);
    }
    return out;
  }
  return value;
}

/** The nearest key above a value decides whether it is secret-typed (so `tenantTokens: [...]` items are too). */
function underSecretKey(path: (string | number)[]): boolean {
  for (let i = path.length - 1; i >= 0; i--) {
    const part = path[i];
    if (typeof part === 'string') return SECRET_KEYS.has(part);
  }
  return false;
}

function credentialsAt(template: string, path: (string | number)[]): CredentialFinding {
  const key = path[path.length - 1];
  if (typeof key === 'string' && path[path.length - 2] === 'headers') return headerCredentials(key, template);
  return urlCredentials(template);
}

function resolveString(text: string, path: (string | number)[], options: ResolveOptions): string {
  const references = [...text.matchAll(REFERENCE)].map((match) => (match[1] ?? '').trim());
  let index = 0;
  const template = text.replace(REFERENCE, () => placeholder(index++));
  const credentials = credentialsAt(template, path);
  for (const problem of credentials.problems) options.issues.push({ path, message: problem });
  const allSecret = underSecretKey(path);
  const values = references.map((reference, i) => {
    const resolved = lookup(reference, options);
    if (resolved === undefined) {
      options.issues.push({ path, message: `\${${reference}}: ${describeMissing(reference)}` });
      return '';
    }
    if (resolved.trim() === '') {
      // An empty token or password would silently mean "none" and switch a check off.
      options.issues.push({
        path,
        message: `\${${reference}}: ${describeEmpty(reference)}; set it to the value, or remove the key`,
      });
      return '';
    }
    if (allSecret || reference.startsWith(SECRET_MARK) || credentials.references.includes(i))
      options.secrets.add(resolved);
    return resolved;
  });
  index = 0;
  return text.replace(REFERENCE, () => values[index++] ?? '');
}

const unmarked = (reference: string) =>
  reference.startsWith(SECRET_MARK) ? reference.slice(SECRET_MARK.length) : reference;

function describeMissing(reference: string): string {
  const target = unmarked(reference);
  return target.startsWith('file:')
    ? `file ${target.slice(5)} cannot be read`
    : `environment variable ${target} is not set`;
}

function describeEmpty(reference: string): string {
  const target = unmarked(reference);
  return target.startsWith('file:')
    ? `file ${target.slice(5)} is empty`
    : `environment variable ${target} is set but empty`;
}

function lookup(reference: string, options: ResolveOptions): string | undefined {
  const target = unmarked(reference);
  if (target.startsWith('file:')) {
    const file = target.slice(5);
    try {
      return readFileSync(isAbsolute(file) ? file : resolve(options.baseDir, file), 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  }
  return options.env[target];
}

export { dirname };
