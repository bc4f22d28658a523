import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { mutated, sameAs, textOver, Violation, type FuzzTarget } from './harness.ts';

/**
 * The configuration loader (config/load.ts): YAML text in a file, loaded as
 * `scaiprobe validate` and the daemon load it. Inputs: configurations
 * generated from the shipped kinds' fields (valid ones must load with their
 * probes, names and kinds intact; invalid ones are refused); their YAML
 * mutated; text over YAML's characters and the config's words; alias
 * bombs and deep nesting. The only error allowed is ConfigError (the list of
 * problems with file, line and key path).
 */

const ENV = { FUZZ_KEY: 'fuzz-secret-value', FUZZ_PASS: 'another-secret' };
let file: string | undefined;
/** One scratch file per process, removed when it exits. */
function scratchFile(): string {
  if (!file) {
    const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-fuzz-config-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    file = join(dir, 'probes.yaml');
  }
  return file;
}

const probeName = fc.stringMatching(/^[a-z0-9][a-z0-9._:-]{0,15}$/);
const durationText = fc.oneof(
  fc.constantFrom('500ms', '30s', '1m', '5m', '1h', '7d', '1h30m'),
  fc.constantFrom('0s', '10', 'soon', '-1s', ''),
);
const assertionText = fc.oneof(
  fc.constantFrom(
    'status == 200',
    'latency < 200ms',
    'json.status == "ready"',
    'rcode == "NOERROR"',
    'answers contains "ok"',
    'depth.total < 100000',
  ),
  fc.constantFrom('status', 'latency <', '== 3', 'x matches /(/'),
);

type Verdict = 'valid' | 'invalid' | 'unknown';

/** One probe of a kind, with what the generator knows of its validity. */
const probe: fc.Arbitrary<{ value: Record<string, unknown>; verdict: Verdict }> = fc
  .record({
    name: probeName,
    kind: fc.constantFrom('http', 'dns', 'queue', 'stats', 'prometheus', 'rbl', 'email-auth'),
    every: fc.option(durationText, { nil: undefined }),
    timeout: fc.option(durationText, { nil: undefined }),
    tags: fc.option(fc.array(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 3 }), { nil: undefined }),
    expect: fc.option(
      fc.array(
        fc.oneof(
          { arbitrary: assertionText, weight: 3 },
          { arbitrary: fc.record({ that: assertionText, soft: fc.boolean() }), weight: 1 },
        ),
        { maxLength: 3 },
      ),
      { nil: undefined },
    ),
    extra: fc.option(fc.constantFrom('color', 'retries', 'enabled'), { nil: undefined }),
    extraValue: fc.oneof(fc.constant(true), fc.integer({ min: -2, max: 20 }), fc.string({ maxLength: 5 })),
    url: fc.oneof(
      fc.constantFrom('http://127.0.0.1:8000/ready', 'https://example.test/health'),
      fc.constantFrom('ftp://x', 'not a url'),
    ),
    secret: fc.constantFrom('${FUZZ_KEY}', '${FUZZ_PASS}', '${FUZZ_UNSET}', 'inline-secret'),
  })
  .map((p) => {
    const fields: Record<string, Record<string, unknown>> = {
      http: { url: p.url },
      dns: { query: { name: 'www.example.test', type: 'A' }, servers: ['127.0.0.1:5300'] },
      queue: { redis: 'redis://127.0.0.1:6390', keys: ['email:process'] },
      stats: { api: p.url, apiKey: p.secret },
      prometheus: { url: p.url, record: ['rate5m(x_total)'] },
      rbl: { ips: ['192.0.2.1'], lists: [{ zone: 'bl.example.test', server: '127.0.0.1:5301' }] },
      'email-auth': { domain: 'example.test', resolver: '127.0.0.1:5300' },
    };
    const value: Record<string, unknown> = { name: p.name, kind: p.kind, ...fields[p.kind] };
    if (p.every !== undefined) value.every = p.every;
    if (p.timeout !== undefined) value.timeout = p.timeout;
    if (p.tags !== undefined) value.tags = p.tags;
    if (p.expect !== undefined) value.expect = p.expect;
    if (p.extra !== undefined) value[p.extra] = p.extraValue;
    const badDuration = (d: string | undefined) => d !== undefined && !GOOD_DURATIONS.includes(d);
    const badAssertion = (a: string | { that: string }) => BAD_ASSERTIONS.includes(typeof a === 'string' ? a : a.that);
    const usesUrl = ['http', 'stats', 'prometheus'].includes(p.kind);
    const invalid =
      badDuration(p.every) ||
      badDuration(p.timeout) ||
      (p.expect ?? []).some(badAssertion) ||
      p.extra === 'color' ||
      (usesUrl && !p.url.startsWith('http')) ||
      (p.kind === 'stats' && (p.secret === 'inline-secret' || p.secret === '${FUZZ_UNSET}'));
    // Only kinds whose fields above are known to be complete can be judged valid; `retries` and `enabled` depend on their value.
    const sure = ['http', 'dns', 'queue', 'stats'].includes(p.kind) && (p.extra === undefined || p.extra === 'color');
    return { value, verdict: invalid ? 'invalid' : sure ? 'valid' : 'unknown' };
  });

const GOOD_DURATIONS = ['500ms', '30s', '1m', '5m', '1h', '7d', '1h30m'];
const BAD_ASSERTIONS = ['status', 'latency <', '== 3', 'x matches /(/'];

const config = fc
  .record({
    probes: fc.uniqueArray(probe, { selector: (p) => p.value.name, maxLength: 5 }),
    defaults: fc.option(fc.record({ every: fc.constantFrom('30s', '1m'), tags: fc.constant(['prod']) }), {
      nil: undefined,
    }),
    scheduler: fc.option(
      fc.record({ concurrency: fc.integer({ min: 0, max: 100 }), jitter: fc.constantFrom('10%', '0%', 'lots') }),
      { nil: undefined },
    ),
    log: fc.option(fc.record({ level: fc.constantFrom('info', 'debug', 'loud') }), { nil: undefined }),
  })
  .map((c) => {
    const doc: Record<string, unknown> = { probes: c.probes.map((p) => p.value) };
    if (c.defaults) doc.defaults = c.defaults;
    if (c.scheduler) doc.scheduler = c.scheduler;
    if (c.log) doc.log = c.log;
    const invalid =
      c.probes.some((p) => p.verdict === 'invalid') ||
      (c.scheduler !== undefined && (c.scheduler.concurrency < 1 || c.scheduler.jitter === 'lots')) ||
      c.log?.level === 'loud';
    const verdict: Verdict = invalid ? 'invalid' : c.probes.every((p) => p.verdict === 'valid') ? 'valid' : 'unknown';
    return {
      doc,
      verdict,
      names: c.probes.map((p) => String(p.value.name)),
      kinds: c.probes.map((p) => String(p.value.kind)),
    };
  });

type Input =
  | { case: 'config'; doc: Record<string, unknown>; verdict: Verdict; names: string[]; kinds: string[] }
  | { case: 'text'; text: string };

const YAML_ALPHABET = [
  ...Array.from('abz09 \n\t:-[]{},&*!|>\'"#%@`?.$'),
  'probes:',
  '\n  - name: ',
  'kind: http',
  'url: ',
  'every: 1m',
  'expect:',
  '${FUZZ_KEY}',
  '&a ',
  '*a',
  '<<: *a',
  '!!str ',
  '---\n',
  '...',
  'null',
  '~',
];

/**
 * `depth` levels of flow collections (past the ~800 levels at which the yaml
 * library reports "Maximum call stack size exceeded" as a YAML error), or an
 * alias bomb of up to 12 levels of ten references each.
 */
const hostile = fc
  .record({ kind: fc.constantFrom('nesting', 'map-nesting', 'aliases'), depth: fc.integer({ min: 1, max: 1200 }) })
  .map(({ kind, depth }): Input => {
    if (kind === 'nesting') return { case: 'text', text: `probes: ${'['.repeat(depth)}${']'.repeat(depth)}\n` };
    if (kind === 'map-nesting')
      return {
        case: 'text',
        text: `probes:\n  - name: x\n    kind: http\n    url: http://x\n    headers: ${'{a: '.repeat(depth)}b${'}'.repeat(depth)}\n`,
      };
    const levels = Math.min(12, 2 + (depth % 11));
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < levels; i++)
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    return { case: 'text', text: `${lines.join('\n')}\nprobes: []\n` };
  });

export const configTarget: FuzzTarget<Input> = {
  name: 'config',
  subject: 'loadConfig on a YAML file (src/config/load.ts)',
  arbitrary: fc.oneof(
    { arbitrary: config.map((c): Input => ({ case: 'config', ...c })), weight: 40 },
    {
      arbitrary: mutated(
        config.map((c) => stringify(c.doc)),
        YAML_ALPHABET,
      ).map((text): Input => ({ case: 'text', text })),
      weight: 40,
    },
    { arbitrary: textOver(YAML_ALPHABET, 120).map((text): Input => ({ case: 'text', text })), weight: 19 },
    { arbitrary: hostile, weight: 1 },
  ),
  check(input, timed) {
    // Writing the file is the harness's cost: only loadConfig is timed.
    const path = scratchFile();
    writeFileSync(path, input.case === 'config' ? stringify(input.doc) : input.text);
    let loaded;
    try {
      loaded = timed(() => loadConfig(path, ENV));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      if (input.case === 'config' && input.verdict === 'valid')
        throw new Violation(`a valid configuration was refused: ${error.message}`);
      return;
    }
    for (const secret of loaded.secrets)
      if (!Object.values(ENV).includes(secret))
        throw new Violation(`a secret that is not one of the environment's was collected: ${secret}`);
    if (input.case !== 'config') return;
    if (input.verdict === 'invalid') throw new Violation('an invalid configuration was loaded');
    sameAs(
      loaded.probes.map((p) => ({ name: p.name, kind: p.kind })),
      input.names.map((name, i) => ({ name, kind: input.kinds[i] })),
      'loaded probes',
    );
  },
  show(input) {
    return JSON.stringify(input.case === 'config' ? stringify(input.doc) : input.text);
  },
};
