// One run of one probe: deadline, retries, assertions and the record that is stored.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.ts';
import type { HttpClient } from '../protocols/http/client.ts';
import { classifyNetworkError, ProbeFailure } from '../core/errors.ts';
import type { CommonProbeSpec, Measurement } from '../core/probe.ts';
import type { Prober } from '../probers/kind.ts';
import type { RunRecord, RunStatus } from '../store/types.ts';
import type { Redactor } from '../util/redact.ts';
import { describeFailure, evaluateAssertions, type AssertionOutcome } from '../core/assertions.ts';

export interface RunDeps {
  clock: Clock;
  logger: Logger;
  http: HttpClient;
  redactor: Redactor;
  /** Aborted when the daemon stops: in-flight runs still end at their own deadline. */
  shutdown?: AbortSignal;
}

/** 12 random hex digits. randomUUID draws from a cached entropy pool; its first 12 digits are all random (the version digit comes after). */
export function newRunId(): string {
  const uuid = randomUUID();
  return uuid.slice(0, 8) + uuid.slice(9, 13);
}

/** How long after its deadline a probe may take to fail with a timeout of its own, which says more than the deadline's. */
const ABORT_GRACE_MS = 100;

interface Attempt {
  measurement: Measurement;
  durationMs: number;
  startedAt: number;
}

/** One attempt with the probe's deadline as an AbortSignal; a thrown error becomes a measured error. */
async function attempt(
  spec: CommonProbeSpec,
  prober: Prober,
  deps: RunDeps,
  runId: string,
  previousState: unknown,
  logger: Logger,
): Promise<Attempt> {
  const startedAt = deps.clock.now();
  const start = deps.clock.monotonic();
  const controller = new AbortController();
  const deadline = startedAt + spec.timeout;
  const timer = setTimeout(
    () => controller.abort(new ProbeFailure('TIMEOUT', `no answer within the ${spec.timeout}ms timeout`)),
    spec.timeout,
  );
  let measurement: Measurement;
  try {
    const running = prober.probe({
      signal: controller.signal,
      deadline,
      clock: deps.clock,
      logger,
      http: deps.http,
      previousState,
      runId,
    });
    measurement = await new Promise<Measurement>((resolve, reject) => {
      // Nothing the probe returns after the deadline counts: the deadline holds even for a probe that ignores its signal.
      running.then(
        (value) => (controller.signal.aborted ? undefined : resolve(value)),
        (error: unknown) => (controller.signal.aborted ? undefined : reject(error)),
      );
      controller.signal.addEventListener(
        'abort',
        () => {
          // A probe that honours its signal fails at once with a timeout saying where it was (connecting, TLS, first byte, ...): wait briefly for that.
          const grace = setTimeout(() => reject(controller.signal.reason), ABORT_GRACE_MS);
          running.then(
            () => {
              clearTimeout(grace);
              reject(controller.signal.reason);
            },
            (error: unknown) => {
              clearTimeout(grace);
              reject(error instanceof ProbeFailure && error.code === 'TIMEOUT' ? error : controller.signal.reason);
            },
          );
        },
        { once: true },
      );
    });
  } catch (error) {
    const failure = classifyNetworkError(error, controller.signal);
    if (failure.code === 'INTERNAL') logger.error({ err: error }, 'probe threw an unexpected error');
    measurement = { observations: {}, error: failure.toProbeError() };
  } finally {
    clearTimeout(timer);
  }
  return { measurement, durationMs: deps.clock.monotonic() - start, startedAt };
}

function judge(
  spec: CommonProbeSpec,
  measurement: Measurement,
): { status: RunStatus; assertions: AssertionOutcome[]; message: string } {
  const assertions = measurement.error ? [] : evaluateAssertions(spec.expect, measurement.observations);
  const hardFailures = assertions.filter((a) => !a.ok && !a.soft);
  const softFailures = assertions.filter((a) => !a.ok && a.soft);
  const warnings = measurement.warnings ?? [];
  const parts: string[] = [];
  if (measurement.error) parts.push(`${measurement.error.code}: ${measurement.error.message}`);
  else if (measurement.message) parts.push(measurement.message);
  if (hardFailures.length > 0) parts.push(`failed: ${hardFailures.map(describeFailure).join('; ')}`);
  if (softFailures.length > 0) parts.push(`warning: ${softFailures.map(describeFailure).join('; ')}`);
  if (warnings.length > 0) parts.push(`warning: ${warnings.join('; ')}`);
  const status: RunStatus =
    measurement.error || hardFailures.length > 0
      ? 'fail'
      : softFailures.length > 0 || warnings.length > 0
        ? 'warn'
        : 'pass';
  return { status, assertions, message: parts.join(' — ') };
}

/**
 * Runs a probe once (plus its retries while it fails), judges it against its
 * assertions and returns the record to store. Never throws for a target's fault.
 */
export async function runProbe(
  spec: CommonProbeSpec,
  prober: Prober,
  deps: RunDeps,
  previousState?: unknown,
): Promise<RunRecord> {
  const uid = newRunId();
  const logger = deps.logger.child({ probe: spec.name, tenant_id: spec.tenant, run_id: uid });
  let attempts = 0;
  let result: Attempt;
  let verdict: ReturnType<typeof judge>;
  let firstStartedAt: number | undefined;
  for (;;) {
    attempts++;
    result = await attempt(spec, prober, deps, uid, previousState, logger);
    firstStartedAt ??= result.startedAt;
    verdict = judge(spec, result.measurement);
    if (verdict.status !== 'fail' || attempts > spec.retries || deps.shutdown?.aborted) break;
    logger.info({ attempt: attempts, message: verdict.message }, 'run failed; retrying');
    await new Promise((resolve) => setTimeout(resolve, spec.retryDelay));
  }
  const { measurement } = result;
  const record: RunRecord = {
    uid,
    probe: spec.name,
    kind: spec.kind,
    ...(spec.tenant ? { tenant: spec.tenant } : {}),
    startedAt: firstStartedAt,
    durationMs: Math.round(result.durationMs * 100) / 100,
    status: verdict.status,
    attempts,
    message: verdict.message,
    error: measurement.error ?? null,
    observations: measurement.observations,
    assertions: verdict.assertions,
    phases: measurement.phases ?? {},
    items: measurement.items ?? [],
    ...(measurement.state !== undefined ? { state: measurement.state } : {}),
  };
  const redacted = deps.redactor.value(record);
  const level = redacted.status === 'fail' ? 'warn' : 'debug';
  logger[level](
    {
      status: redacted.status,
      duration_ms: redacted.durationMs,
      error_code: redacted.error?.code,
      message_text: redacted.message,
    },
    'probe run finished',
  );
  return redacted;
}
