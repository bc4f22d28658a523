// Scripted browser steps (go, click, fill, expect text) and running them on a page.
import { z } from 'zod';
import type { Page } from 'playwright-core';
import type { Clock } from '../../util/clock.ts';
import type { Observations } from '../../core/probe.ts';
import { shortError, waitBudget } from './page.ts';

const selector = z.string().min(1);

/** One scripted step: exactly one action key. */
export const stepSchema = z.union([
  z.strictObject({ goto: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }) }),
  z.strictObject({ click: selector }),
  z.strictObject({ fill: z.strictObject({ selector, value: z.string() }) }),
  z.strictObject({ expectText: z.string().min(1) }),
  z.strictObject({ expectSelector: selector }),
  /** A regular expression the page URL must match. */
  z.strictObject({
    expectUrl: z
      .string()
      .min(1)
      .superRefine((text, ctx) => {
        try {
          new RegExp(text);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
        }
      }),
  }),
]);
export type Step = z.output<typeof stepSchema>;

export function stepAction(step: Step): string {
  return Object.keys(step)[0] ?? 'step';
}

function describeStep(step: Step): string {
  if ('goto' in step) return `goto ${step.goto}`;
  if ('click' in step) return `click ${step.click}`;
  if ('fill' in step) return `fill ${step.fill.selector}`;
  if ('expectText' in step) return `expectText "${step.expectText}"`;
  if ('expectSelector' in step) return `expectSelector ${step.expectSelector}`;
  return `expectUrl ${step.expectUrl}`;
}

/** Runs one step; throws an Error whose message says what the page did instead. */
async function runStep(page: Page, step: Step, timeout: number): Promise<void> {
  if ('goto' in step) {
    const response = await page.goto(step.goto, { timeout, waitUntil: 'load' });
    if (response && response.status() >= 400) throw new Error(`answered ${response.status()}`);
  } else if ('click' in step) await page.locator(step.click).first().click({ timeout });
  else if ('fill' in step) await page.locator(step.fill.selector).first().fill(step.fill.value, { timeout });
  else if ('expectSelector' in step)
    await page.locator(step.expectSelector).first().waitFor({ state: 'visible', timeout });
  else if ('expectText' in step) {
    await page
      .waitForFunction(
        (text) => (document.body as HTMLElement | null)?.innerText.includes(text) ?? false,
        step.expectText,
        { timeout },
      )
      .catch(() => {
        throw new Error(`text not on the page within ${timeout}ms (url ${page.url()})`);
      });
  } else {
    const pattern = new RegExp(step.expectUrl);
    await page.waitForURL(pattern, { timeout }).catch(() => {
      throw new Error(`url is ${page.url()}`);
    });
  }
}

export interface StepsOutcome {
  observations: Observations;
  failed: { index: number; reason: string } | undefined;
}

/** Runs the steps in order, stopping at the first failure; observations `step.<n>.*`, `steps.*`, `page.url`, `page.title`. */
export async function runSteps(
  page: Page,
  steps: Step[],
  options: { stepTimeoutMs: number; deadline: number; clock: Clock; signal: AbortSignal },
): Promise<StepsOutcome> {
  const observations: Observations = { 'steps.count': steps.length };
  let passed = 0;
  let failed: StepsOutcome['failed'];
  for (const [index, step] of steps.entries()) {
    const n = index + 1;
    const started = options.clock.monotonic();
    let error: string | undefined;
    try {
      await runStep(page, step, waitBudget(options.stepTimeoutMs, options.deadline, options.clock));
    } catch (caught) {
      error = options.signal.aborted ? 'run deadline reached' : shortError(caught);
    }
    observations[`step.${n}.action`] = stepAction(step);
    observations[`step.${n}.ok`] = error === undefined;
    observations[`step.${n}.ms`] = Math.round(options.clock.monotonic() - started);
    if (error !== undefined) {
      observations[`step.${n}.error`] = error;
      failed = { index: n, reason: `step ${n} (${describeStep(step)}) failed: ${error}` };
      break;
    }
    passed += 1;
  }
  observations['steps.passed'] = passed;
  observations['steps.failed'] = failed ? 1 : 0;
  observations['page.url'] = page.isClosed() ? null : page.url();
  observations['page.title'] = page.isClosed() ? null : await page.title().catch(() => null);
  return { observations, failed };
}
