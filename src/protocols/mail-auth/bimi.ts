// BIMI: the `default._bimi` record, the SVG Tiny PS basics of its logo, and the DMARC enforcement BIMI requires.
import { parseTags } from './tags.ts';
import type { Dmarc } from './dmarc.ts';

/** Mailbox providers refuse larger logos; the BIMI group's guidance is 32 KB. */
export const MAX_LOGO_BYTES = 32 * 1024;

export interface BimiRecord {
  logo?: string;
  authority?: string;
  problems: string[];
}

/** `v=BIMI1; l=<https URL of an SVG>; a=<https URL of a mark certificate, optional>`. */
export function parseBimiRecords(texts: readonly string[]): BimiRecord {
  const records = texts.filter((text) => /^v=BIMI1\s*(;|$)/i.test(text.trim()));
  if (records.length === 0) return { problems: ['no default._bimi TXT record starting v=BIMI1'] };
  if (records.length > 1) return { problems: [`${records.length} BIMI records`] };
  const tags = parseTags(records[0] ?? '');
  const problems: string[] = [];
  const logo = tags.l;
  if (!logo) problems.push('l= (the logo) is missing');
  else if (!/^https:\/\/\S+$/i.test(logo)) problems.push(`l=${logo} is not an https: URL`);
  const authority = tags.a || undefined;
  if (authority && !/^https:\/\/\S+$/i.test(authority)) problems.push(`a=${authority} is not an https: URL`);
  return { ...(logo ? { logo } : {}), ...(authority ? { authority } : {}), problems };
}

/** The root element's start tag of an SVG document (after any XML declaration, comments and doctype). */
function rootTag(svg: string): string | undefined {
  const start = svg.search(/<svg[\s>]/i);
  if (start < 0) return undefined;
  const end = svg.indexOf('>', start);
  return end < 0 ? undefined : svg.slice(start, end + 1);
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return match ? (match[2] ?? match[3]) : undefined;
}

/**
 * What keeps a logo from being SVG Tiny Portable/Secure (the BIMI profile), as far as a text check can say:
 * `baseProfile="tiny-ps"` on the root, a square viewBox, no script, no references outside the file, and a
 * size a mailbox provider takes.
 */
export function svgTinyPsProblems(svg: string, bytes: number): string[] {
  const problems: string[] = [];
  if (bytes > MAX_LOGO_BYTES) problems.push(`the logo is ${bytes} bytes, over ${MAX_LOGO_BYTES}`);
  const root = rootTag(svg);
  if (!root) return [...problems, 'it is not an SVG document (no <svg> root)'];
  if (attribute(root, 'baseProfile') !== 'tiny-ps') problems.push('the root lacks baseProfile="tiny-ps"');
  const viewBox = attribute(root, 'viewBox')
    ?.trim()
    .split(/[\s,]+/)
    .map(Number);
  if (!viewBox || viewBox.length !== 4 || viewBox.some((n) => !Number.isFinite(n)))
    problems.push('the root has no viewBox');
  else if (viewBox[2] !== viewBox[3]) problems.push(`the viewBox is ${viewBox[2]}×${viewBox[3]}, not square`);
  if (/<script[\s>]/i.test(svg)) problems.push('it holds a <script>');
  if (/\son[a-z]+\s*=/i.test(svg)) problems.push('it holds an event handler attribute (on…=)');
  if (/(?:xlink:)?href\s*=\s*["'](?!#)/i.test(svg)) problems.push('it refers to something outside the file (href)');
  if (/<(?:image|foreignObject)[\s>]/i.test(svg)) problems.push('it embeds an image or foreign object');
  if (!/<title[\s>]/i.test(svg)) problems.push('it has no <title> (the brand name)');
  return problems;
}

/** BIMI is shown only for mail under a DMARC policy at enforcement: p=quarantine or reject, pct=100 (and sp, if set). */
export function dmarcEnforcementProblem(dmarc: Dmarc | undefined): string | undefined {
  if (!dmarc) return 'no DMARC record';
  if (dmarc.p !== 'quarantine' && dmarc.p !== 'reject')
    return `DMARC p=${dmarc.p ?? '(missing)'} is not at enforcement (quarantine or reject)`;
  if (dmarc.pct !== 100) return `DMARC pct=${dmarc.pct}, not 100`;
  if (dmarc.sp === 'none') return 'DMARC sp=none leaves subdomains without enforcement';
  return undefined;
}
