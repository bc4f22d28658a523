import fc from 'fast-check';
import { evaluateSpf } from '../../src/protocols/mail-auth/spf.ts';
import { worldResolver } from '../helpers/spf-world.ts';
import { mutated, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * check_host() evaluation (spf.ts, mailauth in strict mode over our
 * resolver), run by the `email-auth` kind on records anyone can publish.
 * Inputs: records printed from valid terms, the same with one term the
 * grammar refuses, records mutated and text over SPF's characters, and small
 * DNS worlds of such records pointing at each other (includes, redirects,
 * loops, names that fail) evaluated from a random IP. Evaluation never
 * throws, returns one of the RFC 7208 results with a reason, counts no more
 * than the lookup limit (10, the 11th ends it), gives temperror only when a
 * lookup failed, and a record with a refused term is a permerror.
 */

/** RFC 7208 4.6.4: at most 10 DNS-querying terms; the 11th is counted and ends the evaluation. */
const SPF_LOOKUP_LIMIT = 10;

interface SpfTerm {
  qualifier: '+' | '-' | '~' | '?';
  mechanism: string;
  value?: string;
  cidr4?: number;
  cidr6?: number;
}

const DOMAINS = [
  'example.test',
  'a.example.test',
  'b.example.test',
  'loop.example.test',
  'missing.example.test',
  'broken.example.test',
];
const domain = fc.constantFrom(...DOMAINS);
const ip4 = fc.ipV4();
const ip6 = fc.constantFrom('2001:db8::1', '2001:db8::', '::1', 'fe80::1:2', '2001:db8:0:0:0:0:0:2');

const term: fc.Arbitrary<SpfTerm> = fc
  .oneof(
    fc.record({ qualifier: fc.constantFrom('+', '-', '~', '?'), mechanism: fc.constant('all') }),
    fc.record({
      qualifier: fc.constantFrom('+', '-', '~', '?'),
      mechanism: fc.constant('ip4'),
      value: ip4,
      cidr4: fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }),
    }),
    fc.record({
      qualifier: fc.constantFrom('+', '-', '~', '?'),
      mechanism: fc.constant('ip6'),
      value: ip6,
      cidr6: fc.option(fc.integer({ min: 0, max: 128 }), { nil: undefined }),
    }),
    fc.record({
      qualifier: fc.constantFrom('+', '-', '~', '?'),
      mechanism: fc.constantFrom('a', 'mx'),
      value: fc.option(domain, { nil: undefined }),
      cidr4: fc.option(fc.integer({ min: 0, max: 32 }), { nil: undefined }),
      cidr6: fc.option(fc.integer({ min: 0, max: 128 }), { nil: undefined }),
    }),
    fc.record({
      qualifier: fc.constantFrom('+', '-', '~', '?'),
      mechanism: fc.constantFrom('include', 'exists'),
      value: domain,
    }),
    fc.record({
      qualifier: fc.constantFrom('+', '-', '~', '?'),
      mechanism: fc.constant('ptr'),
      value: fc.option(domain, { nil: undefined }),
    }),
  )
  .map((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as unknown as SpfTerm);

/** Terms RFC 7208's grammar refuses: CIDR lengths out of range or empty, a dual CIDR on ip4/ip6, include/exists without a domain. */
const invalidTerm = fc.oneof(
  fc.tuple(ip4, fc.integer({ min: 33, max: 999 })).map(([ip, cidr]) => `ip4:${ip}/${cidr}`),
  fc.tuple(ip6, fc.integer({ min: 129, max: 9999 })).map(([ip, cidr]) => `ip6:${ip}/${cidr}`),
  fc
    .tuple(fc.constantFrom('a', 'mx', '-a', '~mx:example.test'), fc.integer({ min: 33, max: 999 }))
    .map(([mechanism, cidr]) => `${mechanism}/${cidr}`),
  fc
    .tuple(fc.constantFrom('a', 'mx:example.test'), fc.integer({ min: 129, max: 9999 }))
    .map(([mechanism, cidr]) => `${mechanism}//${cidr}`),
  ip4.map((ip) => `ip4:${ip}/`),
  fc.tuple(ip6, fc.integer({ min: 0, max: 128 })).map(([ip, cidr]) => `ip6:${ip}//${cidr}`),
  fc.tuple(ip4, fc.integer({ min: 0, max: 128 })).map(([ip, cidr]) => `+ip4:${ip}//${cidr}`),
  fc.constantFrom('include', '-include:', 'exists', 'exists:', 'ip4', 'ip6:', 'ip4:192.0.2.1/32/'),
);

function printTerm(t: SpfTerm, explicitPlus: boolean): string {
  const qualifier = t.qualifier === '+' && !explicitPlus ? '' : t.qualifier;
  const value = t.value !== undefined ? `:${t.value}` : '';
  if (t.mechanism === 'ip4') return `${qualifier}ip4${value}${t.cidr4 !== undefined ? `/${t.cidr4}` : ''}`;
  if (t.mechanism === 'ip6') return `${qualifier}ip6${value}${t.cidr6 !== undefined ? `/${t.cidr6}` : ''}`;
  return `${qualifier}${t.mechanism}${value}${t.cidr4 !== undefined ? `/${t.cidr4}` : ''}${t.cidr6 !== undefined ? `//${t.cidr6}` : ''}`;
}

interface Record_ {
  terms: SpfTerm[];
  redirect: string | null;
  explicitPlus: boolean;
  spaces: string;
}

const record: fc.Arbitrary<Record_> = fc.record({
  terms: fc.array(term, { maxLength: 8 }),
  redirect: fc.option(domain),
  explicitPlus: fc.boolean(),
  spaces: fc.constantFrom(' ', '  ', ' \t'),
});

function printRecord(r: Record_): string {
  const words = [
    'v=spf1',
    ...r.terms.map((t) => printTerm(t, r.explicitPlus)),
    ...(r.redirect ? [`redirect=${r.redirect}`] : []),
  ];
  return words.join(r.spaces);
}

/** A record printed from valid terms with one refused term among them. */
const brokenRecord = fc.tuple(record, invalidTerm, fc.nat()).map(([r, bad, at]) => {
  const words = printRecord(r).split(r.spaces);
  words.splice(1 + (at % words.length), 0, bad);
  return { text: words.join(' '), bad };
});

const SPF_ALPHABET = [
  ...Array.from('v=spf1 aimxpl46:./-+~?_%{}0123'),
  'include:',
  'ip4:',
  'ip6:',
  'redirect=',
  'exists:',
  '//',
  '/33',
  '/129',
  '192.0.2.1',
  '2001:db8::',
  'all',
  'mx',
  'a:',
  'example.test',
  ' ',
];

/** A world of DNS answers: TXT records per domain, A/AAAA/MX answers, names whose lookups fail. */
interface World {
  txt: Record<string, string[]>;
  a: Record<string, string[]>;
  mx: Record<string, string[]>;
  failing: string[];
}

const world: fc.Arbitrary<World> = fc.record({
  txt: fc.dictionary(
    domain,
    fc.array(
      fc.oneof(
        { arbitrary: record.map(printRecord), weight: 5 },
        { arbitrary: brokenRecord.map((b) => b.text), weight: 1 },
        { arbitrary: mutated(record.map(printRecord), SPF_ALPHABET), weight: 2 },
        { arbitrary: fc.constant('unrelated text'), weight: 1 },
      ),
      { maxLength: 2 },
    ),
  ),
  a: fc.dictionary(domain, fc.array(fc.oneof(ip4, ip6), { maxLength: 3 })),
  mx: fc.dictionary(domain, fc.array(domain, { maxLength: 3 })),
  failing: fc.uniqueArray(domain, { maxLength: 2 }),
});

/** The world as DNS answers; A and AAAA share one table, split by family. */
function resolverOf(w: World) {
  const family = (v6: boolean) =>
    Object.fromEntries(Object.entries(w.a).map(([name, list]) => [name, list.filter((ip) => ip.includes(':') === v6)]));
  return worldResolver({ txt: w.txt, a: family(false), aaaa: family(true), mx: w.mx, failing: w.failing });
}

type Input =
  | { case: 'record'; record: Record_ }
  | { case: 'broken'; text: string; bad: string }
  | { case: 'text'; text: string }
  | { case: 'evaluate'; world: World; ip: string; domain: string };

const RESULTS = new Set(['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror']);

export const spfTarget: FuzzTarget<Input> = {
  name: 'spf',
  subject: 'evaluateSpf (src/protocols/mail-auth/spf.ts)',
  arbitrary: fc.oneof(
    { arbitrary: record.map((r): Input => ({ case: 'record', record: r })), weight: 3 },
    { arbitrary: brokenRecord.map((b): Input => ({ case: 'broken', ...b })), weight: 1 },
    {
      arbitrary: fc
        .oneof(
          mutated(record.map(printRecord), SPF_ALPHABET),
          textOver(SPF_ALPHABET, 120).map((t) => `v=spf1 ${t}`),
        )
        .map((text): Input => ({ case: 'text', text })),
      weight: 3,
    },
    {
      arbitrary: fc.record({ case: fc.constant('evaluate' as const), world, ip: fc.oneof(ip4, ip6), domain }),
      weight: 4,
    },
  ),
  async check(input, timed) {
    const at = 'example.test';
    const world: World =
      input.case === 'evaluate'
        ? input.world
        : {
            txt: { [at]: [input.case === 'record' ? printRecord(input.record) : input.text] },
            a: {},
            mx: {},
            failing: [],
          };
    const domain = input.case === 'evaluate' ? input.domain : at;
    const ip = input.case === 'evaluate' ? input.ip : '192.0.2.1';
    const outcome = await timed(() => evaluateSpf({ ip, mailFrom: `postmaster@${domain}` }, resolverOf(world)));
    if (!RESULTS.has(outcome.result)) throw new Violation(`result ${outcome.result}`);
    if (!outcome.reason) throw new Violation(`${outcome.result} without a reason`);
    // temperror means "ask again later": only a lookup that failed may cause it.
    if (outcome.result === 'temperror' && world.failing.length === 0)
      throw new Violation(`temperror without a failed lookup: ${outcome.detail}`);
    if (outcome.lookups > SPF_LOOKUP_LIMIT + 1)
      throw new Violation(`${outcome.lookups} lookups counted past the limit`);
    if (input.case === 'broken' && outcome.result !== 'permerror')
      throw new Violation(`a record with "${input.bad}" evaluated to ${outcome.result}, not permerror`);
  },
  show(input) {
    if (input.case === 'record') return JSON.stringify(printRecord(input.record));
    if (input.case === 'text' || input.case === 'broken') return JSON.stringify(input.text);
    return `check_host(${input.ip}, ${input.domain}) in ${JSON.stringify(input.world)}`;
  },
};
