// SPF (RFC 7208) by mailauth's strict evaluator over a caller-supplied DNS lookup, with a machine-readable reason.
import { spf as mailauthSpf } from 'mailauth/lib/spf/index.js';
import { spfReasonOf, type SpfReason } from './spf-reason.ts';

export type { SpfReason } from './spf-reason.ts';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

/** The record types check_host() asks for. */
export type SpfRecordType = 'TXT' | 'A' | 'AAAA' | 'MX' | 'PTR';

/**
 * One DNS question, answered the way mailauth expects (node:dns's resolve()):
 * TXT as arrays of strings, MX as `{ exchange, priority }`, A/AAAA/PTR as strings.
 * A name that does not exist rejects with code ENOTFOUND, a name without data of
 * that type with ENODATA (both count as void lookups, RFC 7208 4.6.4); a timeout
 * with ETIMEOUT; any other failure (SERVFAIL, a malformed reply) with its own code,
 * all temperror.
 */
export type SpfResolver = (name: string, type: string) => Promise<unknown[]>;

export interface SpfQuery {
  /** The client address; an IPv4-mapped IPv6 address is evaluated as IPv4 (RFC 7208 5). */
  ip: string;
  /** MAIL FROM; its domain is the one checked, its local part feeds %{l}. */
  mailFrom: string;
  /** HELO/EHLO name, for %{h}. */
  helo?: string;
}

export interface SpfEvaluation {
  result: SpfResult;
  /** Why, as a code a report turns into a sentence. */
  reason: SpfReason;
  /** mailauth's own wording of the outcome (the error text for permerror/temperror). */
  detail: string;
  /** The SPF record the result came from (the first one checked), when one was found. */
  record?: string;
  /** DNS-querying terms and void lookups counted against the limits of RFC 7208 4.6.4. */
  lookups: number;
  voidLookups: number;
  /** The domain's own exp= text, for a fail only (third-party text). */
  explanation?: string;
}

const RESULTS = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror']);

/** check_host(<ip>, <domain of mailFrom>, <mailFrom>) in strict RFC 7208 mode; never throws for DNS trouble. */
export async function evaluateSpf(query: SpfQuery, resolver: SpfResolver): Promise<SpfEvaluation> {
  // mailauth gives no record with some permerrors (bad characters): keep the first one it read to explain them.
  let seen: string | undefined;
  let emptyLabel: string | undefined;
  const watching: SpfResolver = async (name, type) => {
    const answers = await resolver(name, type);
    if (type !== 'TXT') return answers;
    const records = answers.map((answer) => [answer].flat().join('')).filter((text) => isSpf(text.trimStart()));
    seen ??= records[0];
    emptyLabel ??= records.map(emptyLabelTerm).find(Boolean);
    return answers;
  };
  const response = await mailauthSpf({
    ip: query.ip,
    sender: query.mailFrom,
    helo: query.helo ?? '',
    mta: 'scaiprobe',
    strict: true,
    // mailauth's declared type leaves out the MX objects it reads; the answers are node:dns's shapes.
    resolver: watching as (name: string, type: string) => Promise<string[]>,
  });
  const status = response.status.result;
  let result = (RESULTS.has(status) ? status : 'temperror') as SpfResult;
  let detail = commentText(response.status.comment);
  if (emptyLabel && result !== 'permerror' && result !== 'temperror') {
    result = 'permerror';
    detail = `invalid domain-spec in "${emptyLabel}" (an empty label)`;
  }
  const record = typeof response.rr === 'string' ? response.rr : seen;
  const lookups = response.lookups as { count?: number; void?: number } | undefined;
  return {
    result,
    reason: spfReasonOf(result, detail, record),
    detail,
    ...(record !== undefined ? { record } : {}),
    lookups: lookups?.count ?? 0,
    voidLookups: lookups?.void ?? 0,
    ...(response.explanation ? { explanation: response.explanation } : {}),
  };
}

/**
 * A term whose target names an empty label (`a:mail.example...com`). RFC 7208
 * leaves open whether such a name is a syntax error or a name that does not
 * exist (mailauth takes the latter: the term never matches); a record written
 * so is broken, and every term of a record is checked before it is used
 * (4.6), so here it is a permerror wherever it stands.
 */
function emptyLabelTerm(record: string): string | undefined {
  return record.split(' ').find((term) => {
    const spec =
      /^[+~?-]?(?:a|mx|ptr|include|exists):(.*)$/i.exec(term)?.[1] ?? /^(?:redirect|exp)=(.*)$/i.exec(term)?.[1];
    return spec !== undefined && /\.\./.test(spec.replace(/(\/\d+)?(\/\/\d+)?$/, ''));
  });
}

/** mailauth's comment without its "<mta>: " prefix. */
function commentText(comment: unknown): string {
  return typeof comment === 'string' ? comment.replace(/^scaiprobe: /, '') : '';
}

/** Whether a TXT string is an SPF record (RFC 7208 4.5: "v=spf1" then a space or the end). */
export function isSpf(record: string): boolean {
  return /^v=spf1( |$)/i.test(record);
}
