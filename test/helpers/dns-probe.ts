import pino from 'pino';
import type { z } from 'zod';
import { systemClock, type Clock } from '../../src/util/clock.ts';
import { createHttpClient } from '../../src/protocols/http/client.ts';
import type { CommonProbeSpec, Measurement } from '../../src/core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from '../../src/probers/kind.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';

/** Builds a probe spec the way the loader would: the kind's fields parsed strictly, common keys defaulted. */
export function dnsSpec<Spec extends Record<string, unknown>>(kind: ProbeKind<Spec>, raw: Record<string, unknown>, expect: string[] = []): Spec & CommonProbeSpec {
  const own = (kind.fields as z.ZodObject<z.ZodRawShape>).strict().parse(raw) as Spec;
  const problems = kind.check?.(own) ?? [];
  const errors = problems.filter((problem) => !(problem as { warning?: boolean }).warning);
  if (errors.length) throw new Error(`invalid spec: ${errors.map((p) => p.message).join('; ')}`);
  return { ...own, name: 'test', kind: kind.kind, timeout: 10_000, retries: 0, retryDelay: 0, tags: [], expect: expect.map((expr) => ({ expr, soft: false })) };
}

export function dnsDeps(clock: Clock = systemClock): ProberDeps {
  return { clock, logger: pino({ level: 'silent' }), http: createHttpClient(), recorded: new RecentItems() };
}

/** One run of a prober with a fresh deadline, feeding back the previous run's state as the runner does. */
export async function runOnce(prober: Prober, options: { previousState?: unknown; timeoutMs?: number; clock?: Clock } = {}): Promise<Measurement> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deps = dnsDeps(options.clock);
  const ctx: ProbeContext = {
    signal: AbortSignal.timeout(timeoutMs),
    deadline: Date.now() + timeoutMs,
    clock: deps.clock,
    logger: deps.logger,
    http: deps.http,
    previousState: options.previousState,
    runId: 'test',
  };
  return prober.probe(ctx);
}
