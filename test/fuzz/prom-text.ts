import fc from 'fast-check';
import { parsePromText, seriesKey, splitSeriesKey, type PromSample } from '../../src/protocols/prometheus/text.ts';
import { mutated, sameAs, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * The Prometheus text exposition parser (protocols/prometheus/text.ts), run on every scrape
 * of a `prometheus` probe. Inputs: expositions rendered from samples (any
 * label value, escaped as the format says; any float; spacing and trailing
 * commas varied) that must parse back to the same samples and whose series
 * keys must split back to the same name and labels; the same pages mutated;
 * text over the format's characters. The only error allowed is the parser's
 * own "metrics line N: ..." Error.
 */

const metricName = fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/);
const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/);
const labelValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('5..', 'GET', '/api/v1', 'a"b', 'back\\slash', 'line1\nline2', 'tab\there', '+Inf', '0.25'),
);
const value = fc.oneof(
  fc.double(),
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.constantFrom(0, 1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
);

interface Family {
  name: string;
  type: string | null;
  help: string | null;
  samples: Array<{ suffix: string; labels: Array<[string, string]>; value: number; timestamp: number | null }>;
}

const family: fc.Arbitrary<Family> = fc.record({
  name: metricName,
  type: fc.option(fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped'), { freq: 2 }),
  help: fc.option(
    fc.string({ maxLength: 30 }).map((h) => h.replace(/\n/g, ' ')),
    { freq: 2 },
  ),
  samples: fc.array(
    fc.record({
      suffix: fc.constantFrom('', '', '_total', '_bucket', '_sum', '_count'),
      labels: fc.uniqueArray(fc.tuple(labelName, labelValue), { selector: ([key]) => key, maxLength: 4 }),
      value,
      timestamp: fc.option(fc.integer({ min: -1e12, max: 1e13 }), { freq: 3 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

interface Page {
  families: Family[];
  spaces: string[];
  trailingComma: boolean;
  crlf: boolean;
}

const page: fc.Arbitrary<Page> = fc.record({
  families: fc.uniqueArray(family, { selector: (f) => f.name, maxLength: 5 }),
  spaces: fc.array(fc.constantFrom(' ', '  ', '\t', ' \t'), { minLength: 1, maxLength: 5 }),
  trailingComma: fc.boolean(),
  crlf: fc.boolean(),
});

function escapeValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function render(p: Page): string {
  const lines: string[] = [];
  let k = 0;
  const space = () => p.spaces[k++ % p.spaces.length] ?? ' ';
  for (const f of p.families) {
    if (f.help !== null) lines.push(`# HELP ${f.name} ${f.help}`);
    if (f.type !== null) lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels.map(([key, v]) => `${key}="${escapeValue(v)}"`).join(',');
      const set = s.labels.length > 0 ? `{${labels}${p.trailingComma ? ',' : ''}}` : '';
      lines.push(
        `${f.name}${s.suffix}${set}${space()}${renderValue(s.value)}${s.timestamp !== null ? `${space()}${s.timestamp}` : ''}`,
      );
    }
  }
  return lines.join(p.crlf ? '\r\n' : '\n');
}

function samplesOf(p: Page): PromSample[] {
  return p.families.flatMap((f) =>
    f.samples.map((s) => ({ name: `${f.name}${s.suffix}`, labels: Object.fromEntries(s.labels), value: s.value })),
  );
}

type Input = { case: 'page'; page: Page } | { case: 'text'; text: string };

const PROM_ALPHABET = [
  ...Array.from('az_:09{}=",\\ \t\n#.+-eE'),
  'Inf',
  'NaN',
  '# TYPE ',
  '# HELP ',
  'metric',
  'le="',
  '\\n',
  '\\"',
  '1e3',
  'counter',
];

function isParseError(error: unknown): boolean {
  return error instanceof Error && /^metrics line \d+: /.test(error.message);
}

export const promTextTarget: FuzzTarget<Input> = {
  name: 'prom-text',
  subject: 'parsePromText, seriesKey, splitSeriesKey (src/protocols/prometheus/text.ts)',
  arbitrary: fc.oneof(
    { arbitrary: page.map((p): Input => ({ case: 'page', page: p })), weight: 4 },
    { arbitrary: mutated(page.map(render), PROM_ALPHABET).map((text): Input => ({ case: 'text', text })), weight: 4 },
    { arbitrary: textOver(PROM_ALPHABET, 300).map((text): Input => ({ case: 'text', text })), weight: 2 },
  ),
  check(input, timed) {
    if (input.case === 'text') {
      let samples: PromSample[];
      try {
        samples = timed(() => parsePromText(input.text)).samples;
      } catch (error) {
        if (isParseError(error)) return;
        throw error;
      }
      for (const sample of samples) {
        const back = timed(() => splitSeriesKey(seriesKey(sample.name, sample.labels)));
        sameAs(back, { name: sample.name, labels: sample.labels }, 'series key round trip');
      }
      return;
    }
    const text = render(input.page);
    let parsed;
    try {
      parsed = timed(() => parsePromText(text));
    } catch (error) {
      if (isParseError(error)) throw new Violation(`a valid page was refused: ${(error as Error).message}`);
      throw error;
    }
    sameAs(parsed.samples, samplesOf(input.page), 'samples');
    sameAs(
      parsed.types,
      Object.fromEntries(input.page.families.filter((f) => f.type !== null).map((f) => [f.name, f.type])),
      'types',
    );
    for (const sample of parsed.samples) {
      const back = timed(() => splitSeriesKey(seriesKey(sample.name, sample.labels)));
      sameAs(back, { name: sample.name, labels: sample.labels }, 'series key round trip');
    }
  },
  show(input) {
    return JSON.stringify(input.case === 'page' ? render(input.page) : input.text);
  },
};
