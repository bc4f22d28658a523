import fc from 'fast-check';
import { evaluateAssertions, parseAssertion, type Operator } from '../../src/core/assertions.ts';
import type { ObservationValue, Observations } from '../../src/core/probe.ts';
import { mutated, sameAs, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * Assertions (core/assertions.ts): parsed from every probe's `expect` when
 * the configuration loads, evaluated after every run. Inputs: assertions
 * printed from (subject, operator, literal) that must parse back to the
 * same, each evaluated against random observations (never an exception, the
 * same twice, `==` and `!=` opposite when the observation exists, a missing
 * one fails, a `/g` regex judges like the same regex without it); the
 * printed text mutated; text over the grammar's characters. The parser's
 * errors are the ones the configuration error list shows: messages that
 * quote the assertion ("..." or cannot read "...").
 */

const subject = fc.oneof(
  fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,8}(\.[a-zA-Z0-9_:-]{1,10}){0,3}$/),
  fc.constantFrom(
    'status',
    'latency',
    'json.status',
    'answers',
    'seed.seed-a.placement',
    'rate5m(http_requests_total{status=~"5.."}) / rate5m(http_requests_total)',
    'p99(req_seconds{path!="/x<y"})',
    'sum(x{a="b,c"})',
  ),
);

type Literal =
  | { type: 'string'; value: string; quote: '"' | "'" }
  | { type: 'number'; text: string }
  | { type: 'percent'; text: string }
  | { type: 'duration'; amount: number; unit: 'ms' | 's' | 'm' | 'h' | 'd' }
  | { type: 'bool'; value: boolean }
  | { type: 'null' }
  | { type: 'regex'; source: string; flags: string };

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const numberText = fc
  .tuple(fc.boolean(), fc.nat({ max: 100_000 }), fc.option(fc.stringMatching(/^[0-9]{1,4}$/)))
  .map(([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${fraction !== null ? `.${fraction}` : ''}`);
const regexSource = fc.constantFrom('ready', '^ok$', '5..', 'a|b', '[a-z]+\\d?', '.*', '(?:x|y)z', 'a/b', '\\s');

const literal: fc.Arbitrary<Literal> = fc.oneof(
  fc.record({
    type: fc.constant('string' as const),
    value: fc.string({ maxLength: 12 }),
    quote: fc.constant('"' as const),
  }),
  fc.record({
    type: fc.constant('string' as const),
    value: fc.stringMatching(/^[a-z0-9 .:-]{0,10}$/),
    quote: fc.constant("'" as const),
  }),
  fc.record({ type: fc.constant('number' as const), text: numberText }),
  fc.record({ type: fc.constant('percent' as const), text: numberText }),
  fc.record({
    type: fc.constant('duration' as const),
    amount: fc.nat({ max: 10_000 }),
    unit: fc.constantFrom('ms' as const, 's' as const, 'm' as const, 'h' as const, 'd' as const),
  }),
  fc.record({ type: fc.constant('bool' as const), value: fc.boolean() }),
  fc.record({ type: fc.constant('null' as const) }),
  fc.record({
    type: fc.constant('regex' as const),
    source: regexSource,
    flags: fc.constantFrom('', 'i', 'g', 'gi', 'm', 's', 'u'),
  }),
);

function printLiteral(l: Literal): string {
  switch (l.type) {
    case 'string':
      return l.quote === '"' ? JSON.stringify(l.value) : `'${l.value}'`;
    case 'number':
      return l.text;
    case 'percent':
      return `${l.text}%`;
    case 'duration':
      return `${l.amount}${l.unit}`;
    case 'bool':
      return String(l.value);
    case 'null':
      return 'null';
    case 'regex':
      return `/${l.source}/${l.flags}`;
  }
}

function valueOf(l: Literal): ObservationValue | RegExp {
  switch (l.type) {
    case 'string':
      return l.value;
    case 'number':
      return Number(l.text);
    case 'percent':
      return Number(l.text) / 100;
    case 'duration':
      return l.amount * UNIT_MS[l.unit];
    case 'bool':
      return l.value;
    case 'null':
      return null;
    case 'regex':
      return new RegExp(l.source, l.flags);
  }
}

const OPERATORS_FOR: Record<Literal['type'], Operator[]> = {
  string: ['==', '!=', 'contains', 'matches'],
  number: ['==', '!=', '<', '<=', '>', '>=', 'contains'],
  percent: ['==', '!=', '<', '<=', '>', '>='],
  duration: ['==', '!=', '<', '<=', '>', '>='],
  bool: ['==', '!=', 'contains'],
  null: ['==', '!='],
  regex: ['==', '!=', 'contains', 'matches'],
};

interface Assertion {
  subject: string;
  literal: Literal;
  operator: Operator;
  spacing: [string, string];
}

const assertion: fc.Arbitrary<Assertion> = fc
  .record({
    subject,
    literal,
    pick: fc.nat(),
    spacing: fc.tuple(fc.constantFrom(' ', '  ', '\t', ''), fc.constantFrom(' ', '', '  ')),
  })
  .map(({ subject: s, literal: l, pick, spacing }) => {
    // A string after `matches` is a regular expression, so only one that compiles is a valid assertion.
    const choices =
      l.type === 'string' && !compiles(l.value)
        ? OPERATORS_FOR.string.filter((op) => op !== 'matches')
        : OPERATORS_FOR[l.type];
    const operator = choices[pick % choices.length] ?? '==';
    // The word operators need spaces around them.
    const around: [string, string] = operator === 'contains' || operator === 'matches' ? [' ', ' '] : spacing;
    return { subject: s, literal: l, operator, spacing: around };
  });

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

function printAssertion(a: Assertion): string {
  return `${a.subject}${a.spacing[0]}${a.operator}${a.spacing[1]}${printLiteral(a.literal)}`;
}

const observationValue: fc.Arbitrary<ObservationValue> = fc.oneof(
  fc.double(),
  fc.integer({ min: -1000, max: 100_000 }),
  fc.string({ maxLength: 10 }),
  fc.constantFrom('ready', 'ok', 'a/b', 'xyz', '503', 'ABC'),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.constantFrom('ready', 'a', 'b', 'xyz', '5', 'zz', ''), { maxLength: 4 }),
);

type Input =
  | { case: 'assertion'; assertion: Assertion; observations: Observations; observed: boolean; soft: boolean }
  | { case: 'text'; text: string };

const ASSERTION_ALPHABET = [
  ...Array.from('abz.09 <>=!"\'/\\%()[]{}-_gims'),
  'contains',
  'matches',
  ' contains ',
  ' matches ',
  '200ms',
  '2%',
  'true',
  'null',
  '/re/',
  '"s"',
  '\\u00',
  '1e3',
  'status',
];

function isConfigMessage(error: unknown): boolean {
  return error instanceof Error && /^("|cannot read ")/.test(error.message);
}

export const assertionsTarget: FuzzTarget<Input> = {
  name: 'assertions',
  subject: 'parseAssertion, evaluateAssertions (src/core/assertions.ts)',
  arbitrary: fc.oneof(
    {
      arbitrary: fc
        .record({
          case: fc.constant('assertion' as const),
          assertion,
          observations: fc.dictionary(fc.constantFrom('status', 'latency', 'x.y', 'answers'), observationValue, {
            maxKeys: 3,
          }),
          observed: fc.boolean(),
          value: observationValue,
          soft: fc.boolean(),
        })
        .map(({ assertion: a, observations, observed, value, soft }): Input => ({
          case: 'assertion',
          assertion: a,
          observations: observed ? { ...observations, [a.subject]: value } : observations,
          observed,
          soft,
        })),
      weight: 5,
    },
    {
      arbitrary: mutated(assertion.map(printAssertion), ASSERTION_ALPHABET).map((text): Input => ({
        case: 'text',
        text,
      })),
      weight: 3,
    },
    { arbitrary: textOver(ASSERTION_ALPHABET, 60).map((text): Input => ({ case: 'text', text })), weight: 2 },
  ),
  check(input, timed) {
    if (input.case === 'text') {
      let parsed;
      try {
        parsed = timed(() => parseAssertion(input.text));
      } catch (error) {
        if (isConfigMessage(error)) return;
        throw error;
      }
      timed(() => evaluateAssertions([{ expr: input.text, soft: false }], { [parsed.subject]: 1, other: 'x' }));
      return;
    }
    const a = input.assertion;
    const text = printAssertion(a);
    let parsed;
    try {
      parsed = timed(() => parseAssertion(text));
    } catch (error) {
      if (isConfigMessage(error)) throw new Violation(`a printed assertion was refused: ${(error as Error).message}`);
      throw error;
    }
    sameAs(parsed, { subject: a.subject, operator: a.operator, expected: valueOf(a.literal) }, 'parsed assertion');
    const evaluate = (expr: string) =>
      timed(() => evaluateAssertions([{ expr, soft: input.soft }], input.observations))[0];
    const first = evaluate(text);
    const second = evaluate(text);
    sameAs(second, first, 'evaluated twice');
    if (!first) throw new Violation('no outcome');
    const present = Object.hasOwn(input.observations, a.subject);
    sameAs(
      { soft: first.soft, actual: first.actual },
      { soft: input.soft, actual: present ? (input.observations[a.subject] ?? null) : null },
      'outcome',
    );
    if (!present && first.ok) throw new Violation('an assertion on an observation that was not made passed');
    if (present && (a.operator === '==' || a.operator === '!=')) {
      const other = `${a.subject} ${a.operator === '==' ? '!=' : '=='} ${printLiteral(a.literal)}`;
      if (evaluate(other)?.ok === first.ok) throw new Violation(`"${text}" and "${other}" agree (${first.ok})`);
    }
    if (a.literal.type === 'regex' && a.literal.flags.includes('g')) {
      const without = `${a.subject} ${a.operator} /${a.literal.source}/${a.literal.flags.replace('g', '')}`;
      if (evaluate(without)?.ok !== first.ok) throw new Violation(`"${text}" judges unlike "${without}"`);
    }
  },
  show(input) {
    if (input.case === 'text') return JSON.stringify(input.text);
    return `${JSON.stringify(printAssertion(input.assertion))} (soft ${input.soft}) on ${JSON.stringify(input.observations)}`;
  },
};
