// PromQL-like expressions: parsing, matching series and evaluating over kept scrapes.
import { parseDuration } from '../../core/duration.ts';
import {
  bucketQuantile,
  extrapolatedIncrease,
  parseBound,
  rangeOf,
  rangeSeconds,
  ScrapeHistory,
  type Bucket,
  type KeptScrape,
  type Range,
  type Series,
} from './range.ts';

export type { KeptScrape } from './range.ts';

/**
 * A small expression language over scrapes, for assertion subjects:
 *   name{label="v",status=~"5..",path!="/x",m!~"GET|HEAD"}   current value, summed over matching series
 *   sum(sel)                                                  the same, spelled out
 *   rate5m(sel) / rate1m / rate30s / rate1h                   sum(rate(sel[5m])) as Prometheus computes it (see prom-range.ts)
 *   increase5m(sel)                                           sum(increase(sel[5m]))
 *   p99(hist) / p50 / p95 / p99.9 / p99_15m                   histogram_quantile(0.99, sum by (le) (rate(hist_bucket[5m])));
 *                                                             `_seconds` histograms come back in milliseconds
 *   + - * / and parentheses, numbers
 * Label values are PromQL strings: "..." or '...' with Go's escapes, or `raw`.
 */

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
  regex?: RegExp;
}
export interface Selector {
  type: 'sel';
  name: string;
  matchers: Matcher[];
}
export type PromExpr =
  | { type: 'num'; value: number }
  | Selector
  | { type: 'sum'; arg: Selector }
  | { type: 'rate' | 'increase'; windowMs: number; arg: Selector }
  | { type: 'quantile'; q: number; windowMs: number; arg: Selector }
  | { type: 'bin'; op: '+' | '-' | '*' | '/'; left: PromExpr; right: PromExpr };

export const DEFAULT_QUANTILE_WINDOW_MS = 5 * 60_000;

/**
 * Far beyond what an assertion needs, and what keeps parsing and the
 * (recursive) evaluation clear of the call stack's limit: a 50,000-deep
 * expression threw RangeError instead of a configuration error.
 */
const MAX_NESTING = 64;
const MAX_OPERATORS = 256;

class Parser {
  private i = 0;
  private nesting = 0;
  private operators = 0;
  constructor(private readonly text: string) {}

  parse(): PromExpr {
    const expr = this.additive();
    this.space();
    if (this.i < this.text.length) this.fail(`unexpected "${this.text.slice(this.i, this.i + 10)}"`);
    return expr;
  }

  private fail(message: string): never {
    const shown = this.text.length > 200 ? `${this.text.slice(0, 200)}…` : this.text;
    throw new Error(`${message} at column ${this.i + 1} of "${shown}"`);
  }
  private space(): void {
    while (/\s/.test(this.text[this.i] ?? '')) this.i++;
  }
  private peek(): string {
    this.space();
    return this.text[this.i] ?? '';
  }
  private expect(char: string): void {
    if (this.peek() !== char) this.fail(`expected "${char}"`);
    this.i++;
  }

  private additive(): PromExpr {
    let left = this.multiplicative();
    for (let op = this.peek(); op === '+' || op === '-'; op = this.peek()) {
      this.operator();
      left = { type: 'bin', op, left, right: this.multiplicative() };
    }
    return left;
  }
  private multiplicative(): PromExpr {
    let left = this.primary();
    for (let op = this.peek(); op === '*' || op === '/'; op = this.peek()) {
      this.operator();
      left = { type: 'bin', op, left, right: this.primary() };
    }
    return left;
  }
  private operator(): void {
    if (++this.operators > MAX_OPERATORS) this.fail(`more than ${MAX_OPERATORS} operators`);
    this.i++;
  }
  private primary(): PromExpr {
    const char = this.peek();
    if (char === '(') {
      if (++this.nesting > MAX_NESTING) this.fail(`parentheses nested more than ${MAX_NESTING} deep`);
      this.i++;
      const inner = this.additive();
      this.expect(')');
      this.nesting--;
      return inner;
    }
    const number = /^\d+(\.\d+)?([eE][-+]?\d+)?/.exec(this.text.slice(this.i));
    if (number) {
      this.i += number[0].length;
      return { type: 'num', value: Number(number[0]) };
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:.]*/.exec(this.text.slice(this.i))?.[0];
    if (!ident) this.fail('expected a metric, a function or a number');
    this.i += ident.length;
    if (this.peek() === '(') return this.call(ident);
    if (ident.includes('.')) this.fail(`"${ident}" is not a metric name`);
    return this.selector(ident);
  }
  private call(fn: string): PromExpr {
    this.expect('(');
    this.space();
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(this.text.slice(this.i));
    if (!nameMatch) this.fail(`${fn}() takes a metric selector`);
    this.i += nameMatch[0].length;
    const arg = this.selector(nameMatch[0]);
    this.expect(')');
    if (fn === 'sum') return { type: 'sum', arg };
    const windowed = /^(rate|increase)(\d+(?:ms|s|m|h|d))$/.exec(fn);
    if (windowed) {
      const windowMs = parseDuration(windowed[2] ?? '');
      if (!windowMs) this.fail(`bad window in ${fn}`);
      return { type: windowed[1] as 'rate' | 'increase', windowMs, arg };
    }
    const quantile = /^p(\d{1,2}(?:\.\d+)?)(?:_(\d+(?:ms|s|m|h|d)))?$/.exec(fn);
    if (quantile) {
      const q = Number(quantile[1]) / 100;
      if (!(q > 0 && q < 1)) this.fail(`${fn}: the quantile must be between p0 and p100`);
      const windowMs = quantile[2] ? (parseDuration(quantile[2]) ?? 0) : DEFAULT_QUANTILE_WINDOW_MS;
      return { type: 'quantile', q, windowMs, arg };
    }
    return this.fail(
      `unknown function ${fn}() (known: sum, rate5m and other windows, increase5m, p50/p90/p95/p99 and p99_15m)`,
    );
  }
  private selector(name: string): Selector {
    const matchers: Matcher[] = [];
    if (this.text[this.i] !== '{') return { type: 'sel', name, matchers };
    this.i++;
    while (this.peek() !== '}') {
      const label = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(this.text.slice(this.i))?.[0];
      if (!label) this.fail('expected a label name');
      this.i += label.length;
      this.space();
      const op = (['=~', '!~', '!=', '='] as const).find((candidate) => this.text.startsWith(candidate, this.i));
      if (!op) this.fail(`expected =, !=, =~ or !~ after ${label}`);
      this.i += op.length;
      const quote = this.peek();
      if (quote !== '"' && quote !== "'" && quote !== '`') this.fail(`the value of ${label} must be quoted`);
      const value = this.stringLiteral(quote);
      let regex: RegExp | undefined;
      if (op === '=~' || op === '!~') {
        try {
          regex = anchoredRegex(value);
        } catch (error) {
          this.fail(`bad regex for ${label}: ${(error as Error).message}`);
        }
      }
      matchers.push({ label, op, value, ...(regex ? { regex } : {}) });
      if (this.peek() === ',') this.i++;
    }
    this.i++;
    return { type: 'sel', name, matchers };
  }

  /**
   * A PromQL string at the current quote: `"..."` and `'...'` with Go's
   * escapes (`\n`, `\t`, `\\`, `\"`, `\x41`, `\u00e9`, `\101`, ...), and
   * backquoted raw strings without any. An unknown escape is an error, as in
   * PromQL, rather than silently becoming its letter.
   */
  private stringLiteral(quote: string): string {
    this.i++;
    if (quote === '`') {
      const end = this.text.indexOf('`', this.i);
      if (end < 0) this.fail('unterminated raw string');
      const raw = this.text.slice(this.i, end);
      this.i = end + 1;
      return raw;
    }
    const out = new StringBuilder();
    while (this.i < this.text.length && this.text[this.i] !== quote) {
      if (this.text[this.i] === '\\') this.escape(quote, out);
      else out.text(this.text[this.i++] ?? '');
    }
    if (this.text[this.i] !== quote) this.fail('unterminated string');
    this.i++;
    return out.done();
  }

  /** One escape sequence at the current backslash, appended to `out`. */
  private escape(quote: string, out: StringBuilder): void {
    const at = this.i;
    const letter = this.text[this.i + 1] ?? '';
    const simple = SIMPLE_ESCAPES[letter];
    if (simple !== undefined || letter === quote) {
      out.text(simple ?? quote);
      this.i += 2;
      return;
    }
    const numeric = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))/.exec(
      this.text.slice(this.i + 1, this.i + 10),
    );
    if (!numeric) this.fail(`unknown escape \\${letter} in a quoted string (a literal backslash is \\\\)`);
    this.i += 1 + numeric[0].length;
    const [, hex, u4, u8, octal] = numeric;
    if (hex !== undefined || octal !== undefined) {
      const byte = hex !== undefined ? Number.parseInt(hex, 16) : Number.parseInt(octal ?? '', 8);
      if (byte > 255) {
        this.i = at;
        this.fail('octal escape above \\377');
      }
      out.byte(byte);
      return;
    }
    const codePoint = Number.parseInt(u4 ?? u8 ?? '', 16);
    if (codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint < 0xe000)) {
      this.i = at;
      this.fail('escape is not a Unicode character');
    }
    out.text(String.fromCodePoint(codePoint));
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
};

/** Text with `\xNN` and octal escapes, which are bytes (of UTF-8, as in Go), not characters. */
class StringBuilder {
  private readonly parts: string[] = [];
  private bytes: number[] = [];
  text(chars: string): void {
    this.flush();
    this.parts.push(chars);
  }
  byte(value: number): void {
    this.bytes.push(value);
  }
  done(): string {
    this.flush();
    return this.parts.join('');
  }
  private flush(): void {
    if (this.bytes.length === 0) return;
    this.parts.push(Buffer.from(this.bytes).toString('utf8'));
    this.bytes = [];
  }
}

/**
 * A matcher's regex, anchored at both ends as PromQL does. `.` does not match
 * a newline (as in Prometheus 2, unless the pattern starts with `(?s)`); a
 * leading `(?i)` ignores case, as RE2 reads it. Compiled in Unicode mode
 * first, so `.` is one character as in RE2; a pattern only the looser legacy
 * syntax accepts (e.g. `\-` outside a class) still compiles.
 */
function anchoredRegex(pattern: string): RegExp {
  const leading = /^\(\?([is]+)\)/.exec(pattern);
  const flags = [...new Set(leading?.[1] ?? '')].join('');
  const source = `^(?:${pattern.slice(leading?.[0].length ?? 0)})$`;
  try {
    return new RegExp(source, `${flags}u`);
  } catch {
    return new RegExp(source, flags);
  }
}

export function parsePromExpr(text: string): PromExpr {
  return new Parser(text).parse();
}

/** Whether an assertion subject is meant as an expression (observation keys of the kind contain dots, metric names cannot). */
export function looksLikeExpression(subject: string): boolean {
  return /^[\s(]*[a-zA-Z_:][a-zA-Z0-9_:]*\s*[({]/.test(subject) || /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(subject);
}

export function matches(selector: Selector, name: string, labels: Record<string, string>, ignore?: string): boolean {
  if (name !== selector.name) return false;
  return selector.matchers.every((m) => {
    if (m.label === ignore) return true;
    const actual = labels[m.label] ?? '';
    if (m.op === '=') return actual === m.value;
    if (m.op === '!=') return actual !== m.value;
    const hit = m.regex?.test(actual) ?? false;
    return m.op === '=~' ? hit : !hit;
  });
}

/** Metric names (as exposed) an expression reads: histograms read their `_bucket` series. */
export function metricNames(expr: PromExpr, into = new Set<string>()): Set<string> {
  if (expr.type === 'sel') into.add(expr.name);
  else if (expr.type === 'sum' || expr.type === 'rate' || expr.type === 'increase') into.add(expr.arg.name);
  else if (expr.type === 'quantile') into.add(`${expr.arg.name}_bucket`);
  else if (expr.type === 'bin') {
    metricNames(expr.left, into);
    metricNames(expr.right, into);
  }
  return into;
}

/** The longest history an expression needs. */
export function windowOf(expr: PromExpr): number {
  if (expr.type === 'rate' || expr.type === 'increase' || expr.type === 'quantile') return expr.windowMs;
  if (expr.type === 'bin') return Math.max(windowOf(expr.left), windowOf(expr.right));
  return 0;
}

/** The shortest window an expression reads (Infinity when it reads none): the one that needs an earlier scrape soonest. */
export function narrowestWindow(expr: PromExpr): number {
  if (expr.type === 'rate' || expr.type === 'increase' || expr.type === 'quantile') return expr.windowMs;
  if (expr.type === 'bin') return Math.min(narrowestWindow(expr.left), narrowestWindow(expr.right));
  return Number.POSITIVE_INFINITY;
}

export interface EvalInput {
  /** The probe's kept scrapes; the latest one is the current scrape. */
  scrapes: KeptScrape[];
  /** The evaluation time (epoch ms): windows end here. */
  now: number;
}

function matchingSeries(history: ScrapeHistory, selector: Selector, ignore?: string): Series[] {
  return history.series.filter((series) => matches(selector, series.name, series.labels, ignore));
}

/**
 * Sum over matching series of each series' Prometheus increase in the range:
 * `sum(increase(sel[W]))`. Series with fewer than two points there add nothing.
 */
function summedIncrease(history: ScrapeHistory, selector: Selector, range: Range): number {
  let total = 0;
  for (const series of matchingSeries(history, selector)) total += extrapolatedIncrease(series.points, range) ?? 0;
  return total;
}

/** `histogram_quantile(q, sum by (le) (rate(name_bucket{sel}[W])))`. */
function quantile(history: ScrapeHistory, expr: Extract<PromExpr, { type: 'quantile' }>, range: Range): number | null {
  const bucketSelector: Selector = { ...expr.arg, name: `${expr.arg.name}_bucket` };
  const buckets: Bucket[] = [];
  for (const series of matchingSeries(history, bucketSelector, 'le')) {
    const le = series.labels.le === undefined ? undefined : parseBound(series.labels.le);
    const count = extrapolatedIncrease(series.points, range);
    if (le !== undefined && count !== null) buckets.push({ le, count });
  }
  const value = bucketQuantile(expr.q, buckets);
  if (value === null) return null;
  return expr.arg.name.endsWith('_seconds') ? value * 1000 : value;
}

/** Evaluates to a number, or null when it cannot be known yet (one scrape in the window, no observations, x/0). */
export function evaluatePromExpr(expr: PromExpr, input: EvalInput): number | null {
  return evaluate(expr, new ScrapeHistory(input.scrapes), input.now);
}

function evaluate(expr: PromExpr, history: ScrapeHistory, now: number): number | null {
  switch (expr.type) {
    case 'num':
      return expr.value;
    case 'sel':
    case 'sum': {
      // The current scrape's values: a series missing from it is stale, as in an instant query.
      const current = history.times.filter((t) => t <= now).at(-1);
      if (current === undefined) return null;
      let sum = 0;
      for (const series of matchingSeries(history, expr.type === 'sum' ? expr.arg : expr))
        sum += series.points.find((p) => p.t === current)?.v ?? 0;
      return sum;
    }
    case 'rate':
    case 'increase': {
      const range = rangeOf(history.times, expr.windowMs, now);
      if (!range) return null;
      const increase = summedIncrease(history, expr.arg, range);
      return expr.type === 'increase' ? increase : increase / rangeSeconds(range);
    }
    case 'quantile': {
      const range = rangeOf(history.times, expr.windowMs, now);
      return range ? quantile(history, expr, range) : null;
    }
    case 'bin': {
      const left = evaluate(expr.left, history, now);
      const right = evaluate(expr.right, history, now);
      if (left === null || right === null) return null;
      if (expr.op === '+') return left + right;
      if (expr.op === '-') return left - right;
      if (expr.op === '*') return left * right;
      // 0/0: nothing happened, so no share of it failed.
      if (right === 0) return left === 0 ? 0 : null;
      return left / right;
    }
  }
}
