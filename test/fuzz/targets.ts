import type { FuzzTarget } from './harness.ts';
import { dnsReplyTarget } from './dns-reply.ts';
import { authResultsTarget } from './auth-results.ts';
import { promTextTarget } from './prom-text.ts';
import { promExprTarget } from './prom-expr.ts';
import { spfTarget } from './spf.ts';
import { assertionsTarget } from './assertions.ts';
import { configTarget } from './config.ts';

/** Every fuzz target, in the order `npm run fuzz` runs them. */
export const FUZZ_TARGETS: Array<FuzzTarget<unknown>> = [
  dnsReplyTarget,
  authResultsTarget,
  promTextTarget,
  promExprTarget,
  spfTarget,
  assertionsTarget,
  configTarget,
];
