import { z } from 'zod';
import type { BrowserContext, Page } from 'playwright-core';
import type { SharedBrowser } from '../util/chromium.ts';
import { duration } from '../config/schema.ts';
import { ProbeFailure } from '../net/errors.ts';
import type { CommonProbeSpec, Measurement, Observations, ProbeContext, ProbeKind, Prober, ProberDeps } from './types.ts';
import { imapAccount, imapFields } from './mail.ts';
import { stepSchema, runSteps } from './browser-steps.ts';
import { keepScreenshot, linkObservations, restrictRequests, shortError, visit, waitBudget } from './browser-page.ts';
import { fetchProbeMail, readStatsSum, utcDate, pause, type StatsSum } from './browser-mail.ts';

const regex = z.string().superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
  }
});

const fields = z.object({
  /** Mail mode: open the newest message of a `mail` probe from a seed mailbox. */
  mail: z
    .strictObject({
      /** The mail probe whose message to open (its name is in the subject). */
      probe: z.string().min(1),
      /** The mail probe's subjectPrefix. */
      subjectPrefix: z.string().min(1).default('[scaiprobe]'),
      imap: imapFields,
      folder: z.string().min(1).default('INBOX'),
      /** Wait this long for a message to exist (the mail probe may not have run yet). */
      waitForMessage: duration().default(0),
    })
    .optional(),
  /** Regular expression every link's final URL must match (mail mode). */
  expectLanding: regex.optional(),
  /** Per link, in order of appearance: the final URL's regular expression (overrides expectLanding). */
  landing: z.array(regex).optional(),
  /** At most this many links are followed. */
  maxLinks: z.number().int().min(1).max(50).default(10),
  /** Where ScaiSend counts opens and clicks (mail mode): before/after of /v3/stats/sum. */
  stats: z
    .strictObject({
      api: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
      apiKey: z.string().min(1),
      /** How long the counters may take to show the open and clicks. */
      wait: duration().default(5000),
    })
    .optional(),
  /** Scripted mode: steps run in order in one page. */
  steps: z.array(stepSchema).min(1).max(100).optional(),
  stepTimeout: duration().default(10_000),
  /** Hosts pages may reach besides loopback (and, in scripted mode, the hosts of `goto` steps). */
  allowHosts: z.array(z.string().min(1)).default([]),
  /** Failed runs keep a PNG at <dir>/<probe>/<run>.png; the newest `keep` per probe are kept. */
  screenshots: z.strictObject({ dir: z.string().min(1).default('data/screenshots'), keep: z.number().int().min(1).max(1000).default(20) }).default({ dir: 'data/screenshots', keep: 20 }),
  /** Chromium closes after this long without a run. */
  idle: duration().default(5 * 60_000),
});

export type BrowserSpec = z.output<typeof fields>;
type Spec = BrowserSpec & CommonProbeSpec;

interface PageRun {
  observations: Observations;
  /** Why the run failed, when it did (the screenshot is taken then). */
  failure?: string;
  /** The page to capture when the run failed (default: the run's first page). */
  shotPage?: Page;
  message: string;
  warnings: string[];
}

class BrowserProber implements Prober {
  private browser: SharedBrowser | undefined;

  constructor(
    private readonly spec: Spec,
    private readonly deps: ProberDeps,
  ) {}

  /** The shared Chromium of this probe; playwright-core loads only here, so a daemon without browser probes never loads it. */
  private async shared(): Promise<SharedBrowser> {
    if (!this.browser) {
      const { SharedBrowser } = await import('../util/chromium.ts');
      this.browser ??= new SharedBrowser({ idleMs: this.spec.idle, logger: this.deps.logger });
    }
    return this.browser;
  }

  async probe(ctx: ProbeContext): Promise<Measurement> {
    const started = ctx.clock.monotonic();
    const mail = this.spec.mail ? await this.openMail(ctx) : undefined;
    const before = this.spec.stats && mail ? await this.stats(ctx) : undefined;
    const phases: Record<string, number> = { fetch: Math.round(ctx.clock.monotonic() - started) };

    const browserStarted = ctx.clock.monotonic();
    const context = await this.newContext(ctx);
    phases.browser = Math.round(ctx.clock.monotonic() - browserStarted);
    const closeOnAbort = () => void context.close().catch(() => undefined);
    ctx.signal.addEventListener('abort', closeOnAbort, { once: true });
    try {
      const blocked: string[] = [];
      const guard = await restrictRequests(context, this.allowHosts(), blocked);
      const page = await context.newPage();
      await guard(page);
      const pageStarted = ctx.clock.monotonic();
      const run = mail ? await this.mailMode(page, mail, ctx, guard) : await this.scripted(page, ctx);
      phases.page = Math.round(ctx.clock.monotonic() - pageStarted);
      if (mail && before && this.spec.stats) await this.checkStats(before, run, ctx);
      run.observations['requests.blocked'] = blocked.length;
      // One name for both modes, so the kind's implicit assertion holds whichever mode runs.
      run.observations.failed = Number(run.observations['links.failed'] ?? run.observations['steps.failed'] ?? 0);
      if (blocked.length > 0) run.warnings.push(`blocked requests to hosts not in allowHosts: ${blocked.slice(0, 3).join(', ')}`);
      if (run.failure) {
        const path = await keepScreenshot(run.shotPage ?? page, { dir: this.spec.screenshots.dir, probe: this.spec.name, runId: ctx.runId, keep: this.spec.screenshots.keep });
        run.observations.screenshot = path ?? null;
        if (path) run.message += ` (screenshot: ${path})`;
      }
      if (ctx.signal.aborted) throw new ProbeFailure('TIMEOUT', `run deadline reached in the browser: ${run.failure ?? run.message}`);
      return { observations: run.observations, phases, message: run.message, warnings: run.warnings };
    } finally {
      ctx.signal.removeEventListener('abort', closeOnAbort);
      await context.close().catch(() => undefined);
    }
  }

  private allowHosts(): string[] {
    const fromSteps = (this.spec.steps ?? []).flatMap((step) => ('goto' in step ? [new URL(step.goto).hostname] : []));
    return [...this.spec.allowHosts, ...fromSteps];
  }

  private async newContext(ctx: ProbeContext): Promise<BrowserContext> {
    const shared = await this.shared();
    let timer: NodeJS.Timeout | undefined;
    const opening = shared.context({ viewport: { width: 1024, height: 768 }, javaScriptEnabled: true });
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(new ProbeFailure('TIMEOUT', 'run deadline reached while starting Chromium'));
      if (ctx.signal.aborted) return fail();
      ctx.signal.addEventListener('abort', fail, { once: true });
      timer = setTimeout(() => ctx.signal.removeEventListener('abort', fail), Math.max(0, ctx.deadline - ctx.clock.now()) + 1000);
    });
    try {
      return await Promise.race([opening, aborted]);
    } catch (error) {
      // A context that opens after the deadline must still be closed.
      void opening.then((late) => late.close()).catch(() => undefined);
      if (error instanceof ProbeFailure) throw error;
      throw new ProbeFailure('INTERNAL', `Chromium could not start: ${shortError(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private async openMail(ctx: ProbeContext): Promise<{ html: string; subject: string; ageMs: number | null }> {
    const mail = this.spec.mail!;
    const account = imapAccount(mail.imap);
    const { user } = account;
    const marker = `${mail.subjectPrefix} ${mail.probe} `;
    const found = await fetchProbeMail(account, mail.folder, marker, mail.waitForMessage, ctx);
    if (!found) {
      throw new ProbeFailure('PROTOCOL', `no message of mail probe "${mail.probe}" (subject "${marker.trim()} …") in ${user}'s ${mail.folder}; the mail probe needs keepLatest: true`);
    }
    if (!found.html) throw new ProbeFailure('PROTOCOL', `the newest message of mail probe "${mail.probe}" ("${found.subject}") has no HTML part; set send.html on the mail probe`);
    return { html: found.html, subject: found.subject, ageMs: found.receivedAt === null ? null : Math.max(0, ctx.clock.now() - found.receivedAt) };
  }

  private async stats(ctx: ProbeContext): Promise<{ sum: StatsSum; start: string }> {
    const start = utcDate(ctx.clock.now());
    return { sum: await readStatsSum(this.spec.stats!, start, ctx), start };
  }

  /** Opens the HTML as a mail client would (pixel included), then follows each link in a second page. */
  private async mailMode(page: Page, mail: { html: string; subject: string; ageMs: number | null }, ctx: ProbeContext, guard: (page: Page) => Promise<void>): Promise<PageRun> {
    const observations: Observations = { 'message.subject': mail.subject, 'message.ageMs': mail.ageMs };
    const warnings: string[] = [];
    const images = new Map<string, number>();
    page.on('response', (response) => {
      if (response.request().resourceType() === 'image') images.set(response.url(), response.status());
    });
    const budget = () => waitBudget(this.spec.stepTimeout, ctx.deadline, ctx.clock);
    const opened = ctx.clock.monotonic();
    try {
      await page.setContent(mail.html, { waitUntil: 'load', timeout: budget() });
    } catch (error) {
      return { observations, warnings, failure: `opening the message HTML failed: ${shortError(error)}`, message: `opening the message HTML failed: ${shortError(error)}` };
    }
    observations['open.ms'] = Math.round(ctx.clock.monotonic() - opened);
    const found = await page.evaluate(() => ({
      links: Array.from(document.querySelectorAll('a[href]')).map((a) => (a as HTMLAnchorElement).href).filter((href) => /^https?:/i.test(href)),
      pixels: Array.from(document.images).filter((img) => (img.width <= 1 && img.height <= 1) || (img.naturalWidth <= 1 && img.naturalHeight <= 1)).map((img) => img.src),
    }));
    const pixel = found.pixels[0];
    observations['pixel.found'] = pixel !== undefined;
    observations['pixel.status'] = pixel !== undefined ? (images.get(pixel) ?? null) : null;
    observations['pixel.loaded'] = pixel !== undefined && (images.get(pixel) ?? 0) >= 200 && (images.get(pixel) ?? 0) < 300;

    const hrefs = found.links.slice(0, this.spec.maxLinks);
    observations['links.count'] = hrefs.length;
    if (found.links.length > hrefs.length) warnings.push(`${found.links.length} links; only the first ${hrefs.length} followed (maxLinks)`);
    const problems: string[] = [];
    let ok = 0;
    let tracked = 0;
    const linkPage = await page.context().newPage();
    await guard(linkPage);
    for (const [index, href] of hrefs.entries()) {
      const n = index + 1;
      const seen = await visit(linkPage, href, budget(), ctx.clock);
      const pattern = this.spec.landing?.[index] ?? this.spec.expectLanding;
      const landed = pattern === undefined || new RegExp(pattern).test(seen.finalUrl);
      const good = !seen.error && seen.status !== null && seen.status < 400 && landed;
      if (seen.hops > 0) tracked += 1;
      if (good) ok += 1;
      else problems.push(`link ${n} ${href}: ${linkProblem(seen, landed, pattern)}`);
      Object.assign(observations, linkObservations(n, href, seen, good));
      if (ctx.signal.aborted) break;
    }
    observations['links.ok'] = ok;
    observations['links.failed'] = hrefs.length - ok;
    observations['links.tracked'] = tracked;
    const summary = `${ok}/${hrefs.length} links reached their landing page (${tracked} through a redirect), open pixel ${pixel === undefined ? 'absent' : observations['pixel.loaded'] ? 'loaded' : `failed (${observations['pixel.status'] ?? 'no answer'})`}`;
    if (problems.length > 0) {
      return { observations, warnings, failure: problems.join('; '), message: `${problems.join('; ')} — ${summary}`, shotPage: linkPage };
    }
    await linkPage.close().catch(() => undefined);
    return { observations, warnings, message: summary };
  }

  /** Polls /v3/stats/sum until the open and every followed tracked link are counted, or `stats.wait` passes. */
  private async checkStats(before: { sum: StatsSum; start: string }, run: PageRun, ctx: ProbeContext): Promise<void> {
    const wantClicks = Number(run.observations['links.tracked'] ?? 0) > 0 ? Number(run.observations['links.ok'] ?? 0) : 0;
    const wantOpen = run.observations['pixel.loaded'] === true;
    const until = Math.min(ctx.clock.now() + this.spec.stats!.wait, ctx.deadline - 750);
    let after: StatsSum;
    for (;;) {
      after = await readStatsSum(this.spec.stats!, before.start, ctx);
      const done = (!wantOpen || after.opens > before.sum.opens) && after.clicks - before.sum.clicks >= wantClicks;
      if (done || ctx.clock.now() >= until) break;
      await pause(Math.min(500, until - ctx.clock.now()), ctx.signal);
    }
    const opens = after.opens - before.sum.opens;
    const clicks = after.clicks - before.sum.clicks;
    Object.assign(run.observations, {
      'stats.opens': opens,
      'stats.clicks': clicks,
      'stats.opensCounted': opens > 0,
      'stats.clicksCounted': clicks > 0 && clicks >= wantClicks,
    });
    run.message += `; stats counted ${opens} open${opens === 1 ? '' : 's'}, ${clicks} click${clicks === 1 ? '' : 's'}`;
  }

  private async scripted(page: Page, ctx: ProbeContext): Promise<PageRun> {
    const outcome = await runSteps(page, this.spec.steps ?? [], { stepTimeoutMs: this.spec.stepTimeout, deadline: ctx.deadline, clock: ctx.clock, signal: ctx.signal });
    const count = this.spec.steps?.length ?? 0;
    if (outcome.failed) return { observations: outcome.observations, warnings: [], failure: outcome.failed.reason, message: outcome.failed.reason };
    return { observations: outcome.observations, warnings: [], message: `${count} step${count === 1 ? '' : 's'} passed, ending at ${outcome.observations['page.url'] ?? '?'}` };
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

function linkProblem(seen: { error?: string; status: number | null; finalUrl: string; hops: number }, landed: boolean, pattern: string | undefined): string {
  if (seen.error) return `${seen.error} after ${seen.hops} redirect${seen.hops === 1 ? '' : 's'} (last ${seen.finalUrl})`;
  if (seen.status !== null && seen.status >= 400) return seen.hops === 0 ? `answered ${seen.status}` : `${seen.finalUrl} answered ${seen.status} after ${seen.hops} redirect${seen.hops === 1 ? '' : 's'}`;
  if (!landed) return `ended at ${seen.finalUrl}, which does not match ${pattern}`;
  return 'no answer';
}

export const browserKind: ProbeKind<BrowserSpec> = {
  kind: 'browser',
  fields,
  implicitExpect: ['failed == 0'],
  check(spec) {
    const problems: Array<{ path: (string | number)[]; message: string; warning?: boolean }> = [];
    if (!spec.mail && !spec.steps) problems.push({ path: ['mail'], message: 'set mail (open a mail probe\'s message) or steps (a scripted page check)' });
    if (spec.mail && spec.steps) problems.push({ path: ['steps'], message: 'a browser probe has either mail or steps, not both' });
    if (spec.mail && !spec.mail.imap.pass && !spec.mail.imap.accessToken) problems.push({ path: ['mail', 'imap'], message: 'needs pass or accessToken' });
    if (!spec.mail) {
      for (const key of ['stats', 'landing', 'expectLanding'] as const) if (spec[key] !== undefined) problems.push({ path: [key], message: 'applies to mail mode only' });
    }
    if (spec.steps && !('goto' in (spec.steps[0] ?? {}))) problems.push({ path: ['steps', 0], message: 'the first step must be goto' });
    return problems;
  },
  create(spec, deps) {
    return new BrowserProber(spec, deps);
  },
};
