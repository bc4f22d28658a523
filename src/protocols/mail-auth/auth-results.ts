// Authentication-Results headers (RFC 8601) read as a deliverability tool must: only the receiving provider's own.
/**
 * Authentication-Results (RFC 8601) and related headers, read the way a
 * deliverability tool has to: only the receiving provider's own verdict counts.
 */

export interface HeaderField {
  /** Lowercased header name. */
  name: string;
  /** Unfolded value (CRLF + whitespace replaced by one space), trimmed. */
  value: string;
}

/** One `method=result` statement of an Authentication-Results header. */
export interface AuthResult {
  method: string;
  result: string;
  /** `reason=` (quoted or not). */
  reason?: string;
  /** Every other `key=value` of the statement: `header.d`, `smtp.mailfrom`, Microsoft's `action`, ... */
  props: Record<string, string>;
  /** Comments `( ... )` of the statement, without the parentheses (Gmail puts the DMARC policy there). */
  comments: string[];
}

export interface AuthResultsHeader {
  /** '' when the header carries none (Office 365 omits it). */
  authservId: string;
  results: AuthResult[];
}

/**
 * Splits a raw header block (up to the first empty line) into fields in order, top first.
 * Linear in the block's size: each field's lines are collected and joined once
 * (re-joining a growing value per folded line made a 512 KiB header cost seconds).
 */
export function parseHeaderBlock(raw: string | Buffer): HeaderField[] {
  const text = (typeof raw === 'string' ? raw : raw.toString('latin1')).replace(/\r\n/g, '\n');
  const end = text.indexOf('\n\n');
  const block = end >= 0 ? text.slice(0, end) : text;
  const fields: HeaderField[] = [];
  let current: { name: string; lines: string[] } | undefined;
  const finish = () => {
    if (current) fields.push({ name: current.name, value: current.lines.join(' ').trim() });
  };
  for (const line of block.split('\n')) {
    if (current && (line.startsWith(' ') || line.startsWith('\t'))) {
      const folded = line.trim();
      if (folded) current.lines.push(folded);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    finish();
    current = { name: line.slice(0, colon).trim().toLowerCase(), lines: [line.slice(colon + 1).trim()] };
  }
  finish();
  return fields;
}

export function unfold(value: string): string {
  return value.replace(/\r?\n[ \t]+/g, ' ').replace(/\r?\n/g, ' ');
}

interface Segment {
  text: string;
  comments: string[];
}

/**
 * Splits a header value on `;` outside quoted strings and comments, taking
 * comments (nested, with quoted-pairs) out of the text but keeping them per segment.
 */
export function splitSegments(value: string): Segment[] {
  const segments: Segment[] = [];
  let text = '';
  let comments: string[] = [];
  let comment = '';
  let depth = 0;
  let quoted = false;
  const input = unfold(value);
  for (let i = 0; i < input.length; i++) {
    const ch = input[i] as string;
    if (ch === '\\' && (quoted || depth > 0) && i + 1 < input.length) {
      const next = input[++i] as string;
      if (depth > 0) comment += next;
      else text += `\\${next}`;
      continue;
    }
    if (depth > 0) {
      if (ch === '(') depth++;
      else if (ch === ')') depth--;
      if (depth === 0) {
        comments.push(comment.trim());
        comment = '';
        text += ' ';
      } else comment += ch;
      continue;
    }
    if (quoted) {
      text += ch;
      if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') {
      quoted = true;
      text += ch;
    } else if (ch === '(') depth = 1;
    else if (ch === ';') {
      segments.push({ text: text.trim(), comments });
      text = '';
      comments = [];
    } else text += ch;
  }
  if (depth > 0 && comment.trim()) comments.push(comment.trim());
  segments.push({ text: text.trim(), comments });
  return segments.filter((segment) => segment.text !== '' || segment.comments.length > 0);
}

interface Token {
  text: string;
  /** Whether its first / last character stood unquoted (only those may be a separator that glues). */
  bareStart: boolean;
  bareEnd: boolean;
}

/** Whitespace-separated tokens outside quoted strings, quoted-pairs resolved. One pass. */
function rawTokens(text: string): Token[] {
  const found: Token[] = [];
  let current: Token | undefined;
  let quoted = false;
  const add = (ch: string, bare: boolean) => {
    current ??= { text: '', bareStart: bare, bareEnd: bare };
    current.text += ch;
    current.bareEnd = bare;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '\\' && quoted && i + 1 < text.length) add(text[++i] as string, false);
    else if (ch === '"') {
      quoted = !quoted;
      // An empty quoted string is still a value.
      current ??= { text: '', bareStart: false, bareEnd: false };
      current.bareEnd = false;
    } else if (!quoted && /\s/.test(ch)) {
      if (current) found.push(current);
      current = undefined;
    } else add(ch, !quoted);
  }
  if (current) found.push(current);
  return found;
}

/**
 * Tokens with the whitespace RFC 8601 allows around `/`, `.` and `=` taken out
 * (comments are already spaces here): `dkim / 1 = fail`, `header . d = x` and
 * `policy . expired = 1` read as `dkim/1=fail`, `header.d=x`, `policy.expired=1`.
 * `.` and `/` glue only inside a name (before any `=`), so a value ending in a
 * dot (`smtp.helo=mx.example.`) never swallows the next property.
 */
function tokens(text: string): string[] {
  const glued: Token[] = [];
  const found = rawTokens(text);
  for (let i = 0; i < found.length; i++) {
    const token = found[i] as Token;
    const last = glued[glued.length - 1];
    const inName = last !== undefined && !last.text.includes('=');
    // A dot glues only after the first token: the authserv-id segment (`mx.example. 1`) has no ptype.property.
    const dotOk = inName && glued.length > 1;
    const joins =
      last !== undefined &&
      ((token.bareStart && token.text.startsWith('=')) ||
        (inName && token.bareStart && (token.text.startsWith('/') || (dotOk && token.text.startsWith('.')))) ||
        (inName && last.bareEnd && (last.text.endsWith('/') || (dotOk && last.text.endsWith('.')))) ||
        (last.bareEnd && last.text.endsWith('=') && !token.text.includes('=')));
    if (joins) {
      last.text += token.text;
      last.bareEnd = token.bareEnd;
    } else glued.push({ ...token });
  }
  return glued.map((token) => token.text);
}

function parseStatement(segment: Segment): AuthResult | undefined {
  const parts = tokens(segment.text);
  const first = parts[0];
  if (!first || !first.includes('=')) return undefined;
  const eq = first.indexOf('=');
  // `dkim/1=pass`: the version after the method is not part of its name.
  const method = first.slice(0, eq).split('/')[0]?.trim().toLowerCase() ?? '';
  const result = first
    .slice(eq + 1)
    .trim()
    .toLowerCase();
  const props: Record<string, string> = {};
  let reason: string | undefined;
  for (const part of parts.slice(1)) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const key = part.slice(0, at).toLowerCase();
    const value = part.slice(at + 1);
    if (key === 'reason' && reason === undefined) reason = value;
    else if (!(key in props)) props[key] = value;
  }
  return { method, result, ...(reason !== undefined ? { reason } : {}), props, comments: segment.comments };
}

/**
 * Parses one Authentication-Results (or ARC-Authentication-Results) value.
 * The authserv-id is the first segment without `=`; Outlook.com writes it after
 * each result (`spf=none ... ; hotmail.com; dkim=...`) and Office 365 not at all.
 */
export function parseAuthenticationResults(value: string): AuthResultsHeader {
  let authservId: string | undefined;
  const results: AuthResult[] = [];
  for (const segment of splitSegments(value)) {
    const parts = tokens(segment.text);
    const first = parts[0];
    if (!first) continue;
    if (!first.includes('=')) {
      if (first.toLowerCase() === 'none' && authservId !== undefined) continue;
      authservId ??= first.toLowerCase();
      // `mx.example 1; spf=pass` puts the version after the id; a statement may follow on the same segment only in broken headers.
      const rest = parts.slice(1).filter((part) => !/^\d+$/.test(part));
      if (rest.length > 0 && rest[0]?.includes('=')) {
        const statement = parseStatement({ text: rest.join(' '), comments: segment.comments });
        if (statement) results.push(statement);
      }
      continue;
    }
    // ARC-Authentication-Results starts with its instance tag.
    if (/^i=\d+$/i.test(first) && parts.length === 1) continue;
    const statement = parseStatement(segment);
    if (statement) results.push(statement);
  }
  return { authservId: authservId ?? '', results };
}

/** authserv-ids of Microsoft's services (Office 365 writes none at all; Outlook.com writes hotmail.com). */
const MICROSOFT_ID = /(^|\.)(outlook\.com|hotmail\.com|office365\.com|microsoft\.com)$/;

/**
 * The provider's own verdict: the topmost Authentication-Results whose
 * authserv-id is `authservId` (anything below it can be written by the
 * sender), together with the Authentication-Results fields right under it
 * (contiguous, nothing else between) with the same id: one receiving server
 * often writes one header per method (Postfix with the OpenDKIM and OpenDMARC
 * milters). A lower header of the group only adds methods the ones above did
 * not state, so a sender's header that happens to follow cannot change them.
 *
 * Microsoft's headers may carry no authserv-id: with a Microsoft id
 * configured, only the topmost Authentication-Results is read, trusted when
 * it has no id or a Microsoft one and stands above every Received field (the
 * one Microsoft adds does), and nothing lower ever is (a sender can add a
 * header with any id).
 *
 * Without an authservId, the topmost header is taken.
 */
export function trustedAuthResults(fields: HeaderField[], authservId?: string): AuthResultsHeader | undefined {
  const wanted = authservId?.toLowerCase();
  const microsoft = wanted !== undefined && MICROSOFT_ID.test(wanted);
  let group: AuthResultsHeader | undefined;
  for (const field of fields) {
    if (group) {
      // Only the Authentication-Results fields right under it, with its id, belong to the group.
      if (field.name !== 'authentication-results') break;
      const parsed = parseAuthenticationResults(field.value);
      if (parsed.authservId !== group.authservId) break;
      addNewMethods(group, parsed);
      continue;
    }
    if (microsoft && field.name === 'received') return undefined;
    if (field.name !== 'authentication-results') continue;
    const parsed = parseAuthenticationResults(field.value);
    if (microsoft)
      return parsed.authservId === '' || parsed.authservId === wanted || MICROSOFT_ID.test(parsed.authservId)
        ? parsed
        : undefined;
    if (wanted === undefined || parsed.authservId === wanted) group = { ...parsed, results: [...parsed.results] };
  }
  return group;
}

/** A lower header of the group adds the methods the ones above did not state; it never overrides one. */
function addNewMethods(group: AuthResultsHeader, lower: AuthResultsHeader): void {
  const stated = new Set(group.results.map((result) => result.method));
  group.results.push(...lower.results.filter((result) => !stated.has(result.method)));
}

export interface AuthVerdict {
  /** authserv-id of the header the verdict came from; null when none was trusted. */
  authservId: string | null;
  spf: string | null;
  dkim: string | null;
  dkimDomain: string | null;
  dkimSelector: string | null;
  dmarc: string | null;
  dmarcPolicy: string | null;
  arc: string | null;
  compauth: string | null;
  compauthReason: string | null;
  /** First token of the topmost Received-SPF. */
  receivedSpf: string | null;
  /** cv= of the highest-instance ARC-Seal. */
  arcSealCv: string | null;
  listUnsubscribe: boolean;
  oneClickUnsubscribe: boolean;
}

function pick(results: AuthResult[], method: string): AuthResult | undefined {
  const all = results.filter((result) => result.method === method);
  // Several DKIM signatures are common (author + ESP): a passing one decides.
  return all.find((result) => result.result === 'pass') ?? all[0];
}

/**
 * The DMARC policy as providers write it: `policy.dmarc=` (Cloudflare Email
 * Routing, Mailman 3), or in a comment as `p=` (Gmail, Yahoo) or `policy=`
 * (rspamd: `dmarc=pass (policy=reject)`).
 */
function dmarcPolicy(result: AuthResult | undefined): string | null {
  if (!result) return null;
  const property = result.props['policy.dmarc'];
  if (property && /^[a-z]+$/i.test(property)) return property.toLowerCase();
  for (const source of [...result.comments, ...Object.entries(result.props).map(([k, v]) => `${k}=${v}`)]) {
    const match = /(?:^|[\s,;])(?:p|policy)=([a-z]+)/i.exec(source);
    if (match?.[1]) return match[1].toLowerCase();
  }
  return null;
}

function dkimDomain(result: AuthResult | undefined): string | null {
  if (!result) return null;
  const d = result.props['header.d'];
  if (d) return d.toLowerCase();
  const i = result.props['header.i'];
  if (i?.includes('@')) return (i.split('@')[1] ?? '').toLowerCase() || null;
  return i ? i.toLowerCase() : null;
}

function highestArcSealCv(fields: HeaderField[]): string | null {
  let best: { instance: number; cv: string } | undefined;
  for (const field of fields) {
    if (field.name !== 'arc-seal') continue;
    const instance = Number(/(?:^|;)\s*i\s*=\s*(\d+)/i.exec(field.value)?.[1] ?? NaN);
    const cv = /(?:^|;)\s*cv\s*=\s*([a-z]+)/i.exec(field.value)?.[1];
    if (!Number.isFinite(instance) || !cv) continue;
    if (!best || instance > best.instance) best = { instance, cv: cv.toLowerCase() };
  }
  return best?.cv ?? null;
}

/** Everything a seed provider said about a message's authentication, from its header block. */
export function judgeAuthentication(fields: HeaderField[], authservId?: string): AuthVerdict {
  const trusted = trustedAuthResults(fields, authservId);
  const results = trusted?.results ?? [];
  const dkim = pick(results, 'dkim');
  const dmarc = pick(results, 'dmarc');
  const compauth = pick(results, 'compauth');
  const receivedSpf = fields.find((field) => field.name === 'received-spf');
  const unsubscribePost = fields.find((field) => field.name === 'list-unsubscribe-post');
  return {
    authservId: trusted ? trusted.authservId : null,
    spf: pick(results, 'spf')?.result ?? null,
    dkim: dkim?.result ?? null,
    dkimDomain: dkimDomain(dkim),
    dkimSelector: dkim?.props['header.s']?.toLowerCase() ?? null,
    dmarc: dmarc?.result ?? null,
    dmarcPolicy: dmarcPolicy(dmarc),
    arc: pick(results, 'arc')?.result ?? null,
    compauth: compauth?.result ?? null,
    compauthReason: compauth?.reason ?? null,
    receivedSpf: receivedSpf ? (receivedSpf.value.trim().split(/[\s(;]/)[0] ?? '').toLowerCase() || null : null,
    arcSealCv: highestArcSealCv(fields),
    listUnsubscribe: fields.some((field) => field.name === 'list-unsubscribe' && field.value.trim() !== ''),
    oneClickUnsubscribe: /^\s*List-Unsubscribe\s*=\s*One-Click\s*$/i.test(unsubscribePost?.value ?? ''),
  };
}
