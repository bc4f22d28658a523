// The browser kind: scripted steps in Chromium, or a probe message's links and pixel followed.
import { z } from 'zod';
import type { BrowserContext, Page } from 'playwright-core';
import { pause } from '../util/clock.ts';
import type { SharedBrowser } from '../util/chromium.ts';
import { duration } from '../core/schema.ts';
import { ProbeFailure } from '../core/errors.ts';
import { LOCATION_HEADER, type CommonProbeSpec, type Measurement, type Observations } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { imapAccount, imapFields } from '../protocols/imap/account.ts';
import { sentTokens, subjectMarker } from '../protocols/smtp/probe-token.ts';
import { stepSchema, runSteps } from '../protocols/browser/steps.ts';
import {
  allowList,
  HOST_ENTRY,
  hostsOf,
  keepScreenshot,
  linkObservations,
  restrictRequests,
  shortError,
  visit,
  waitBudget,
} from '../protocols/browser/page.ts';
import {
  fetchProbeMail,
  readStatsSum,
  utcDate,
  type MailLookup,
  type PassedOver,
  type ProbeMail,
  type StatsSum,
} from '../protocols/browser/mail.ts';

const regex = z.string().superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
  }
});

const hostEntry = z
  .string()
  .regex(HOST_ENTRY, 'must be a host name or address, optionally with :port (no scheme, no path)');

const fields = z.object({
  /** Mail mode: open the newest message a `mail` probe sent, from one of its seed mailboxes. */
  mail: z
    .strictObject({
      /** The mail probe whose message to open: only a message carrying a token it sent (its recorded runs say which) is opened. */
      probe: z.string().min(1),
      /** The mail probe's subjectPrefix. */
      subjectPrefix: z.string().min(1).default('[scaiprobe]'),
      imap: imapFields,
      folder: z.string().min(1).default('INBOX'),
      /** Wait this long for a message to exist (the first run already waits for the mail probe's first run to end). */
      waitForMessage: duration().default(0),
      /** Where ScaiSend's open pixel and click redirects live (host or host:port), when not a host the message links to. */
      trackingHost: hostEntry.optional(),
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
  /** Hosts (host: any port, host:port: that port) pages may reach besides the message's link hosts and trackingHost, or the `goto` steps' hosts. */
  allowHosts: z.array(hostEntry).default([]),
  /** Failed runs keep a PNG at <dir>/<probe>/<run>.png; the newest `keep` per probe are kept. */
  screenshots: z
    .strictObject({
      dir: z.string().min(1).default('data/screenshots'),
      keep: z.number().int().min(1).max(1000).default(20),
    })
    .default({ dir: 'data/screenshots', keep: 20 }),
  /** Chromium closes after this long without a run. */
  idle: duration().default(5 * 60_000),
});

export type BrowserSpec = z.output<typeof fields>;
type Spec = BrowserSpec & CommonProbeSpec;

interface PageRun {
  observations: Observations;
  /** Why the run failed, when it did (the screenshot is taken then). */
  failure?: string;
  /** The page to capture when the run failed. */
  shotPage?: Page;
  message: string;
  warnings: string[];
}

/** The probe message to render: one the mail probe sent, found by its token. */
interface OpenedMail {
  html: string;
  subject: string;
  token: string;
  ageMs: number | null;
  /** The messages with the marker passed over, as a sentence (a warning of the run). */
  passedOver: { count: number; notice: string | undefined };
}

/** The contexts a run opened: all closed at its end, or at once when its deadline passes. */
class RunContexts {
  private readonly open: BrowserContext[] = [];
  /** Whether each context runs scripts. */
  private readonly scripts = new WeakMap<BrowserContext, boolean>();
  /** Requests aborted in any of the run's contexts. */
  readonly blocked: string[] = [];
  /** Milliseconds spent starting Chromium and opening contexts. */
  startMs = 0;

  constructor(
    private readonly shared: SharedBrowser,
    private readonly ctx: ProbeContext,
    /** The fleet location this agent probes from: every request of the run's pages says it, as the http kind's do. */
    private readonly location: string | undefined,
  ) {}

  /** A context whose pages reach only what `mayFetch` allows; `guard` must be applied to each page navigated. */
  async restricted(
    javaScriptEnabled: boolean,
    mayFetch: (href: string) => boolean,
  ): Promise<{ context: BrowserContext; guard: (page: Page) => Promise<void> }> {
    const context = await this.start(javaScriptEnabled);
    const guard = await restrictRequests(context, mayFetch, this.blocked, { scripts: javaScriptEnabled });
    return { context, guard };
  }

  /** Restricts a context opened by start() (and its `page`) once what it may reach is known. */
  async restrict(context: BrowserContext, mayFetch: (href: string) => boolean, page: Page): Promise<void> {
    const guard = await restrictRequests(context, mayFetch, this.blocked, {
      scripts: this.scripts.get(context) ?? true,
    });
    await guard(page);
  }

  /** A context with no restriction yet: restrict() it before it loads anything. */
  async start(javaScriptEnabled: boolean): Promise<BrowserContext> {
    const started = this.ctx.clock.monotonic();
    // No service workers: their own fetches would not pass a page's guard.
    const context = await openContext(this.shared, this.ctx, {
      viewport: { width: 1024, height: 768 },
      javaScriptEnabled,
      serviceWorkers: 'block',
      ...(this.location !== undefined ? { extraHTTPHeaders: { [LOCATION_HEADER]: this.location } } : {}),
    });
    this.startMs += this.ctx.clock.monotonic() - started;
    this.open.push(context);
    this.scripts.set(context, javaScriptEnabled);
    if (this.ctx.signal.aborted) await this.close();
    return context;
  }

  /** Whether Chromium went away under one of the run's contexts (it crashed or was killed). */
  browserLost(): boolean {
    return this.open.some((context) => context.browser()?.isConnected() === false);
  }

  async close(): Promise<void> {
    await Promise.all(this.open.splice(0).map((context) => context.close().catch(() => undefined)));
  }
}

/** A fresh context of the shared browser, or a TIMEOUT when the run's deadline passes first. */
async function openContext(
  shared: SharedBrowser,
  ctx: ProbeContext,
  options: Parameters<SharedBrowser['context']>[0],
): Promise<BrowserContext> {
  let timer: NodeJS.Timeout | undefined;
  const opening = shared.context(options);
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new ProbeFailure('TIMEOUT', 'run deadline reached while starting Chromium'));
    if (ctx.signal.aborted) return fail();
    ctx.signal.addEventListener('abort', fail, { once: true });
    timer = setTimeout(
      () => ctx.signal.removeEventListener('abort', fail),
      Math.max(0, ctx.deadline - ctx.clock.now()) + 1000,
    );
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

/** A subject as a log line may show it: one line, short. */
function quoted(subject: string): string {
  const line = subject.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 79)}…` : line);
}

/** One sentence on the messages with the marker that were not opened. */
function describePassedOver(passedOver: PassedOver[], probe: string): string {
  const first = passedOver[0];
  if (!first) return '';
  const count = passedOver.length === 1 ? 'a message' : `${passedOver.length} messages`;
  return `passed over ${count} with mail probe "${probe}"'s subject marker that it did not send, unopened (newest: ${quoted(first.subject)}, ${first.reason})`;
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
    let mail: OpenedMail | undefined;
    if (this.spec.mail) {
      const lookup = await this.findMail(this.spec.mail, ctx);
      if (!lookup.mail) return this.noMessage(this.spec.mail, lookup);
      mail = this.opened(this.spec.mail, lookup.mail, lookup.passedOver, ctx);
    }
    const before = this.spec.stats && mail ? await this.stats(ctx) : undefined;
    const phases: Record<string, number> = { fetch: Math.round(ctx.clock.monotonic() - started) };

    const shared = await this.shared();
    const contexts = new RunContexts(shared, ctx, this.deps.location);
    const closeOnAbort = () => void contexts.close();
    ctx.signal.addEventListener('abort', closeOnAbort, { once: true });
    try {
      const pageStarted = ctx.clock.monotonic();
      const run = mail ? await this.mailMode(contexts, mail, ctx) : await this.scripted(contexts, ctx);
      phases.browser = Math.round(contexts.startMs);
      phases.page = Math.round(ctx.clock.monotonic() - pageStarted - contexts.startMs);
      // Chromium dying under a page is scaiprobe's trouble, not the page's: no step or link verdict of this run stands.
      if (!ctx.signal.aborted && contexts.browserLost())
        throw new ProbeFailure('INTERNAL', `Chromium exited during the run: ${run.failure ?? run.message}`);
      if (mail && before && this.spec.stats) await this.checkStats(before, run, ctx);
      const blocked = contexts.blocked;
      run.observations['requests.blocked'] = blocked.length;
      run.observations['browser.sandbox'] = shared.sandboxed;
      // One name for both modes, so the kind's implicit assertion holds whichever mode runs.
      run.observations.failed = Number(run.observations['links.failed'] ?? run.observations['steps.failed'] ?? 0);
      if (blocked.length > 0)
        run.warnings.push(`blocked requests to hosts the probe does not allow: ${blocked.slice(0, 3).join(', ')}`);
      if (run.failure && run.shotPage) {
        const path = await keepScreenshot(run.shotPage, {
          dir: this.spec.screenshots.dir,
          probe: this.spec.name,
          runId: ctx.runId,
          keep: this.spec.screenshots.keep,
        });
        run.observations.screenshot = path ?? null;
        if (path) run.message += ` (screenshot: ${path})`;
      }
      if (ctx.signal.aborted)
        throw new ProbeFailure('TIMEOUT', `run deadline reached in the browser: ${run.failure ?? run.message}`);
      return { observations: run.observations, phases, message: run.message, warnings: run.warnings };
    } finally {
      ctx.signal.removeEventListener('abort', closeOnAbort);
      await contexts.close();
    }
  }

  /** Hosts a scripted run may reach: allowHosts and each `goto` step's host and port. */
  private scriptedHosts(): string[] {
    const gotos = (this.spec.steps ?? []).flatMap((step) => ('goto' in step ? [step.goto] : []));
    return [...this.spec.allowHosts, ...hostsOf(gotos)];
  }

  private async findMail(mail: NonNullable<Spec['mail']>, ctx: ProbeContext): Promise<MailLookup> {
    const account = imapAccount(mail.imap);
    const marker = subjectMarker(mail.subjectPrefix, mail.probe, this.deps.location);
    return fetchProbeMail(
      account,
      mail.folder,
      marker,
      () => sentTokens(this.deps.recorded, mail.probe),
      mail.waitForMessage,
      ctx,
    );
  }

  /** No message of the mail probe to open: a PROTOCOL error that says what the folder held instead. */
  private noMessage(mail: NonNullable<Spec['mail']>, lookup: MailLookup): Measurement {
    const marker = subjectMarker(mail.subjectPrefix, mail.probe, this.deps.location).trim();
    const known = sentTokens(this.deps.recorded, mail.probe).length;
    const why =
      known === 0
        ? `no message of mail probe "${mail.probe}" to open: it has not recorded a sent message yet (only a message whose token it sent is opened: it must run first, with keepLatest: true)`
        : `no message of mail probe "${mail.probe}" with a token it sent (subject "${marker} <token>") in ${mail.imap.user}'s ${mail.folder}; the mail probe needs keepLatest: true`;
    const passed = describePassedOver(lookup.passedOver, mail.probe);
    return {
      observations: { 'messages.rejected': lookup.passedOver.length },
      error: { code: 'PROTOCOL', message: passed ? `${why}; ${passed}` : why },
    };
  }

  private opened(
    mail: NonNullable<Spec['mail']>,
    found: ProbeMail,
    passedOver: PassedOver[],
    ctx: ProbeContext,
  ): OpenedMail {
    if (!found.html)
      throw new ProbeFailure(
        'PROTOCOL',
        `the newest message of mail probe "${mail.probe}" (${quoted(found.subject)}) has no HTML part; set send.html on the mail probe`,
      );
    const ageMs = found.receivedAt === null ? null : Math.max(0, ctx.clock.now() - found.receivedAt);
    const notice = passedOver.length > 0 ? describePassedOver(passedOver, mail.probe) : undefined;
    return {
      html: found.html,
      subject: found.subject,
      token: found.token,
      ageMs,
      passedOver: { count: passedOver.length, notice },
    };
  }

  private async stats(ctx: ProbeContext): Promise<{ sum: StatsSum; start: string }> {
    const start = utcDate(ctx.clock.now());
    return { sum: await readStatsSum(this.spec.stats!, start, ctx), start };
  }

  /**
   * Hosts the message's pages may reach: those its own links point to (it is
   * the mail probe's message: they are the links it sent, rewritten by
   * tracking), the tracking host, and allowHosts.
   */
  private mailHosts(links: string[]): string[] {
    const tracking = this.spec.mail?.trackingHost;
    return [...new Set([...hostsOf(links), ...(tracking ? [tracking] : []), ...this.spec.allowHosts])];
  }

  /**
   * Opens the HTML as a mail client would: the open pixel loads, scripts do
   * not run. Then follows each link as a browser would, in a second context.
   * Both reach only the message's own hosts.
   */
  private async mailMode(contexts: RunContexts, mail: OpenedMail, ctx: ProbeContext): Promise<PageRun> {
    const observations: Observations = {
      'message.subject': mail.subject,
      'message.token': mail.token,
      'message.ageMs': mail.ageMs,
      'messages.rejected': mail.passedOver.count,
    };
    const warnings = mail.passedOver.notice ? [mail.passedOver.notice] : [];
    const reader = await contexts.start(false);
    const page = await reader.newPage();
    // Chromium's own parser, in a detached document: nothing loads or runs, so the list is known before anything is fetched.
    const links = await page.evaluate((html) => {
      const parsed = new DOMParser().parseFromString(html, 'text/html');
      return Array.from(parsed.querySelectorAll('a[href]')).map((a) => (a as HTMLAnchorElement).href);
    }, mail.html);
    const hosts = this.mailHosts(links);
    observations['requests.allowed'] = hosts;
    const mayFetch = allowList(hosts);
    await contexts.restrict(reader, mayFetch, page);

    const rendered = await this.renderMessage(page, mail.html, ctx, observations);
    if ('failure' in rendered)
      return { observations, warnings, failure: rendered.failure, message: rendered.failure, shotPage: page };
    const { context: browsing, guard } = await contexts.restricted(true, mayFetch);
    const linkPage = await browsing.newPage();
    await guard(linkPage);
    const hrefs = rendered.links.slice(0, this.spec.maxLinks);
    if (rendered.links.length > hrefs.length)
      warnings.push(`${rendered.links.length} links; only the first ${hrefs.length} followed (maxLinks)`);
    const problems = await this.followLinks(linkPage, hrefs, ctx, observations);
    const pixel =
      observations['pixel.found'] !== true
        ? 'absent'
        : observations['pixel.loaded']
          ? 'loaded'
          : `failed (${String(observations['pixel.status'] ?? 'no answer')})`;
    const summary = `${String(observations['links.ok'])}/${hrefs.length} links reached their landing page (${String(observations['links.tracked'])} through a redirect), open pixel ${pixel}`;
    if (problems.length > 0)
      return {
        observations,
        warnings,
        failure: problems.join('; '),
        message: `${problems.join('; ')} — ${summary}`,
        shotPage: linkPage,
      };
    return { observations, warnings, message: summary };
  }

  /** Renders the message in `page`; observations `open.ms` and `pixel.*`; the http(s) links it shows. */
  private async renderMessage(
    page: Page,
    html: string,
    ctx: ProbeContext,
    observations: Observations,
  ): Promise<{ links: string[] } | { failure: string }> {
    const images = new Map<string, number>();
    page.on('response', (response) => {
      if (response.request().resourceType() === 'image') images.set(response.url(), response.status());
    });
    const opened = ctx.clock.monotonic();
    try {
      await page.setContent(html, {
        waitUntil: 'load',
        timeout: waitBudget(this.spec.stepTimeout, ctx.deadline, ctx.clock),
      });
    } catch (error) {
      return { failure: `opening the message HTML failed: ${shortError(error)}` };
    }
    observations['open.ms'] = Math.round(ctx.clock.monotonic() - opened);
    // Evaluated by Playwright in the page, which its own scripts cannot do: JavaScript is off for the message.
    const found = await page.evaluate(() => ({
      links: Array.from(document.querySelectorAll('a[href]'))
        .map((a) => (a as HTMLAnchorElement).href)
        .filter((href) => /^https?:/i.test(href)),
      pixels: Array.from(document.images)
        .filter((img) => (img.width <= 1 && img.height <= 1) || (img.naturalWidth <= 1 && img.naturalHeight <= 1))
        .map((img) => img.src),
    }));
    const pixel = found.pixels[0];
    const status = pixel !== undefined ? (images.get(pixel) ?? null) : null;
    observations['pixel.found'] = pixel !== undefined;
    observations['pixel.status'] = status;
    observations['pixel.loaded'] = status !== null && status >= 200 && status < 300;
    return { links: found.links };
  }

  /** Follows each link in `page`; observations `link.<n>.*` and `links.*`; the problems, one per failed link. */
  private async followLinks(
    page: Page,
    hrefs: string[],
    ctx: ProbeContext,
    observations: Observations,
  ): Promise<string[]> {
    const problems: string[] = [];
    let ok = 0;
    let tracked = 0;
    for (const [index, href] of hrefs.entries()) {
      const n = index + 1;
      const seen = await visit(page, href, waitBudget(this.spec.stepTimeout, ctx.deadline, ctx.clock), ctx.clock);
      const pattern = this.spec.landing?.[index] ?? this.spec.expectLanding;
      const landed = pattern === undefined || new RegExp(pattern).test(seen.finalUrl);
      const good = !seen.error && seen.status !== null && seen.status < 400 && landed;
      if (seen.hops > 0) tracked += 1;
      if (good) ok += 1;
      else problems.push(`link ${n} ${href}: ${linkProblem(seen, landed, pattern)}`);
      Object.assign(observations, linkObservations(n, href, seen, good));
      if (ctx.signal.aborted) break;
    }
    observations['links.count'] = hrefs.length;
    observations['links.ok'] = ok;
    observations['links.failed'] = hrefs.length - ok;
    observations['links.tracked'] = tracked;
    return problems;
  }

  /** Polls /v3/stats/sum until the open and every followed tracked link are counted, or `stats.wait` passes. */
  private async checkStats(before: { sum: StatsSum; start: string }, run: PageRun, ctx: ProbeContext): Promise<void> {
    const wantClicks =
      Number(run.observations['links.tracked'] ?? 0) > 0 ? Number(run.observations['links.ok'] ?? 0) : 0;
    const wantOpen = run.observations['pixel.loaded'] === true;
    const until = Math.min(ctx.clock.now() + this.spec.stats!.wait, ctx.deadline - 750);
    let after: StatsSum;
    for (;;) {
      after = await readStatsSum(this.spec.stats!, before.start, ctx);
      const done = (!wantOpen || after.opens > before.sum.opens) && after.clicks - before.sum.clicks >= wantClicks;
      if (done || ctx.clock.now() >= until) break;
      await pause(ctx.clock, Math.min(500, until - ctx.clock.now()), ctx.signal);
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

  private async scripted(contexts: RunContexts, ctx: ProbeContext): Promise<PageRun> {
    const { context, guard } = await contexts.restricted(true, allowList(this.scriptedHosts()));
    const page = await context.newPage();
    await guard(page);
    const outcome = await runSteps(page, this.spec.steps ?? [], {
      stepTimeoutMs: this.spec.stepTimeout,
      deadline: ctx.deadline,
      clock: ctx.clock,
      signal: ctx.signal,
    });
    const count = this.spec.steps?.length ?? 0;
    if (outcome.failed)
      return {
        observations: outcome.observations,
        warnings: [],
        failure: outcome.failed.reason,
        message: outcome.failed.reason,
        shotPage: page,
      };
    return {
      observations: outcome.observations,
      warnings: [],
      message: `${count} step${count === 1 ? '' : 's'} passed, ending at ${String(outcome.observations['page.url'] ?? '?')}`,
    };
  }

  async close(): Promise<void> {
    await this.browser?.close();
  }
}

function linkProblem(
  seen: { error?: string; status: number | null; finalUrl: string; hops: number },
  landed: boolean,
  pattern: string | undefined,
): string {
  if (seen.error)
    return `${seen.error} after ${seen.hops} redirect${seen.hops === 1 ? '' : 's'} (last ${seen.finalUrl})`;
  if (seen.status !== null && seen.status >= 400)
    return seen.hops === 0
      ? `answered ${seen.status}`
      : `${seen.finalUrl} answered ${seen.status} after ${seen.hops} redirect${seen.hops === 1 ? '' : 's'}`;
  if (!landed) return `ended at ${seen.finalUrl}, which does not match ${pattern}`;
  return 'no answer';
}

function createBrowserProber(spec: BrowserSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  return new BrowserProber(spec, deps);
}

export const browserKind: ProbeKind<BrowserSpec> = {
  kind: 'browser',
  fields,
  implicitExpect: ['failed == 0'],
  check(spec) {
    const problems: Array<{ path: (string | number)[]; message: string; warning?: boolean }> = [];
    if (!spec.mail && !spec.steps)
      problems.push({
        path: ['mail'],
        message: "set mail (open a mail probe's message) or steps (a scripted page check)",
      });
    if (spec.mail && spec.steps)
      problems.push({ path: ['steps'], message: 'a browser probe has either mail or steps, not both' });
    if (spec.mail && !spec.mail.imap.pass && !spec.mail.imap.accessToken)
      problems.push({ path: ['mail', 'imap'], message: 'needs pass or accessToken' });
    if (!spec.mail) {
      for (const key of ['stats', 'landing', 'expectLanding'] as const)
        if (spec[key] !== undefined) problems.push({ path: [key], message: 'applies to mail mode only' });
    }
    if (spec.steps && !('goto' in (spec.steps[0] ?? {})))
      problems.push({ path: ['steps', 0], message: 'the first step must be goto' });
    return problems;
  },
  consumes: (spec) => (spec.mail ? [{ probe: spec.mail.probe, path: ['mail', 'probe'] }] : []),
  create: createBrowserProber,
};
