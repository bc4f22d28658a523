import fc from 'fast-check';
import {
  judgeAuthentication,
  parseAuthenticationResults,
  parseHeaderBlock,
} from '../../src/protocols/mail-auth/auth-results.ts';
import { mutated, sameAs, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * Authentication-Results and the header block around it (auth-results.ts),
 * which the mail kind runs on whatever reaches a seed. Inputs: header blocks
 * built from fields (folded at random spaces, CRLF or LF) whose fields and
 * Authentication-Results statements must come back as written; the same
 * blocks mutated; text over the header grammar's characters; wide
 * Authentication-Results (up to 200 statements); and blocks with a field
 * folded over thousands of lines, which must be read in linear time.
 * Nothing may be thrown.
 */

const token = fc.stringMatching(/^[a-z0-9][a-z0-9._@+-]{0,14}$/);
const word = fc.stringMatching(/^[A-Za-z0-9<>@._=+/-]{1,12}$/);

interface Statement {
  method: string;
  result: string;
  props: Array<[string, string]>;
  reason: string | null;
  comment: string | null;
}

const statement: fc.Arbitrary<Statement> = fc.record({
  method: fc.constantFrom('spf', 'dkim', 'dmarc', 'arc', 'compauth', 'auth', 'iprev', 'x-custom'),
  result: fc.constantFrom(
    'pass',
    'fail',
    'softfail',
    'neutral',
    'none',
    'temperror',
    'permerror',
    'policy',
    'bestguesspass',
  ),
  props: fc.uniqueArray(
    fc.tuple(
      fc.constantFrom(
        'smtp.mailfrom',
        'header.d',
        'header.i',
        'header.s',
        'header.from',
        'header.b',
        'policy.iprev',
        'action',
      ),
      token,
    ),
    { selector: ([key]) => key, maxLength: 4 },
  ),
  reason: fc.option(fc.stringMatching(/^[a-z0-9 ,.:-]{0,20}$/), { freq: 3 }),
  comment: fc.option(fc.stringMatching(/^[a-z0-9 =,.:-]{1,20}$/), { freq: 3 }),
});

function renderStatement(s: Statement): string {
  const parts = [`${s.method}=${s.result}`];
  if (s.comment !== null) parts.push(`(${s.comment})`);
  if (s.reason !== null) parts.push(`reason="${s.reason}"`);
  for (const [key, value] of s.props) parts.push(`${key}=${value}`);
  return parts.join(' ');
}

interface Field {
  name: string;
  /** Words joined by single spaces; folds replace some of those spaces. */
  words: string[];
}

interface Block {
  fields: Field[];
  /** One Authentication-Results written from statements, at `at` in the block. */
  authservId: string;
  statements: Statement[];
  at: number;
  folds: boolean[];
  crlf: boolean;
  tab: boolean;
  body: string;
}

const block: fc.Arbitrary<Block> = fc.record({
  fields: fc.array(
    fc.record({
      name: fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/),
      words: fc.array(word, { minLength: 1, maxLength: 8 }),
    }),
    { maxLength: 6 },
  ),
  authservId: fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/).filter((id) => id !== 'none'),
  statements: fc.array(statement, { maxLength: 5 }),
  at: fc.nat(),
  folds: fc.array(fc.boolean(), { maxLength: 60 }),
  crlf: fc.boolean(),
  tab: fc.boolean(),
  body: fc.string({ maxLength: 40 }),
});

function arValue(b: Block): string {
  return [b.authservId, ...b.statements.map(renderStatement)].join('; ');
}

/** Fields as they should be parsed back: the Authentication-Results inserted at its place. */
function fieldsOf(b: Block): Array<{ name: string; value: string }> {
  const fields = b.fields.map((f) => ({ name: f.name, value: f.words.join(' ') }));
  fields.splice(b.at % (fields.length + 1), 0, { name: 'Authentication-Results', value: arValue(b) });
  return fields;
}

function render(b: Block): string {
  const eol = b.crlf ? '\r\n' : '\n';
  let fold = 0;
  // A fold replaces a single space between two words: unfolding gives back that one space.
  const lines = fieldsOf(b).map(({ name, value }) => {
    const parts = value.split(' ');
    const folded = parts.map((part, i) => {
      if (i === 0) return part;
      const between = part !== '' && parts[i - 1] !== '' && b.folds[fold++ % Math.max(1, b.folds.length)];
      return `${between ? `${eol}${b.tab ? '\t' : ' '}` : ' '}${part}`;
    });
    return `${name}: ${folded.join('')}`;
  });
  return `${lines.join(eol)}${eol}${eol}${b.body}`;
}

type Input =
  | { case: 'block'; block: Block }
  | { case: 'text'; text: string; authservId: string }
  | { case: 'long'; lines: number; line: string; field: string; crlf: boolean };

const HEADER_ALPHABET = [
  ...Array.from('abcxyz019 \t\r\n:;=()"\\.-@/'),
  'spf=',
  'dkim=',
  'dmarc=',
  'pass',
  'fail',
  'Authentication-Results: ',
  'ARC-Seal: i=1; cv=',
  'Received-SPF: ',
  'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
  '\r\n ',
  '\n\t',
  'header.d=',
  'reason="',
  'p=reject',
];

const text = textOver(HEADER_ALPHABET, 400).map((t): Input => ({
  case: 'text',
  text: t,
  authservId: 'mx.example.test',
}));
const mutatedBlock = fc
  .tuple(mutated(block.map(render), HEADER_ALPHABET), fc.constantFrom('mx.example.test', ''))
  .map(([t, authservId]): Input => ({ case: 'text', text: t, authservId }));
/**
 * A header block with one field folded over thousands of lines (up to 256
 * KiB; before unfolding was made linear, 160 KiB took 2.6 s and 640 KiB
 * 103 s): a mail anyone can send to a seed, read before its token is known.
 * The provider's own Authentication-Results is on top; the long field is a
 * Received-style header or a forged Authentication-Results below it.
 */
const long = fc
  .record({
    lines: fc.integer({ min: 1000, max: 8000 }),
    line: fc.constantFrom(
      ' x=y;',
      '\tdkim=pass header.d=a.example;',
      ' (comment (nested) "q\\"")',
      ' ',
      ' from relay.example by mx.example with ESMTPS id',
    ),
    field: fc.constantFrom('Received', 'X-Spam-Report', 'Authentication-Results'),
    crlf: fc.boolean(),
  })
  .map((l): Input => ({ case: 'long', ...l }));

function longText(input: { lines: number; line: string; field: string; crlf: boolean }): string {
  const eol = input.crlf ? '\r\n' : '\n';
  return `Authentication-Results: mx.example.test; spf=pass${eol}${input.field}: forged.example; dkim=pass${(eol + input.line).repeat(input.lines)}${eol}Subject: x${eol}${eol}`;
}

/** An Authentication-Results of up to 200 statements (providers write a handful). */
const wide = fc.array(statement, { minLength: 20, maxLength: 200 }).map((statements): Input => ({
  case: 'block',
  block: {
    fields: [],
    authservId: 'mx.example.test',
    statements,
    at: 0,
    folds: [true, false],
    crlf: true,
    tab: false,
    body: '',
  },
}));

export const authResultsTarget: FuzzTarget<Input> = {
  name: 'auth-results',
  subject:
    'parseHeaderBlock, parseAuthenticationResults, judgeAuthentication (src/protocols/mail-auth/auth-results.ts)',
  arbitrary: fc.oneof(
    { arbitrary: block.map((b): Input => ({ case: 'block', block: b })), weight: 40 },
    { arbitrary: mutatedBlock, weight: 40 },
    { arbitrary: text, weight: 18 },
    { arbitrary: wide, weight: 1 },
    { arbitrary: long, weight: 1 },
  ),
  check(input, timed) {
    if (input.case === 'long') {
      const fields = timed(() => parseHeaderBlock(longText(input)));
      const verdict = timed(() => judgeAuthentication(fields, 'mx.example.test'));
      if (fields.length !== 3) throw new Violation(`${fields.length} fields, expected 3`);
      if (verdict.spf !== 'pass' || verdict.dkim !== null)
        throw new Violation(`the verdict is not the top header's: ${JSON.stringify(verdict)}`);
      return;
    }
    if (input.case === 'text') {
      const fields = timed(() => parseHeaderBlock(input.text));
      timed(() => judgeAuthentication(fields, input.authservId || undefined));
      for (const field of fields)
        if (field.value !== field.value.trim() || field.name !== field.name.toLowerCase())
          throw new Violation(`field not normalized: ${JSON.stringify(field)}`);
      return;
    }
    const b = input.block;
    const fields = timed(() => parseHeaderBlock(render(b)));
    sameAs(
      fields,
      fieldsOf(b).map((f) => ({ name: f.name.toLowerCase(), value: f.value })),
      'header fields',
    );
    const parsed = timed(() => parseAuthenticationResults(arValue(b)));
    sameAs(
      parsed,
      {
        authservId: b.authservId,
        results: b.statements.map((s) => ({
          method: s.method,
          result: s.result,
          ...(s.reason !== null ? { reason: s.reason } : {}),
          props: Object.fromEntries(s.props),
          comments: s.comment !== null ? [s.comment.trim()] : [],
        })),
      },
      'Authentication-Results',
    );
    const verdict = timed(() => judgeAuthentication(fields, b.authservId));
    const spfs = b.statements.filter((s) => s.method === 'spf');
    // Several statements of a method: a passing one decides, else the first.
    const spf = spfs.find((s) => s.result === 'pass') ?? spfs[0];
    // Only the header written here carries the authserv-id, so it is the trusted one (unless another field is also named Authentication-Results).
    if (
      !b.fields.some((f) => f.name.toLowerCase() === 'authentication-results') &&
      verdict.spf !== (spf?.result ?? null)
    ) {
      throw new Violation(`verdict spf ${verdict.spf}, expected ${spf?.result ?? null}`);
    }
  },
  show(input) {
    if (input.case === 'long')
      return `${input.field} folded over ${input.lines} lines of ${JSON.stringify(input.line)} (${input.crlf ? 'CRLF' : 'LF'})`;
    return JSON.stringify(input.case === 'block' ? render(input.block) : input.text);
  },
};
