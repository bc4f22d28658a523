import fc from 'fast-check';

/**
 * Property-based fuzzing of the parsers that read what comes from outside
 * (DNS replies, mail headers, metrics pages) or from operators (expressions,
 * assertions, SPF records, YAML). Every target states three kinds of property:
 *
 * - no input makes the parser throw anything but its own expected error (an
 *   error value, or the typed error its caller turns into a failed run);
 * - every input is parsed within the time limit (50 ms);
 * - invariants where they are meaningful: what is rendered and parsed back
 *   comes back the same, evaluation is deterministic, and so on.
 *
 * `npm run fuzz` (scripts/fuzz.ts) runs a million inputs per target and
 * counts; test/unit/fuzz.test.ts runs a fixed-seed slice through fc.assert,
 * which shrinks a failing input to a small one.
 */

/** An invariant that does not hold for an input (as opposed to an exception the parser let escape). */
export class Violation extends Error {
  override readonly name = 'Violation';
}

/**
 * Runs `fn` and adds its duration to the input's parse time (a promise is
 * timed until it settles). The duration is CPU time (process.cpuUsage): on a
 * shared machine a parse's wall time also counts the time it waited for a
 * CPU, which says nothing about the parser.
 */
export type Timer = <R>(fn: () => R) => R;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

export interface FuzzTarget<T> {
  /** Short name, used on the command line and in the table. */
  name: string;
  /** What is exercised. */
  subject: string;
  arbitrary: fc.Arbitrary<T>;
  /**
   * Parses one input through `timed` and checks the invariants: throws a
   * Violation when one does not hold. Whatever else escapes is an exception
   * the parser should not have thrown.
   */
  check(input: T, timed: Timer): void | Promise<void>;
  /** The input, readable, for reports. */
  show(input: T): string;
}

export const TIME_LIMIT_MS = 50;

export interface Finding {
  type: 'exception' | 'violation' | 'slow';
  input: string;
  detail: string;
}

export interface FuzzStats {
  target: string;
  inputs: number;
  exceptions: number;
  violations: number;
  /** Inputs whose parse took longer than the limit on each of three tries. */
  slow: number;
  slowestMs: number;
  slowestInput: string;
  elapsedMs: number;
  /** The first few findings of each type. */
  findings: Finding[];
}

interface Outcome {
  ms: number;
  error?: unknown;
}

async function once<T>(target: FuzzTarget<T>, input: T): Promise<Outcome> {
  let ms = 0;
  const timed: Timer = <R>(fn: () => R): R => {
    const started = cpuMs();
    let result: R;
    try {
      result = fn();
    } catch (error) {
      ms += cpuMs() - started;
      throw error;
    }
    if (result instanceof Promise) {
      return result.finally(() => {
        ms += cpuMs() - started;
      }) as R;
    }
    ms += cpuMs() - started;
    return result;
  };
  try {
    await target.check(input, timed);
    return { ms };
  } catch (error) {
    return { ms, error };
  }
}

/**
 * Checks one input. A parse slower than the limit is timed twice more and the
 * fastest of the three counts: a garbage collection or a cold JIT can land in
 * one try, but a parser that is really slow for an input is slow every time.
 */
export async function checkInput<T>(target: FuzzTarget<T>, input: T, limitMs = TIME_LIMIT_MS): Promise<Outcome> {
  const first = await once(target, input);
  if (first.error !== undefined || first.ms <= limitMs) return first;
  let fastest = first.ms;
  for (let retry = 0; retry < 2 && fastest > limitMs; retry++)
    fastest = Math.min(fastest, (await once(target, input)).ms);
  return { ms: fastest };
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 500);
  return `non-Error thrown: ${String(error)}`.slice(0, 500);
}

export function shortInput(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

/**
 * Runs `inputs` generated inputs through a target and counts what went wrong
 * without stopping (the fuzz run's mode). `onProgress` is called every
 * `progressEvery` inputs.
 */
export async function fuzz<T>(
  target: FuzzTarget<T>,
  options: {
    inputs: number;
    seed: number;
    limitMs?: number;
    keep?: number;
    onProgress?: (stats: FuzzStats) => void;
    progressEvery?: number;
  },
): Promise<FuzzStats> {
  const limitMs = options.limitMs ?? TIME_LIMIT_MS;
  const keep = options.keep ?? 5;
  const stats: FuzzStats = {
    target: target.name,
    inputs: 0,
    exceptions: 0,
    violations: 0,
    slow: 0,
    slowestMs: 0,
    slowestInput: '',
    elapsedMs: 0,
    findings: [],
  };
  const started = performance.now();
  // Findings keep the whole input (to replay it); the table shows the start of it.
  const record = (type: Finding['type'], input: T, detail: string) => {
    if (stats.findings.filter((finding) => finding.type === type).length < keep)
      stats.findings.push({ type, input: target.show(input), detail });
  };
  const property = fc.asyncProperty(target.arbitrary, async (input) => {
    const outcome = await checkInput(target, input, limitMs);
    stats.inputs++;
    if (outcome.error instanceof Violation) {
      stats.violations++;
      record('violation', input, outcome.error.message);
    } else if (outcome.error !== undefined) {
      stats.exceptions++;
      record('exception', input, describeError(outcome.error));
    }
    if (outcome.ms > stats.slowestMs) {
      stats.slowestMs = outcome.ms;
      stats.slowestInput = shortInput(target.show(input));
    }
    if (outcome.ms > limitMs) {
      stats.slow++;
      record('slow', input, `${outcome.ms.toFixed(1)} ms`);
    }
    if (options.onProgress && stats.inputs % (options.progressEvery ?? 100_000) === 0) {
      stats.elapsedMs = performance.now() - started;
      options.onProgress(stats);
    }
    return true;
  });
  await fc.check(property, { numRuns: options.inputs, seed: options.seed });
  stats.elapsedMs = performance.now() - started;
  return stats;
}

/**
 * The test suite's mode: a fixed-seed slice through fc.assert, so a failing
 * input (exception, violation or a parse over the limit) fails the test with
 * the shrunk counterexample and the seed to replay it.
 */
export async function assertTarget<T>(
  target: FuzzTarget<T>,
  options: { inputs: number; seed: number; limitMs?: number },
): Promise<void> {
  const limitMs = options.limitMs ?? TIME_LIMIT_MS;
  await fc.assert(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const outcome = await checkInput(target, input, limitMs);
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the parser threw goes to fast-check as it was
      if (outcome.error !== undefined) throw outcome.error;
      if (outcome.ms > limitMs) throw new Violation(`parsing took ${outcome.ms.toFixed(1)} ms (limit ${limitMs} ms)`);
    }),
    { numRuns: options.inputs, seed: options.seed, includeErrorInReport: true },
  );
}

// ---- shared generators --------------------------------------------------------------------------

/** Strings over a given alphabet (characters or short tokens), for text that is nearly the grammar. */
export function textOver(alphabet: string[], maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...alphabet), maxLength });
}

/**
 * A string mutated a few times: characters deleted, duplicated, replaced or
 * inserted (from `alphabet`), or the string cut short. Near-misses of valid
 * input reach the parsers' error paths more often than random text.
 */
export function mutated(base: fc.Arbitrary<string>, alphabet: string[]): fc.Arbitrary<string> {
  const edit = fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    op: fc.constantFrom('delete', 'duplicate', 'replace', 'insert', 'cut'),
    char: fc.constantFrom(...alphabet),
  });
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => {
    let out = text;
    for (const { at, op, char } of edits) {
      const i = Math.min(out.length, Math.floor(at * (out.length + 1)));
      if (op === 'delete') out = out.slice(0, i) + out.slice(i + 1);
      else if (op === 'duplicate') out = out.slice(0, i) + out.slice(i, i + 1) + out.slice(i);
      else if (op === 'replace') out = out.slice(0, i) + char + out.slice(i + 1);
      else if (op === 'insert') out = out.slice(0, i) + char + out.slice(i);
      else out = out.slice(0, i);
    }
    return out;
  });
}

/** Bytes mutated a few times: flips, cuts, insertions. */
export function mutatedBytes(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    op: fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete'),
    value: fc.integer({ min: 0, max: 255 }),
  });
  return fc.tuple(base, fc.array(edit, { minLength: 1, maxLength: 6 })).map(([bytes, edits]) => {
    let out = Array.from(bytes);
    for (const { at, op, value } of edits) {
      const i = Math.min(Math.max(0, out.length - 1), Math.floor(at * out.length));
      if (op === 'flip' && out.length > 0) out[i] = (out[i] ?? 0) ^ (1 << (value % 8));
      else if (op === 'set' && out.length > 0) out[i] = value;
      else if (op === 'cut') out = out.slice(0, Math.floor(at * out.length));
      else if (op === 'insert') out.splice(i, 0, value);
      else if (op === 'delete') out.splice(i, 1);
    }
    return Uint8Array.from(out);
  });
}

/** Deep equality for invariants; throws a Violation naming what differs. */
export function sameAs(actual: unknown, expected: unknown, what: string): void {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) throw new Violation(`${what}: got ${a.slice(0, 400)}, expected ${e.slice(0, 400)}`);
}

function canonical(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) return `#${String(v)}`;
      if (v instanceof RegExp) return `/${v.source}/${v.flags}`;
      if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
      if (v && typeof v === 'object' && !Array.isArray(v))
        return Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        );
      return v;
    }) ?? 'undefined'
  );
}
