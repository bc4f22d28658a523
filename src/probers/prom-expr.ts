import { parseDuration } from '../util/duration.ts';
import { splitSeriesKey } from './prom-text.ts';

/**
 * A small expression language over scrapes, for assertion subjects:
 *   name{label="v",status=~"5..",path!="/x",m!~"GET|HEAD"}   current value, summed over matching series
 *   sum(sel)                                                  the same, spelled out
 *   rate5m(sel) / rate1m / rate30s / rate1h                   per-second increase over the window (counter resets survive)
 *   increase5m(sel)                                           increase over the window
 *   p99(hist) / p50 / p95 / p99.9 / p99_15m                   quantile from histogram buckets over the window (default 5m);
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

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  parse(): PromExpr {
    const expr = this.additive();
    this.space();
    if (this.i < this.text.length) this.fail(`unexpected "${this.text.slice(this.i, this.i + 10)}"`);
    return expr;
  }

  private fail(message: string): never {
    throw new Error(`${message} at column ${this.i + 1} of "${this.text}"`);
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
      this.i++;
      left = { type: 'bin', op, left, right: this.multiplicative() };
    }
    return left;
  }
  private multiplicative(): PromExpr {
    let left = this.primary();
    for (let op = this.peek(); op === '*' || op === '/'; op = this.peek()) {
      this.i++;
      left = { type: 'bin', op, left, right: this.primary() };
    }
    return left;
  }
  private primary(): PromExpr {
    const char = this.peek();
    if (char === '(') {
      this.i++;
      const inner = this.additive();
      this.expect(')');
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
    return this.fail(`unknown function ${fn}() (known: sum, rate5m and other windows, increase5m, p50/p90/p95/p99 and p99_15m)`);
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
    const numeric = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3}))/.exec(this.text.slice(this.i + 1, this.i + 10));
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

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

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

/** One scrape as kept between runs: epoch ms and series key -> value. */
export interface KeptScrape {
  t: number;
  v: Record<string, number>;
}

/** Increase of every series over consecutive scrapes; a drop is a counter reset (the new value counts from zero). */
export function increases(scrapes: KeptScrape[]): Map<string, number> {
  const total = new Map<string, number>();
  for (let k = 1; k < scrapes.length; k++) {
    const before = scrapes[k - 1]?.v ?? {};
    const after = scrapes[k]?.v ?? {};
    for (const [key, value] of Object.entries(after)) {
      const previous = before[key];
      // A series absent from the earlier scrape was created in between: all of it is new.
      const delta = previous === undefined || value < previous ? value : value - previous;
      total.set(key, (total.get(key) ?? 0) + delta);
    }
  }
  return total;
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank. */
export function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number | null {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1);
  if (!total || total.le !== Number.POSITIVE_INFINITY || total.count <= 0) return null;
  const rank = q * total.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of sorted) {
    if (bucket.count >= rank) {
      if (bucket.le === Number.POSITIVE_INFINITY) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      if (inBucket <= 0) return bucket.le;
      return lowerBound + (bucket.le - lowerBound) * ((rank - lowerCount) / inBucket);
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}

export interface EvalInput {
  /** Scrapes oldest first; the last one is the current scrape. */
  scrapes: KeptScrape[];
  now: number;
}

function inWindow(input: EvalInput, windowMs: number): KeptScrape[] {
  // A little slack so the scrape taken one window ago (give or take scheduling jitter) still counts.
  const from = input.now - windowMs - Math.min(windowMs * 0.05 + 1000, 30_000);
  return input.scrapes.filter((s) => s.t >= from);
}

function sumMatching(selector: Selector, values: Iterable<[string, number]>, ignore?: string): { sum: number; seen: number } {
  let sum = 0;
  let seen = 0;
  for (const [key, value] of values) {
    const { name, labels } = splitSeriesKey(key);
    if (!matches(selector, name, labels, ignore)) continue;
    sum += value;
    seen++;
  }
  return { sum, seen };
}

/** Evaluates to a number, or null when it cannot be known yet (one scrape in the window, no observations, x/0). */
export function evaluatePromExpr(expr: PromExpr, input: EvalInput): number | null {
  switch (expr.type) {
    case 'num':
      return expr.value;
    case 'sel':
    case 'sum': {
      const selector = expr.type === 'sum' ? expr.arg : expr;
      const current = input.scrapes.at(-1);
      return current ? sumMatching(selector, Object.entries(current.v)).sum : null;
    }
    case 'rate':
    case 'increase': {
      const window = inWindow(input, expr.windowMs);
      const first = window[0];
      const last = window.at(-1);
      if (!first || !last || window.length < 2 || last.t <= first.t) return null;
      const increase = sumMatching(expr.arg, increases(window)).sum;
      return expr.type === 'increase' ? increase : increase / ((last.t - first.t) / 1000);
    }
    case 'quantile': {
      const window = inWindow(input, expr.windowMs);
      if (window.length < 2) return null;
      const byLe = new Map<number, number>();
      const bucketSelector: Selector = { ...expr.arg, name: `${expr.arg.name}_bucket` };
      for (const [key, value] of increases(window)) {
        const { name, labels } = splitSeriesKey(key);
        if (labels.le === undefined || !matches(bucketSelector, name, labels, 'le')) continue;
        const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
        byLe.set(le, (byLe.get(le) ?? 0) + value);
      }
      const quantile = bucketQuantile(expr.q, [...byLe].map(([le, count]) => ({ le, count })));
      if (quantile === null) return null;
      return expr.arg.name.endsWith('_seconds') ? quantile * 1000 : quantile;
    }
    case 'bin': {
      const left = evaluatePromExpr(expr.left, input);
      const right = evaluatePromExpr(expr.right, input);
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
