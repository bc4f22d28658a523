import { describe, test } from 'node:test';
import { FUZZ_TARGETS } from '../fuzz/targets.ts';
import { assertTarget } from '../fuzz/harness.ts';

/**
 * A fixed-seed slice of `npm run fuzz` (which runs a million inputs per
 * parser): every property of every target — no unexpected exception, every
 * input within 50 ms, the round trips and invariants — on the same inputs at
 * every run. A failure names the shrunk input and the seed that replays it
 * (`npm run fuzz -- --only <target> --seed <seed>`).
 */
const SEED = 20_261_129;
/** Inputs per target: the loader costs milliseconds per input, the rest well under one. */
const INPUTS: Record<string, number> = { config: 250 };

describe('fuzz targets, fixed-seed slice', () => {
  for (const target of FUZZ_TARGETS) {
    const inputs = INPUTS[target.name] ?? 1000;
    test(`${target.name}: ${inputs} inputs of ${target.subject} hold every property`, async () => {
      await assertTarget(target, { inputs, seed: SEED });
    });
  }
});
