import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';

/** Keys whose values are credentials: they may only be written as references. */
export const SECRET_KEYS = new Set(['apiKey', 'pass', 'password', 'token', 'accessToken', 'secret', 'routingKey', 'adminToken', 'tenantTokens']);

const REFERENCE = /\$\{([^}]+)\}/g;

export interface SecretIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Replaces `${ENV_NAME}` and `${file:PATH}` in every string of a parsed YAML
 * tree, collecting the values so logs and the store can redact them.
 */
export function resolveSecrets(
  value: unknown,
  options: { env: NodeJS.ProcessEnv; baseDir: string; secrets: Set<string>; issues: SecretIssue[] },
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return resolveString(value, path, options);
  if (Array.isArray(value)) return value.map((item, index) => resolveSecrets(item, options, [...path, index]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      if (SECRET_KEYS.has(key) && typeof child === 'string' && !/^\s*\$\{[^}]+\}\s*$/.test(child)) {
        options.issues.push({ path: [...path, key], message: `is a secret: write it as "\${ENV_NAME}" or "\${file:/path}", not inline` });
      }
      out[key] = resolveSecrets(child, options, [...path, key]);
    }
    return out;
  }
  return value;
}

function resolveString(text: string, path: (string | number)[], options: Parameters<typeof resolveSecrets>[1]): string {
  return text.replace(REFERENCE, (_whole, reference: string) => {
    const resolved = lookup(reference.trim(), options);
    if (resolved === undefined) {
      const what = reference.startsWith('file:') ? `file ${reference.slice(5)} cannot be read` : `environment variable ${reference} is not set`;
      options.issues.push({ path, message: `\${${reference}}: ${what}` });
      return '';
    }
    if (resolved.trim() === '') {
      // An empty token or password would silently mean "none" and switch a check off.
      const what = reference.startsWith('file:') ? `file ${reference.slice(5)} is empty` : `environment variable ${reference} is set but empty`;
      options.issues.push({ path, message: `\${${reference}}: ${what}; set it to the value, or remove the key` });
      return '';
    }
    if (resolved.length >= 4) options.secrets.add(resolved);
    return resolved;
  });
}

function lookup(reference: string, options: Parameters<typeof resolveSecrets>[1]): string | undefined {
  if (reference.startsWith('file:')) {
    const file = reference.slice(5);
    try {
      return readFileSync(isAbsolute(file) ? file : resolve(options.baseDir, file), 'utf8').replace(/\r?\n$/, '');
    } catch {
      return undefined;
    }
  }
  return options.env[reference];
}

export { dirname };
