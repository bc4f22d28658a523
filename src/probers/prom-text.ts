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
      if (line[i] === '\\') {
        const next = line[++i];
        value += next === 'n' ? '\n' : (next ?? '');
      } else value += line[i];
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
 * Parses the text exposition format (version 0.0.4): HELP/TYPE comments,
 * samples with optional labels and timestamp, NaN and ±Inf. Throws with the
 * line number on the first malformed line (a half-broken page is not measured).
 */
export function parsePromText(text: string): PromScrape {
  const samples: PromSample[] = [];
  const types: Record<string, string> = {};
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] ?? '').trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types[type[1] ?? ''] = type[2] ?? 'untyped';
      continue;
    }
    try {
      NAME.lastIndex = 0;
      const name = NAME.exec(line)?.[0];
      if (!name) throw new Error('expected a metric name');
      let i = name.length;
      let labels: Record<string, string> = {};
      if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i));
      const rest = line.slice(i).trim().split(/\s+/);
      samples.push({ name, labels, value: parseValue(rest[0] ?? '') });
    } catch (error) {
      throw new Error(`metrics line ${n + 1}: ${(error as Error).message}`);
    }
  }
  return { samples, types };
}

/** A stable key of one series: name plus sorted labels. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`);
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}

/** Inverse of seriesKey. */
export function splitSeriesKey(key: string): { name: string; labels: Record<string, string> } {
  const brace = key.indexOf('{');
  if (brace < 0) return { name: key, labels: {} };
  return { name: key.slice(0, brace), labels: parseLabels(key, brace).labels };
}
