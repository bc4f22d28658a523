// Assertions on observations: parsing `key op value`, checking them and describing failures.
import { parseDuration } from './duration.ts';
import type { Assertion, ObservationValue, Observations } from './probe.ts';

export const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', 'contains', 'matches'] as const;
export type Operator = (typeof OPERATORS)[number];

export interface ParsedAssertion {
  subject: string;
  operator: Operator;
  expected: ObservationValue | RegExp;
}

export interface AssertionOutcome {
  expr: string;
  ok: boolean;
  actual: ObservationValue;
  soft: boolean;
}

const SYMBOL_OPERATORS = ['==', '!=', '<=', '>=', '<', '>'] as const;

/**
 * Finds the operator at nesting depth 0 outside quotes, so subjects such as
 * `rate5m(x{status!="200"})` keep their own comparison characters.
 */
function splitAssertion(expr: string): [string, Operator, string] | undefined {
  const word = /\s+(contains|matches)\s+/y;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const char = expr[i] ?? '';
    if (quote) {
      if (char === '\\') i++;
      else if (char === quote) quote = undefined;
      continue;
    }
    if (char === '"' || char === "'") quote = char;
    else if ('({['.includes(char)) depth++;
    else if (')}]'.includes(char)) depth--;
    else if (depth === 0 && i > 0) {
      // Tried where a run of spaces starts, in place: a match inside the run would be the same one, and a
      // slice of the rest at every character made long expressions quadratic.
      word.lastIndex = i;
      const found = /\s/.test(char) && !/\s/.test(expr[i - 1] ?? '') ? word.exec(expr) : null;
      if (found) return [expr.slice(0, i), found[1] as Operator, expr.slice(i + found[0].length)];
      const symbol = SYMBOL_OPERATORS.find((op) => expr.startsWith(op, i));
      if (symbol) return [expr.slice(0, i), symbol, expr.slice(i + symbol.length)];
    }
  }
  return undefined;
}

/** A regular expression of an assertion; an invalid one is a configuration error naming the literal. */
function compileRegex(source: string, flags: string, literal: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw new Error(`cannot read "${literal}": ${(error as Error).message}`, { cause: error });
  }
}

/** Reads the literal on the right: a "string", number, duration (→ ms), percent (→ fraction), bool, null or /regex/. */
export function parseLiteral(text: string): ObservationValue | RegExp {
  const trimmed = text.trim();
  if (/^"(?:[^"\\]|\\.)*"$/.test(trimmed)) {
    try {
      return JSON.parse(trimmed) as string;
    } catch (error) {
      throw new Error(`cannot read "${trimmed}": ${(error as Error).message}`, { cause: error });
    }
  }
  if (/^'[^']*'$/.test(trimmed)) return trimmed.slice(1, -1);
  const regex = /^\/(.*)\/([a-z]*)$/s.exec(trimmed);
  if (regex) return compileRegex(regex[1] ?? '', regex[2] ?? '', trimmed);
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const percent = /^(-?\d+(?:\.\d+)?)%$/.exec(trimmed);
  if (percent) return Number(percent[1]) / 100;
  const duration = parseDuration(trimmed);
  if (duration !== undefined) return duration;
  throw new Error(
    `cannot read "${trimmed}": expected a number, duration (200ms), percent (2%), "string", true, false, null or /regex/`,
  );
}

/** Parses `latency < 200ms`; throws with a message meant for the config error list. */
export function parseAssertion(expr: string): ParsedAssertion {
  const parts = splitAssertion(expr.trim());
  if (!parts)
    throw new Error(
      `"${expr}" is not an assertion: expected <observation> <op> <value>, op one of ${OPERATORS.join(', ')}`,
    );
  const [left, operator, right] = parts;
  const subject = left.trim();
  if (!subject) throw new Error(`"${expr}" has nothing left of ${operator}`);
  const expected = parseLiteral(right);
  if (operator === 'matches' && !(expected instanceof RegExp) && typeof expected !== 'string') {
    throw new Error(`"${expr}": matches needs a /regex/ or a "string"`);
  }
  // A string after `matches` is a regular expression too: an invalid one must fail here, not at every evaluation.
  if (operator === 'matches' && typeof expected === 'string') compileRegex(expected, '', right.trim());
  if (['<', '<=', '>', '>='].includes(operator) && typeof expected !== 'number') {
    throw new Error(`"${expr}": ${operator} needs a number, duration or percent on the right`);
  }
  return { subject, operator, expected };
}

/**
 * Whether `pattern` matches anywhere in `text`, the same way every time: a
 * `/g` or `/y` pattern's test() starts at the lastIndex its previous match
 * left, so a parsed assertion used for several list items or runs would
 * answer by the order it saw them in.
 */
function matchesText(pattern: RegExp, text: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(text);
}

function equals(actual: ObservationValue, expected: ObservationValue | RegExp): boolean {
  if (expected instanceof RegExp) return typeof actual === 'string' && matchesText(expected, actual);
  if (Array.isArray(actual)) return Array.isArray(expected) && JSON.stringify(actual) === JSON.stringify(expected);
  if (typeof actual === 'number' && typeof expected === 'string') return String(actual) === expected;
  if (typeof actual === 'string' && typeof expected === 'number') return actual === String(expected);
  return actual === expected;
}

function contains(actual: ObservationValue, expected: ObservationValue | RegExp): boolean {
  if (Array.isArray(actual)) return actual.some((item) => equals(item, expected));
  if (typeof actual === 'string')
    return expected instanceof RegExp ? matchesText(expected, actual) : actual.includes(String(expected));
  return false;
}

function compare(operator: Operator, actual: ObservationValue, expected: ObservationValue | RegExp): boolean {
  switch (operator) {
    case '==':
      return equals(actual, expected);
    case '!=':
      return !equals(actual, expected);
    case 'contains':
      return contains(actual, expected);
    case 'matches': {
      const pattern = expected instanceof RegExp ? expected : new RegExp(String(expected));
      return typeof actual === 'string'
        ? matchesText(pattern, actual)
        : Array.isArray(actual) && actual.some((item) => matchesText(pattern, item));
    }
    default: {
      if (typeof actual !== 'number' || typeof expected !== 'number' || Number.isNaN(actual)) return false;
      if (operator === '<') return actual < expected;
      if (operator === '<=') return actual <= expected;
      if (operator === '>') return actual > expected;
      return actual >= expected;
    }
  }
}

/** One parsed assertion against observations; one the probe did not produce fails (actual null). */
export function checkAssertion(
  parsed: ParsedAssertion,
  observations: Observations,
): { ok: boolean; actual: ObservationValue } {
  const present = Object.hasOwn(observations, parsed.subject);
  const actual = present ? (observations[parsed.subject] ?? null) : null;
  return { ok: present && compare(parsed.operator, actual, parsed.expected), actual };
}

/**
 * Each configured assertion parsed once: a probe's assertions live as long as
 * its configuration, and parsing them again at every run cost more than
 * checking them. Keyed weakly by the assertion object, so nothing outlives it.
 */
const parsedOnce = new WeakMap<Assertion, ParsedAssertion>();

function parsedOf(assertion: Assertion): ParsedAssertion {
  let parsed = parsedOnce.get(assertion);
  if (!parsed) {
    parsed = parseAssertion(assertion.expr);
    parsedOnce.set(assertion, parsed);
  }
  return parsed;
}

/** Evaluates assertions; an observation the probe did not produce fails the assertion (actual null). */
export function evaluateAssertions(assertions: Assertion[], observations: Observations): AssertionOutcome[] {
  return assertions.map((assertion) => ({
    expr: assertion.expr,
    soft: assertion.soft,
    ...checkAssertion(parsedOf(assertion), observations),
  }));
}

/** "latency < 200ms (was 312)" — for run messages. */
export function describeFailure(outcome: AssertionOutcome): string {
  const actual =
    outcome.actual === null
      ? 'not observed'
      : Array.isArray(outcome.actual)
        ? JSON.stringify(outcome.actual)
        : String(outcome.actual);
  return `${outcome.expr} (actual: ${actual.length > 120 ? `${actual.slice(0, 117)}...` : actual})`;
}
