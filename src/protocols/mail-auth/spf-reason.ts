// Why an SPF evaluation came out as it did, as a code (reports turn it into a sentence for the tenant).

export type SpfReason =
  | 'matched'
  | 'no-match'
  | 'no-record'
  | 'multiple-records'
  | 'newline-in-record'
  | 'control-character'
  | 'non-ascii'
  | 'syntax-error'
  | 'duplicate-modifier'
  | 'invalid-domain'
  | 'invalid-ip'
  | 'invalid-cidr'
  | 'macro-error'
  | 'include-without-record'
  | 'too-many-lookups'
  | 'too-many-void-lookups'
  | 'dns-timeout'
  | 'dns-error';

/** Checked in order: the first pattern that matches mailauth's text names the reason of a permerror. */
const PERMERROR_PATTERNS: [RegExp, SpfReason][] = [
  [/multiple SPF records/i, 'multiple-records'],
  [/Too many DNS requests/i, 'too-many-lookups'],
  [/Too many void/i, 'too-many-void-lookups'],
  [/no SPF records found/i, 'include-without-record'],
  [/invalid characters/i, 'non-ascii'],
  [/more than 1 (redirect|exp)/i, 'duplicate-modifier'],
  [/macro/i, 'macro-error'],
  [/cidr/i, 'invalid-cidr'],
  [/"ip[46]" term|IP address/i, 'invalid-ip'],
  [/domain|target/i, 'invalid-domain'],
];

/** The reason code of a result, from mailauth's text and the record it was read from. */
export function spfReasonOf(result: string, detail: string, record: string | undefined): SpfReason {
  switch (result) {
    case 'pass':
    case 'fail':
    case 'softfail':
      return 'matched';
    case 'neutral':
      return 'no-match';
    case 'none':
      return 'no-record';
    case 'temperror':
      return /timeout|time limit/i.test(detail) ? 'dns-timeout' : 'dns-error';
  }
  // A record split over lines by a zone editor: RFC 7208 4.6.1 separates terms by spaces only.
  if (record !== undefined && /[\r\n]/.test(record)) return 'newline-in-record';
  if (record !== undefined && /[\x00-\x1f\x7f]/.test(record)) return 'control-character';
  if (record !== undefined && /[^\x20-\x7e]/.test(record)) return 'non-ascii';
  for (const [pattern, reason] of PERMERROR_PATTERNS) if (pattern.test(detail)) return reason;
  return 'syntax-error';
}
