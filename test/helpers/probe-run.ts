import pino from 'pino';
import type { z } from 'zod';
import { systemClock, type Clock } from '../../src/util/clock.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import type { CommonProbeSpec, Measurement } from '../../src/core/probe.ts';
import type { ProbeContext, ProbeKind, Prober } from '../../src/probers/kind.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';

/** A spec as the loader builds it: the kind's fields parsed strictly, its check() run, common keys defaulted. */
export function specFor<Spec extends Record<string, unknown>>(kind: ProbeKind<Spec>, raw: Record<string, unknown>, expect: string[] = [], tenant?: string): Spec & CommonProbeSpec {
  const own = (kind.fields as z.ZodObject<z.ZodRawShape>).strict().parse(raw) as Spec;
  const common = { name: 'test', kind: kind.kind, timeout: 10_000, retries: 0, retryDelay: 0, tags: [], expect: expect.map((expr) => ({ expr, soft: false })), ...(tenant ? { tenant } : {}) };
  const problems = (kind.check?.({ ...own, ...common }) ?? []).filter((p) => !p.warning);
  if (problems.length) throw new Error(`invalid spec: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
  return { ...own, ...common };
}

export function makeProber<Spec extends Record<string, unknown>>(kind: ProbeKind<Spec>, spec: Spec & CommonProbeSpec, clock: Clock = systemClock): Prober {
  return kind.create(spec, { clock, logger: pino({ level: 'silent' }), http: createHttpClient(), recorded: new RecentItems() });
}

/** One run with a deadline on the given clock, feeding back the previous state as the runner does. */
export async function probeOnce(prober: Prober, options: { previousState?: unknown; timeoutMs?: number; clock?: Clock } = {}): Promise<Measurement> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clock = options.clock ?? systemClock;
  const ctx: ProbeContext = {
    signal: AbortSignal.timeout(timeoutMs),
    deadline: clock.now() + timeoutMs,
    clock,
    logger: pino({ level: 'silent' }),
    http: createHttpClient(),
    previousState: options.previousState,
    runId: 'test',
  };
  return prober.probe(ctx);
}
