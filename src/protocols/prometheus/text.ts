// The Prometheus text exposition format: samples and labels parsed, series keys.
/** One sample line of a Prometheus text exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromScrape {
  samples: PromSample[];
  /** `# TYPE` declarations by metric family name. */
  types: Record<string, string>;
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`"${text}" is not a sample value`);
  return value;
}

/**
 * The text format (and OpenMetrics) escapes only `\\`, `\"` and `\n` in label
 * values. Like Prometheus, any other backslash pair is kept as written (`\t`
 * stays a backslash and a t): a raw TAB is legal inside the quotes and must
 * stay distinct from it.
 */
function unescapeLabelChar(next: string | undefined): string {
  if (next === 'n') return '\n';
  if (next === '\\' || next === '"') return next;
  return `\\${next ?? ''}`;
}

/** Reads `{a="x",b="y\"z"}` starting at `start` (the brace); returns the labels and the index after `}`. */
export function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipSpace = () => {
    while (line[i] === ' ' || line[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    if (line[i] === '}') return { labels, end: i + 1 };
    LABEL_NAME.lastIndex = i;
    const name = LABEL_NAME.exec(line)?.[0];
    if (!name) throw new Error(`bad label name at column ${i + 1}`);
    i += name.length;
    skipSpace();
    if (line[i] !== '=') throw new Error(`expected = after label ${name}`);
    i++;
    skipSpace();
    if (line[i] !== '"') throw new Error(`expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (; i < line.length && line[i] !== '"'; i++) {
      if (line[i] === '\\') value += unescapeLabelChar(line[++i]);
      else value += line.charAt(i);
    }
    if (line[i] !== '"') throw new Error(`unterminated value of label ${name}`);
    i++;
    labels[name] = value;
    skipSpace();
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } after label ${name}`);
  }
}

/**
 * Parses the text exposition format (version 0.0.4) and OpenMetrics 1.0:
 * HELP/TYPE/UNIT comments, samples with optional labels, timestamp and
 * exemplar (`# {...} v`), NaN and ±Inf, and OpenMetrics' closing `# EOF`.
 * OpenMetrics' `_created` lines are samples of their own name, as Prometheus
 * stores them, so they never mix with the `_total` or `_bucket` they belong to.
 * Throws with the line number on the first malformed line (a half-broken page
 * is not measured).
 */
export function parsePromText(text: string): PromScrape {
  const samples: PromSample[] = [];
  const types: Record<string, string> = {};
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? '').trim();
    if (line === '') continue;
    if (line === '# EOF') {
      // Nothing may follow the end marker: more lines mean a page that is not what it claims.
      const after = lines.slice(n + 1).findIndex((rest) => rest.trim() !== '');
      if (after >= 0) throw new Error(`metrics line ${n + 2 + after}: text after # EOF`);
      break;
    }
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types[type[1] ?? ''] = type[2] ?? 'untyped';
      continue;
    }
    try {
      samples.push(parseSampleLine(line));
    } catch (error) {
      throw new Error(`metrics line ${n + 1}: ${(error as Error).message}`, { cause: error });
    }
  }
  return { samples, types };
}

/** `name{labels} value [timestamp] [# exemplar]`: the timestamp and exemplar are not needed and not kept. */
function parseSampleLine(line: string): PromSample {
  NAME.lastIndex = 0;
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error('expected a metric name');
  let i = name.length;
  let labels: Record<string, string> = {};
  if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i));
  const rest = line.slice(i).trim().split(/\s+/);
  return { name, labels, value: parseValue(rest[0] ?? '') };
}

/**
 * A key of one series that no label value can make ambiguous: a JSON array of
 * the name and the label pairs sorted by label name. JSON escapes every
 * character that could confuse a reader (quotes, backslashes, TAB, newlines),
 * so any label value round-trips through splitSeriesKey and through the
 * probe's stored state.
 */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const parts: string[] = [name];
  for (const label of Object.keys(labels).sort()) parts.push(label, labels[label] ?? '');
  return JSON.stringify(parts);
}

/** Inverse of seriesKey. */
export function splitSeriesKey(key: string): { name: string; labels: Record<string, string> } {
  const parts = JSON.parse(key) as string[];
  const labels: Record<string, string> = {};
  for (let i = 1; i + 1 < parts.length; i += 2) labels[parts[i] ?? ''] = parts[i + 1] ?? '';
  return { name: parts[0] ?? '', labels };
}
