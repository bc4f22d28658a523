import fc from 'fast-check';
import {
  evaluatePromExpr,
  metricNames,
  parsePromExpr,
  windowOf,
  type KeptScrape,
  type PromExpr,
  type Selector,
} from '../../src/protocols/prometheus/expr.ts';
import { seriesKey } from '../../src/protocols/prometheus/text.ts';
import { mutated, sameAs, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * The probe expression language of the `prometheus` kind (protocols/prometheus/expr.ts),
 * written by operators in assertions and evaluated against every scrape.
 * Inputs: expressions printed from syntax trees (they must parse back to the
 * same tree), each evaluated against random scrapes (a number or null, the
 * same twice, never an exception); the printed text mutated; text over the
 * language's characters; deeply nested and very long expressions. The only
 * error allowed is the parser's own "... at column N of ..." Error.
 */

const names = ['http_requests_total', 'req_seconds', 'up', 'errors_total', 'scaidns_http_requests_total', 'x:y'];
const labels = ['status', 'path', 'method', 'le', 'job'];
const values = ['200', '503', '/api', 'GET', 'a"b', 'back\\slash', '', 'x y'];
const patterns = ['5..', 'GET|HEAD', '.*', '[a-z]+', '2\\d\\d', '(a|b)c?'];

const selector: fc.Arbitrary<Selector> = fc.record({
  type: fc.constant('sel' as const),
  name: fc.constantFrom(...names),
  matchers: fc.uniqueArray(
    fc.oneof(
      fc.record({
        label: fc.constantFrom(...labels),
        op: fc.constantFrom('=' as const, '!=' as const),
        value: fc.constantFrom(...values),
      }),
      fc.record({
        label: fc.constantFrom(...labels),
        op: fc.constantFrom('=~' as const, '!~' as const),
        value: fc.constantFrom(...patterns),
      }),
    ),
    { selector: (m) => m.label, maxLength: 3 },
  ),
});

const windowText = fc.constantFrom('30s', '1m', '5m', '15m', '1h', '500ms');

const expr: fc.Arbitrary<PromExpr> = fc.letrec<{ expr: PromExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true })
      .map((value): PromExpr => ({ type: 'num', value })),
    selector,
    selector.map((arg): PromExpr => ({ type: 'sum', arg })),
    fc
      .record({ fn: fc.constantFrom('rate' as const, 'increase' as const), window: windowText, arg: selector })
      .map(({ fn, window, arg }): PromExpr => ({ type: fn, windowMs: ms(window), arg })),
    fc
      .record({ q: fc.constantFrom(50, 90, 95, 99, 99.9), window: fc.option(windowText), arg: selector })
      .map(({ q, window, arg }): PromExpr => ({
        type: 'quantile',
        q: q / 100,
        windowMs: window ? ms(window) : 300_000,
        arg,
      })),
    fc
      .record({
        op: fc.constantFrom('+' as const, '-' as const, '*' as const, '/' as const),
        left: tie('expr'),
        right: tie('expr'),
      })
      .map(({ op, left, right }): PromExpr => ({ type: 'bin', op, left, right })),
  ),
})).expr;

function ms(text: string): number {
  const n = Number.parseFloat(text);
  return text.endsWith('ms') ? n : text.endsWith('s') ? n * 1000 : text.endsWith('m') ? n * 60_000 : n * 3_600_000;
}

function windowName(windowMs: number): string {
  return windowMs % 3_600_000 === 0
    ? `${windowMs / 3_600_000}h`
    : windowMs % 60_000 === 0
      ? `${windowMs / 60_000}m`
      : windowMs % 1000 === 0
        ? `${windowMs / 1000}s`
        : `${windowMs}ms`;
}

function printSelector(s: Selector): string {
  if (s.matchers.length === 0) return s.name;
  return `${s.name}{${s.matchers.map((m) => `${m.label}${m.op}"${m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(', ')}}`;
}

/** Prints a tree in the language; binary operations are parenthesized, which the parser does not keep. */
export function printExpr(e: PromExpr): string {
  switch (e.type) {
    case 'num':
      return String(e.value);
    case 'sel':
      return printSelector(e);
    case 'sum':
      return `sum(${printSelector(e.arg)})`;
    case 'rate':
    case 'increase':
      return `${e.type}${windowName(e.windowMs)}(${printSelector(e.arg)})`;
    case 'quantile':
      return `p${Math.round(e.q * 1000) / 10}${e.windowMs === 300_000 ? '' : `_${windowName(e.windowMs)}`}(${printSelector(e.arg)})`;
    case 'bin':
      return `(${printExpr(e.left)} ${e.op} ${printExpr(e.right)})`;
  }
}

/** The tree without compiled regexes (compared by their source in the matcher value). */
function plain(e: PromExpr): unknown {
  return JSON.parse(JSON.stringify(e, (key, v: unknown) => (key === 'regex' ? undefined : v)));
}

const scrapes: fc.Arbitrary<KeptScrape[]> = fc
  .array(
    fc.record({
      dt: fc.integer({ min: 0, max: 120_000 }),
      series: fc.array(
        fc.record({
          name: fc.constantFrom(...names, 'req_seconds_bucket', 'other'),
          labels: fc.dictionary(fc.constantFrom(...labels), fc.constantFrom(...values, '0.1', '+Inf', '1', 'NaN'), {
            maxKeys: 3,
          }),
          value: fc.oneof(fc.double(), fc.nat({ max: 1000 })),
        }),
        { maxLength: 8 },
      ),
    }),
    { maxLength: 5 },
  )
  .map((list) => {
    let t = 1_700_000_000_000;
    return list.map(({ dt, series }) => {
      t += dt;
      return { t, v: Object.fromEntries(series.map((s) => [seriesKey(s.name, s.labels), s.value])) };
    });
  });

type Input =
  | { case: 'tree'; expr: PromExpr; scrapes: KeptScrape[] }
  | { case: 'text'; text: string; scrapes: KeptScrape[] }
  | { case: 'deep'; depth: number; shape: 'parens' | 'chain' | 'mixed' };

const EXPR_ALPHABET = [
  ...Array.from('abxz_:019(){}[]"\'=~!,.+-*/ \\'),
  'rate5m(',
  'p99(',
  'sum(',
  'increase1h(',
  'p99_15m(',
  '{status=~"5.."}',
  'http_requests_total',
  'le="+Inf"',
  '1e3',
];

function deepText(input: { depth: number; shape: 'parens' | 'chain' | 'mixed' }): string {
  if (input.shape === 'parens') return `${'('.repeat(input.depth)}up${')'.repeat(input.depth)}`;
  if (input.shape === 'chain') return Array.from({ length: input.depth }, () => 'up').join(' + ');
  return `${'(1 + '.repeat(input.depth)}1${')'.repeat(input.depth)}`;
}

function isParseError(error: unknown): boolean {
  return error instanceof Error && / at column \d+ of "/s.test(error.message);
}

function evaluateTwice(e: PromExpr, list: KeptScrape[], timed: <R>(fn: () => R) => R): void {
  const input = { scrapes: list, now: list.at(-1)?.t ?? 0 };
  const first = timed(() => evaluatePromExpr(e, input));
  const second = evaluatePromExpr(e, input);
  if (first !== null && typeof first !== 'number') throw new Violation(`evaluated to ${typeof first}`);
  if (!Object.is(first, second)) throw new Violation(`evaluated to ${first}, then ${second}`);
  timed(() => {
    metricNames(e);
    windowOf(e);
  });
}

export const promExprTarget: FuzzTarget<Input> = {
  name: 'prom-expr',
  subject: 'parsePromExpr, evaluatePromExpr (src/protocols/prometheus/expr.ts)',
  arbitrary: fc.oneof(
    { arbitrary: fc.record({ case: fc.constant('tree' as const), expr, scrapes }), weight: 40 },
    {
      arbitrary: fc.record({
        case: fc.constant('text' as const),
        text: mutated(expr.map(printExpr), EXPR_ALPHABET),
        scrapes,
      }),
      weight: 35,
    },
    {
      arbitrary: fc.record({ case: fc.constant('text' as const), text: textOver(EXPR_ALPHABET, 80), scrapes }),
      weight: 24,
    },
    {
      arbitrary: fc.record({
        case: fc.constant('deep' as const),
        depth: fc.integer({ min: 100, max: 50_000 }),
        shape: fc.constantFrom('parens' as const, 'chain' as const, 'mixed' as const),
      }),
      weight: 1,
    },
  ),
  check(input, timed) {
    if (input.case === 'deep') {
      let parsed: PromExpr;
      try {
        parsed = timed(() => parsePromExpr(deepText(input)));
      } catch (error) {
        if (isParseError(error)) return;
        throw error;
      }
      evaluateTwice(parsed, [], timed);
      return;
    }
    const text = input.case === 'tree' ? printExpr(input.expr) : input.text;
    let parsed: PromExpr;
    try {
      parsed = timed(() => parsePromExpr(text));
    } catch (error) {
      if (!isParseError(error)) throw error;
      if (input.case === 'tree') throw new Violation(`a printed expression was refused: ${(error as Error).message}`);
      return;
    }
    if (input.case === 'tree') sameAs(plain(parsed), plain(input.expr), 'parsed tree');
    evaluateTwice(parsed, input.scrapes, timed);
  },
  show(input) {
    if (input.case === 'deep') return `${input.shape} of depth ${input.depth}: ${deepText(input).slice(0, 60)}…`;
    return `${JSON.stringify(input.case === 'tree' ? printExpr(input.expr) : input.text)} on ${JSON.stringify(input.scrapes).slice(0, 300)}`;
  },
};
