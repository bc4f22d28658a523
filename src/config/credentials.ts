// Credentials in configuration strings outside secret keys: URL userinfo, query parameters, headers.
/**
 * Where a configuration string carries a credential even though its key is
 * not a secret-typed one: the password of a URL's userinfo, a query parameter
 * or header named like a credential, `Authorization` / `Proxy-Authorization`
 * / `Cookie` header values. Those parts must be written as references, and
 * the references there count as secrets (redacted everywhere).
 *
 * The checks run on a template: the raw string with each `${...}` replaced by
 * a placeholder, so that a reference such as `${file:/run/secrets/x}` cannot
 * be mistaken for a path, query or userinfo delimiter.
 */

/** A query parameter or header whose name contains one of these holds a credential. */
const CREDENTIAL_NAME = /key|token|secret|passw(?:or)?d|signature/i;
/** Short names that are credentials only when they are the whole name (`sig` in an Azure SAS URL). */
const CREDENTIAL_EXACT = new Set(['sig', 'pwd', 'auth']);
/** Headers whose value is a credential, whatever their name says. */
const AUTH_HEADERS = new Set(['authorization', 'proxy-authorization']);

const OPEN = '\u0000';
const CLOSE = '\u0001';
const PLACEHOLDER = new RegExp(`${OPEN}(\\d+)${CLOSE}`, 'g');
const ONLY_PLACEHOLDERS = new RegExp(`^(?:${OPEN}\\d+${CLOSE})+$`);
/** scheme://authority/path?query#fragment, on a template (no whitespace: free text is not a URL). */
const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\s]*)([^?#\s]*)(?:\?([^#\s]*))?(?:#\S*)?$/;
/** An optional auth scheme word (`Bearer`, `Basic`, `Token`) and then nothing but references. */
const SCHEME_AND_REFERENCES = new RegExp(`^\\s*(?:[A-Za-z][A-Za-z0-9._~+/-]*\\s+)?(?:${OPEN}\\d+${CLOSE})+\\s*$`);

export function placeholder(index: number): string {
  return `${OPEN}${index}${CLOSE}`;
}

export interface CredentialFinding {
  /** Indexes of the references that sit where a credential goes: their values are secrets. */
  references: number[];
  /** Credentials written inline, each a sentence that says how to write it instead. */
  problems: string[];
}

export function isCredentialName(name: string): boolean {
  const lower = name.toLowerCase();
  return CREDENTIAL_EXACT.has(lower) || CREDENTIAL_NAME.test(lower);
}

function referencesIn(segment: string): number[] {
  return [...segment.matchAll(PLACEHOLDER)].map((match) => Number(match[1]));
}

const onlyReferences = (segment: string) => ONLY_PLACEHOLDERS.test(segment.trim());

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/** Checks a URL-shaped template; anything that is not a URL has no findings. */
export function urlCredentials(template: string): CredentialFinding {
  const found: CredentialFinding = { references: [], problems: [] };
  const match = URL_SHAPE.exec(template.trim());
  if (!match) return found;
  const [, scheme = 'https', authority = '', , query] = match;
  const at = authority.lastIndexOf('@');
  if (at >= 0) checkUserinfo(authority.slice(0, at), scheme, found);
  if (query) for (const pair of query.split('&')) checkQueryPair(pair, found);
  return found;
}

function checkUserinfo(userinfo: string, scheme: string, found: CredentialFinding): void {
  const colon = userinfo.indexOf(':');
  // Without a password, a userinfo written as a reference is a token used as the user name (https://${TOKEN}@host).
  const password = colon >= 0 ? userinfo.slice(colon + 1) : onlyReferences(userinfo) ? userinfo : '';
  if (password === '') return;
  if (onlyReferences(password)) found.references.push(...referencesIn(password));
  else
    found.problems.push(
      `the URL has a password written inline: write it as a reference, e.g. "${scheme}://user:\${ENV_NAME}@host/" (or \${file:/run/secrets/NAME}); it is then redacted everywhere`,
    );
}

function checkQueryPair(pair: string, found: CredentialFinding): void {
  const equals = pair.indexOf('=');
  const name = decodeName(equals >= 0 ? pair.slice(0, equals) : pair);
  const value = equals >= 0 ? pair.slice(equals + 1) : '';
  if (value === '' || referencesIn(name).length > 0 || !isCredentialName(name)) return;
  if (onlyReferences(value)) found.references.push(...referencesIn(value));
  else
    found.problems.push(
      `the query parameter "${name}" is a credential written inline: write it as a reference, e.g. ?${name}=\${ENV_NAME} (or \${file:/run/secrets/NAME}); it is then redacted everywhere`,
    );
}

/** Checks one entry of a `headers:` mapping. */
export function headerCredentials(name: string, template: string): CredentialFinding {
  const found: CredentialFinding = { references: [], problems: [] };
  const lower = name.toLowerCase();
  if (lower === 'cookie') return cookieCredentials(template);
  if (!AUTH_HEADERS.has(lower) && !isCredentialName(lower)) return found;
  if (SCHEME_AND_REFERENCES.test(template)) found.references.push(...referencesIn(template));
  else
    found.problems.push(
      `the header "${name}" is a credential written inline: write it as a reference, e.g. "Bearer \${API_TOKEN}" or "\${file:/run/secrets/NAME}"; it is then redacted everywhere`,
    );
  return found;
}

function cookieCredentials(template: string): CredentialFinding {
  const found: CredentialFinding = { references: [], problems: [] };
  for (const pair of template.split(';')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    const value = equals >= 0 ? pair.slice(equals + 1) : pair;
    if (onlyReferences(value)) found.references.push(...referencesIn(value));
    else if (value.trim() !== '') {
      found.problems.push(
        'cookie values are credentials written inline: write each as a reference, e.g. "session=${SESSION_COOKIE}"; they are then redacted everywhere',
      );
      return found;
    }
  }
  return found;
}
