// The `mail` kind: a probe message sent through ScaiSend, found in seed IMAP mailboxes, judged for placement, time and authentication.
import { setMaxListeners } from 'node:events';
import { z } from 'zod';
import { timerDuration, tlsOptionsSchema } from '../core/schema.ts';
import { MAIL_MESSAGE_ITEM, MAX_MAIL_SEEDS } from '../core/items.ts';
import { ProbeFailure } from '../core/errors.ts';
import { formatDuration } from '../core/duration.ts';
import type { Measurement, Observations, RunItem, CommonProbeSpec } from '../core/probe.ts';
import type { ProbeContext, ProbeKind, Prober, ProberDeps } from './kind.ts';
import { judgeAuthentication, type AuthVerdict } from '../protocols/mail-auth/auth-results.ts';
import {
  DEFAULT_MAX_HEADER_BYTES,
  FolderWatch,
  preloadImap,
  searchOtherFolders,
  type ImapAccount,
  type Sighting,
} from '../protocols/imap/watch.ts';
import { sendViaApi, sendViaSmtp, type ProbeMessage, type SendOutcome } from '../protocols/smtp/send.ts';
import { newToken, subjectMarker, TOKEN_HEADER } from '../protocols/smtp/probe-token.ts';
import { imapAccount, imapFields } from '../protocols/imap/account.ts';
import { DnsClient, type DnsServer } from '../protocols/dns/wire.ts';
import { queryFields, resolverOf, serverText } from '../protocols/dns/config.ts';
import { mailauthResolver } from '../protocols/mail-auth/dns-resolver.ts';
import { verdictNotes, verifyOwn, type OwnVerdict } from '../protocols/mail-auth/verify.ts';

const seedFields = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/,
      'must be letters, digits, "_" or "-" (it becomes part of observation names)',
    ),
  address: z.email(),
  imap: imapFields,
  /** The provider's own authserv-id; only the topmost Authentication-Results with it is trusted. */
  authservId: z.string().min(1).optional(),
  /** Spam folder when the server does not flag one \Junk. */
  junkFolder: z.string().min(1).optional(),
  /** The mailbox provider the seed stands for (reports group placement by it); guessed from the address when absent. */
  provider: z.string().min(1).optional(),
});

const KNOWN_PROVIDERS: Array<[RegExp, string]> = [
  [/(^|\.)(gmail|googlemail|google)\.com$/, 'Gmail'],
  [/(^|\.)(outlook|hotmail|live|msn|office365)\.com$|\.outlook\.com$/, 'Outlook'],
  [/(^|\.)(yahoo|ymail|aol)\.[a-z.]+$/, 'Yahoo'],
  [/(^|\.)(icloud|me|mac)\.com$/, 'iCloud'],
  [/(^|\.)(gmx|web)\.(de|net|com)$/, 'GMX'],
];

/** The provider a seed stands for: configured, else known by its address or IMAP host, else the address's domain. */
export function seedProvider(seed: { address: string; provider?: string | undefined; imap: { host: string } }): string {
  if (seed.provider) return seed.provider;
  const domain = seed.address.split('@')[1]?.toLowerCase() ?? '';
  for (const candidate of [domain, seed.imap.host.toLowerCase()]) {
    const known = KNOWN_PROVIDERS.find(([pattern]) => pattern.test(candidate));
    if (known) return known[1];
  }
  return domain;
}

const smtpFields = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(587),
  secure: z.boolean().default(false),
  /** Fail unless the server offers STARTTLS (it is used whenever offered); default: required when `user` is set, unless the host is a loopback address. */
  requireTLS: z.boolean().optional(),
  /** Certificate checks: trust `ca` (PEM) besides the system's, or skip them (`insecure`); `servername` for SNI and the name check. */
  tls: tlsOptionsSchema,
  user: z.string().optional(),
  pass: z.string().optional(),
});

const sendFields = z.strictObject({
  /** Which path sends; defaults to `api` when `api` is set, else `smtp`. */
  via: z.enum(['api', 'smtp']).optional(),
  api: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  apiKey: z.string().optional(),
  smtp: smtpFields.optional(),
  from: z.email(),
  fromName: z.string().optional(),
  /** Adds List-Unsubscribe (and the one-click List-Unsubscribe-Post) pointing here. */
  listUnsubscribe: z.url().optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /** HTML body (e.g. with landing links for a browser probe); `{{token}}` becomes the probe token. */
  html: z.string().min(1).optional(),
  /** Ask ScaiSend to rewrite links / add an open pixel (tracking_settings; API sends only). */
  tracking: z.strictObject({ clicks: z.boolean().default(false), opens: z.boolean().default(false) }).optional(),
});

const fields = z.object({
  send: sendFields,
  seeds: z.array(seedFields).min(1).max(MAX_MAIL_SEEDS),
  /** How long to wait for the messages after the send (default: until shortly before the timeout). */
  wait: timerDuration().optional(),
  /** Marks probe messages in the subject; stale ones with it are swept. */
  subjectPrefix: z.string().min(1).default('[scaiprobe]'),
  /** Delete probe messages after judging them. */
  cleanup: z.boolean().default(true),
  /** Leave the latest run's message in place (for a browser probe to open); older ones are swept after each run. */
  keepLatest: z.boolean().default(false),
  /** How much of a probe message's header block is read (anything below the provider's own headers is the sender's, of any size). */
  maxHeaderBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(DEFAULT_MAX_HEADER_BYTES),
  /** The resolver our own verification asks (DKIM keys, DMARC, SPF): `IP` or `IP:port`; default the system's first. */
  resolver: serverText().optional(),
  ...queryFields,
  /** Our own verification of every seed copy (beside what the provider's Authentication-Results says). */
  verify: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Larger copies are not fetched nor verified. */
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(64 * 1024 * 1024)
        .default(10 * 1024 * 1024),
      /** Copies with more DKIM-Signature fields are not verified. */
      maxSignatures: z.number().int().min(1).max(50).default(10),
    })
    .prefault({}),
});

export type MailSpec = z.output<typeof fields>;
type SeedSpec = MailSpec['seeds'][number];

const PLACEMENT_RANK: Record<string, number> = { inbox: 0, other: 1, spam: 2, missing: 3 };

interface SeedWatch {
  spec: SeedSpec;
  account: ImapAccount;
  inbox: FolderWatch;
  junk: FolderWatch | undefined;
  junkPath: string | undefined;
}

interface SeedOutcome {
  seed: SeedSpec;
  placement: string;
  sighting: Sighting | undefined;
  timeToInboxMs: number | null;
  auth: AuthVerdict | undefined;
  /** Our own verification of the copy; undefined when it was not verified. */
  own?: OwnVerdict;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(sorted.length / 2) - 1] ?? null;
}

function buildMessage(spec: MailSpec & CommonProbeSpec, token: string, location?: string): ProbeMessage {
  const headers: Record<string, string> = { ...spec.send.headers, [TOKEN_HEADER]: token };
  if (spec.send.listUnsubscribe) {
    headers['List-Unsubscribe'] =
      `<${spec.send.listUnsubscribe}${spec.send.listUnsubscribe.includes('?') ? '&' : '?'}t=${token}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  const text = `scaiprobe delivery probe ${token} from probe ${spec.name}. It is deleted automatically.`;
  return {
    token,
    from: spec.send.from,
    ...(spec.send.fromName ? { fromName: spec.send.fromName } : {}),
    to: spec.seeds.map((seed) => ({ seed: seed.name, address: seed.address })),
    subject: `${subjectMarker(spec.subjectPrefix, spec.name, location)}${token}`,
    text,
    html: spec.send.html ? spec.send.html.replaceAll('{{token}}', token) : `<p>${text}</p>`,
    headers,
    ...(spec.send.tracking ? { tracking: spec.send.tracking } : {}),
  };
}

/** Waits until one of `watches` has seen `token`, `until` passes or the signal aborts; a dropped connection is re-opened once. */
async function waitForSighting(
  watch: SeedWatch,
  token: string,
  until: number,
  ctx: ProbeContext,
): Promise<Sighting | undefined> {
  const watches = [watch.inbox, ...(watch.junk ? [watch.junk] : [])];
  let reopened = false;
  for (;;) {
    for (const folder of watches) {
      const sighting = folder.sighting(token);
      if (sighting) return sighting;
    }
    const lost = watches.find((folder) => folder.lostReason);
    if (lost) {
      const reason = lost.lostReason;
      // A seed whose connection keeps dropping cannot say where the message went: that is a connection failure, not "missing".
      if (reopened)
        throw new ProbeFailure(
          'CONNECT',
          `seed ${watch.spec.name}: ${reason} again while waiting for the probe message (it was re-opened once already)`,
        );
      reopened = true;
      try {
        await lost.open(ctx.signal);
        // It may have arrived while the connection was down.
        await lost.expect(token, ctx.signal, { search: true });
      } catch (error) {
        // A reconnect refused for a reason of its own (the folder is gone, the login is refused) keeps that reason's code.
        const code =
          error instanceof ProbeFailure && (error.code === 'CONFIG' || error.code === 'AUTH' || error.code === 'TLS')
            ? error.code
            : 'CONNECT';
        throw new ProbeFailure(
          code,
          `seed ${watch.spec.name}: ${reason} while waiting for the probe message; reconnecting failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
      continue;
    }
    const remaining = until - ctx.clock.now();
    if (remaining <= 0 || ctx.signal.aborted) return undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, remaining);
      const unsubscribes = watches.map((folder) => folder.subscribe(done));
      ctx.signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        for (const unsubscribe of unsubscribes) unsubscribe();
        ctx.signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
}

class MailProber implements Prober {
  private readonly watches: SeedWatch[];
  /** Our own verification's DNS (kept across runs, closed with the prober). */
  private readonly dns: DnsClient;
  private verifyServer: DnsServer | undefined;

  constructor(
    private readonly spec: MailSpec & CommonProbeSpec,
    private readonly deps: ProberDeps,
  ) {
    preloadImap(deps.logger);
    this.dns = new DnsClient({ clock: deps.clock });
    this.watches = spec.seeds.map((seed) => {
      const account = imapAccount(seed.imap);
      const inbox = new FolderWatch(account, 'INBOX', deps, { maxHeaderBytes: spec.maxHeaderBytes });
      return { spec: seed, account, inbox, junk: undefined, junkPath: undefined };
    });
  }

  private get marker(): string {
    return subjectMarker(this.spec.subjectPrefix, this.spec.name, this.deps.location);
  }

  /**
   * Starts connecting a seed's watchers (kept across runs); resolves with the
   * rest of the set-up once the INBOX is watched, which is all a send has to
   * wait for. The rest — the INBOX command connection, finding and watching
   * the spam folder, sweeping old probe messages — runs during the send.
   */
  private async watchInbox(
    watch: SeedWatch,
    token: string,
    ctx: ProbeContext,
    warnings: string[],
  ): Promise<{ rest: Promise<number> }> {
    await watch.inbox.expect(token, ctx.signal);
    // A spam folder already watched must know the token before the send: an EXISTS for a token not expected is passed over.
    await watch.junk?.expect(token, ctx.signal);
    const { idler, worker } = watch.inbox.connect(ctx.signal);
    const rest = (async () => {
      await worker;
      await this.watchJunk(watch, token, ctx);
      return this.spec.keepLatest ? 0 : this.sweep(watch, token, ctx, warnings);
    })();
    // When the idler fails the caller never awaits `rest`; its own failure is the one reported.
    rest.catch(() => undefined);
    await idler;
    return { rest };
  }

  private async watchJunk(watch: SeedWatch, token: string, ctx: ProbeContext): Promise<void> {
    if (!watch.junkPath) {
      const folders = await watch.inbox.list(ctx.signal);
      const flagged = folders.find((folder) => folder.specialUse === '\\Junk')?.path;
      const named = watch.spec.junkFolder
        ? folders.find((folder) => folder.path === watch.spec.junkFolder)?.path
        : undefined;
      if (watch.spec.junkFolder && !named)
        throw new ProbeFailure(
          'CONFIG',
          `junkFolder "${watch.spec.junkFolder}" does not exist (folders: ${folders.map((f) => f.path).join(', ')})`,
        );
      watch.junkPath = named ?? flagged;
      // Only the inbox's arrival time is measured: the spam folder makes do with one connection.
      if (watch.junkPath)
        watch.junk = new FolderWatch(watch.account, watch.junkPath, this.deps, {
          separateWorker: false,
          maxHeaderBytes: this.spec.maxHeaderBytes,
        });
    }
    // Tokens expected before the spam folder's SELECT are searched for after it (FolderWatch.connect).
    await watch.junk?.expect(token, ctx.signal);
    await watch.junk?.open(ctx.signal);
  }

  /** Deletes probe messages other runs left (interrupted ones); this run's `token` is kept, as the sweep runs during the send. */
  private async sweep(watch: SeedWatch, token: string, ctx: ProbeContext, warnings: string[]): Promise<number> {
    const counts = await Promise.all(
      this.folders(watch).map((folder) =>
        folder.sweep(this.marker, new Set([token]), ctx.signal).catch((error: unknown) => {
          warnings.push(
            `seed ${watch.spec.name}: sweeping old probe messages in ${folder.folder} failed: ${(error as Error).message}`,
          );
          return 0;
        }),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  private seedFailure(watch: SeedWatch, error: unknown): ProbeFailure {
    const failure =
      error instanceof ProbeFailure ? error : new ProbeFailure('CONNECT', (error as Error).message, { cause: error });
    return new ProbeFailure(failure.code, `seed ${watch.spec.name}: ${failure.message}`, { cause: error });
  }

  private folders(watch: SeedWatch): FolderWatch[] {
    return [watch.inbox, ...(watch.junk ? [watch.junk] : [])];
  }

  private async send(message: ProbeMessage, ctx: ProbeContext): Promise<SendOutcome> {
    const send = this.spec.send;
    const via = send.via ?? (send.api ? 'api' : 'smtp');
    if (via === 'api') {
      return sendViaApi({ api: send.api ?? '', apiKey: send.apiKey ?? '' }, message, {
        http: ctx.http,
        clock: ctx.clock,
        signal: ctx.signal,
      });
    }
    const smtp = send.smtp!;
    return sendViaSmtp(
      {
        host: smtp.host,
        port: smtp.port,
        secure: smtp.secure,
        ...(smtp.requireTLS !== undefined ? { requireTLS: smtp.requireTLS } : {}),
        ...(smtp.tls ? { tls: smtp.tls } : {}),
        ...(smtp.user ? { user: smtp.user, pass: smtp.pass ?? '' } : {}),
      },
      message,
      { clock: ctx.clock, signal: ctx.signal },
    );
  }

  async probe(ctx: ProbeContext): Promise<Measurement> {
    const warnings: string[] = [];
    const phases: Record<string, number> = {};
    const token = newToken();
    // Every IMAP wait of every seed listens on this one signal at the same time.
    setMaxListeners(Math.max(20, this.watches.length * 8), ctx.signal);
    const started = ctx.clock.monotonic();
    try {
      // Only the INBOX watches must be up before the send; the rest of the set-up runs during it.
      const seeds = await Promise.all(
        this.watches.map((watch) =>
          this.watchInbox(watch, token, ctx, warnings).catch((error: unknown) =>
            Promise.reject(this.seedFailure(watch, error)),
          ),
        ),
      );
      phases.connect = Math.round(ctx.clock.monotonic() - started);
      const rest = Promise.all(
        seeds.map(({ rest }, index) =>
          rest.catch((error: unknown) => Promise.reject(this.seedFailure(this.watches[index]!, error))),
        ),
      );
      return await this.sendAndJudge(token, ctx, { warnings, phases, swept: 0 }, rest);
    } finally {
      for (const watch of this.watches) for (const folder of this.folders(watch)) folder.forget(token);
    }
  }

  private async sendAndJudge(
    token: string,
    ctx: ProbeContext,
    run: { warnings: string[]; phases: Record<string, number>; swept: number },
    setUp: Promise<number[]>,
  ): Promise<Measurement> {
    const message = buildMessage(this.spec, token, this.deps.location);
    const setUpStarted = ctx.clock.monotonic();
    // The message cannot arrive before the send is accepted: the rest of the set-up overlaps with it (and is awaited, so a run leaves no work behind).
    const [sending, settingUp] = await Promise.allSettled([this.send(message, ctx), setUp]);
    if (sending.status === 'rejected') throw sending.reason;
    if (settingUp.status === 'rejected') throw settingUp.reason;
    const sent = sending.value;
    run.phases.send = sent.latencyMs;
    run.phases.setUp = Math.round(ctx.clock.monotonic() - setUpStarted);
    run.swept = settingUp.value.reduce((a, b) => a + b, 0);

    // Leave time before the deadline for the one search of the other folders and the clean-up, also on a busy host.
    const margin = Math.min(5000, Math.max(1000, (ctx.deadline - ctx.clock.now()) * 0.25));
    const until = Math.min(
      ctx.deadline - margin,
      this.spec.wait !== undefined ? sent.acceptedAt + this.spec.wait : Infinity,
    );
    const waitStarted = ctx.clock.monotonic();
    const sightings = await Promise.all(this.watches.map((watch) => waitForSighting(watch, token, until, ctx)));
    run.phases.wait = Math.round(ctx.clock.monotonic() - waitStarted);

    const missing = this.watches.filter((_, index) => !sightings[index]);
    for (const watch of missing) {
      const exclude = ['INBOX', ...(watch.junkPath ? [watch.junkPath] : [])];
      const elsewhere = await searchOtherFolders(watch.account, [token], exclude, {
        signal: ctx.signal,
        deps: this.deps,
        remove: this.spec.cleanup,
        maxHeaderBytes: this.spec.maxHeaderBytes,
      }).catch((error: unknown) => {
        run.warnings.push(`seed ${watch.spec.name}: searching the other folders failed: ${(error as Error).message}`);
        return [];
      });
      if (elsewhere[0]) sightings[this.watches.indexOf(watch)] = elsewhere[0];
    }

    const outcomes = this.watches.map((watch, index) => this.judge(watch, sightings[index], sent));
    // Before the clean-up deletes the copies; half the margin kept for it.
    await this.verifyCopies(outcomes, ctx, run.warnings, until + margin / 2);
    for (const outcome of outcomes) {
      if (outcome.sighting?.headersTruncated) {
        const limit = this.spec.maxHeaderBytes;
        run.warnings.push(
          `seed ${outcome.seed.name}: the probe message's header block exceeds maxHeaderBytes (${limit}); authentication was judged from its first ${limit} bytes`,
        );
      }
    }
    if (this.spec.cleanup && !this.spec.keepLatest) await this.cleanup(outcomes, ctx, run.warnings);
    if (this.spec.keepLatest)
      run.swept += await sweepAllBut(
        this.watches.flatMap((watch) => this.folders(watch)),
        this.marker,
        token,
        ctx.signal,
        run.warnings,
      );
    return this.measurement(token, sent, outcomes, run);
  }

  private judge(watch: SeedWatch, sighting: Sighting | undefined, sent: SendOutcome): SeedOutcome {
    if (!sighting) return { seed: watch.spec, placement: 'missing', sighting, timeToInboxMs: null, auth: undefined };
    const placement =
      sighting.folder === 'INBOX' ? 'inbox' : sighting.folder === watch.junkPath ? 'spam' : `other:${sighting.folder}`;
    const auth = judgeAuthentication(sighting.headers, watch.spec.authservId);
    const timeToInboxMs = placement === 'inbox' ? Math.max(0, sighting.arrivedAt - sent.acceptedAt) : null;
    return { seed: watch.spec, placement, sighting, timeToInboxMs, auth };
  }

  /** The watched folder (INBOX or spam) holding a seed's copy; undefined when found elsewhere or not at all. */
  private watchedFolder(outcome: SeedOutcome): FolderWatch | undefined {
    const watch = this.watches.find((candidate) => candidate.spec === outcome.seed);
    const sighting = outcome.sighting;
    return watch && sighting ? this.folders(watch).find((folder) => folder.folder === sighting.folder) : undefined;
  }

  /** The resolver our own verification asks; undefined (with a warning) when none is configured and the system has none. */
  private resolverFor(warnings: string[]): DnsServer | undefined {
    try {
      this.verifyServer ??= resolverOf(this.spec.resolver);
      return this.verifyServer;
    } catch (error) {
      warnings.push(`our own verification was skipped: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Our own verdict on every copy in a watched folder, all seeds at once, done by `until` whatever DNS does. */
  private async verifyCopies(outcomes: SeedOutcome[], ctx: ProbeContext, warnings: string[], until: number) {
    const limits = this.spec.verify;
    const server = limits.enabled ? this.resolverFor(warnings) : undefined;
    if (!server) return;
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(0, Math.floor(until - ctx.clock.now())))]);
    const budget = { signal, timeoutMs: this.spec.queryTimeout, retries: this.spec.queryRetries };
    await Promise.all(
      outcomes.map(async (outcome) => {
        const folder = this.watchedFolder(outcome);
        if (!folder || !outcome.sighting) return;
        const name = outcome.seed.name;
        try {
          const { raw, size } = await folder.source(outcome.sighting.uid, limits.maxBytes, signal);
          if (!raw)
            return void warnings.push(
              `seed ${name}: the copy is ${size} bytes, more than verify.maxBytes (${limits.maxBytes}); not verified`,
            );
          const resolver = mailauthResolver(this.dns, server, budget);
          outcome.own = await verifyOwn(raw, { resolver, signal, maxSignatures: limits.maxSignatures });
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          const why = signal.aborted ? 'it did not finish in the time left' : (error as Error).message;
          warnings.push(`seed ${name}: our own verification failed: ${why}`);
        }
      }),
    );
  }

  private async cleanup(outcomes: SeedOutcome[], ctx: ProbeContext, warnings: string[]): Promise<void> {
    await Promise.all(
      outcomes.map(async (outcome) => {
        const sighting = outcome.sighting;
        const folder = this.watchedFolder(outcome);
        if (!folder || !sighting) return;
        await folder
          .delete([sighting.uid], ctx.signal)
          .catch((error: unknown) =>
            warnings.push(`seed ${outcome.seed.name}: deleting the probe message failed: ${(error as Error).message}`),
          );
      }),
    );
  }

  private measurement(
    token: string,
    sent: SendOutcome,
    outcomes: SeedOutcome[],
    run: { warnings: string[]; phases: Record<string, number>; swept: number },
  ): Measurement {
    const times = outcomes.map((outcome) => outcome.timeToInboxMs).filter((ms): ms is number => ms !== null);
    const observations = runObservations(token, sent, outcomes, times, run.swept);
    const via = this.spec.send.via ?? (this.spec.send.api ? 'api' : 'smtp');
    const items: RunItem[] = [];
    for (const outcome of outcomes) {
      Object.assign(observations, seedObservations(outcome));
      items.push(messageItem(outcome, token, sent, via));
    }
    return {
      observations,
      phases: run.phases,
      items,
      warnings: run.warnings,
      message: [
        describeOutcomes(outcomes, times),
        ...outcomes.flatMap((outcome) =>
          outcome.own ? verdictNotes(outcome.seed.name, outcome.auth, outcome.own) : [],
        ),
        ...this.plaintextNotes(sent),
      ].join('; '),
    };
  }

  /** Where credentials went unencrypted this run (allowed by requireTLS: false or a loopback address): said in the message, once per server. */
  private plaintextNotes(sent: SendOutcome): string[] {
    const imap = this.watches.flatMap((watch) => this.folders(watch).map((folder) => folder.plaintext));
    return [...new Set([sent.plaintext, ...imap].filter((note): note is string => note !== undefined))];
  }

  async close(): Promise<void> {
    await Promise.all([
      this.dns.close(),
      ...this.watches.flatMap((watch) => this.folders(watch).map((folder) => folder.close())),
    ]);
  }
}

/** Deletes every probe message of this probe but `token`'s (keepLatest). */
async function sweepAllBut(
  folders: FolderWatch[],
  marker: string,
  token: string,
  signal: AbortSignal,
  warnings: string[],
): Promise<number> {
  const counts = await Promise.all(
    folders.map((folder) =>
      folder
        .sweep(marker, new Set([token]), signal)
        .catch(
          (error: unknown) => (
            warnings.push(`sweeping older probe messages in ${folder.folder} failed: ${(error as Error).message}`),
            0
          ),
        ),
    ),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** Our own verdict as observations (`seed.<name>.own.*`), beside the provider's; per signature `dkim<N>.*`. */
function ownObservations(prefix: string, own: OwnVerdict | undefined): Observations {
  const observations: Observations = {
    [`${prefix}.dkim`]: own?.dkim ?? null,
    [`${prefix}.dkimAligned`]: own ? own.signatures.some((signature) => signature.aligned) : null,
    [`${prefix}.dkimSignatures`]: own ? own.signatures.length : null,
    [`${prefix}.dmarc`]: own?.dmarc ?? null,
    [`${prefix}.dmarcPolicy`]: own?.dmarcPolicy ?? null,
    [`${prefix}.dmarcDkimAligned`]: own?.dmarcDkimAligned ?? null,
    [`${prefix}.dmarcSpfAligned`]: own?.dmarcSpfAligned ?? null,
    [`${prefix}.arc`]: own?.arc ?? null,
    [`${prefix}.spf`]: own?.spf ?? null,
    [`${prefix}.spfIp`]: own?.spfIp ?? null,
  };
  own?.signatures.forEach((signature, index) => {
    const at = `${prefix}.dkim${index + 1}`;
    Object.assign(observations, {
      [`${at}.result`]: signature.result,
      [`${at}.domain`]: signature.domain,
      [`${at}.selector`]: signature.selector,
      [`${at}.algorithm`]: signature.algorithm,
      [`${at}.bodyHash`]: signature.bodyHash,
      [`${at}.keyBits`]: signature.keyBits,
      [`${at}.aligned`]: signature.aligned,
    });
  });
  return observations;
}

function describeOutcomes(outcomes: SeedOutcome[], times: number[]): string {
  const parts = outcomes.map((outcome) => {
    const auth = outcome.auth
      ? ` (spf=${outcome.auth.spf ?? '-'} dkim=${outcome.auth.dkim ?? '-'} dmarc=${outcome.auth.dmarc ?? '-'})`
      : '';
    const time = outcome.timeToInboxMs !== null ? ` in ${formatDuration(outcome.timeToInboxMs)}` : '';
    return `${outcome.seed.name}: ${outcome.placement}${time}${auth}`;
  });
  const slowest = times.length > 0 ? `; slowest ${formatDuration(Math.max(...times))}` : '';
  return `${parts.join(', ')}${slowest}`;
}

function createMailProber(spec: MailSpec & CommonProbeSpec, deps: ProberDeps): Prober {
  return new MailProber(spec, deps);
}

export const mailKind: ProbeKind<MailSpec> = {
  kind: 'mail',
  feeds: { items: [MAIL_MESSAGE_ITEM] },
  fields,
  check(spec) {
    const problems: Array<{ path: (string | number)[]; message: string }> = [];
    const via = spec.send.via ?? (spec.send.api ? 'api' : 'smtp');
    if (via === 'api') {
      if (!spec.send.api)
        problems.push({ path: ['send', 'api'], message: 'is required to send through the API (or set send.smtp)' });
      if (!spec.send.apiKey)
        problems.push({ path: ['send', 'apiKey'], message: 'is required to send through the API' });
    } else if (!spec.send.smtp)
      problems.push({ path: ['send', 'smtp'], message: 'is required to send over SMTP (or set send.api)' });
    // The probe sets it: a second one would make a browser probe pass its messages over as not the probe's.
    for (const name of Object.keys(spec.send.headers)) {
      if (name.toLowerCase() === TOKEN_HEADER.toLowerCase())
        problems.push({ path: ['send', 'headers', name], message: `is set by the probe (the run's token)` });
    }
    const names = new Set<string>();
    spec.seeds.forEach((seed, index) => {
      if (names.has(seed.name))
        problems.push({ path: ['seeds', index, 'name'], message: `"${seed.name}" is used by another seed` });
      names.add(seed.name);
      if (!seed.imap.pass && !seed.imap.accessToken)
        problems.push({ path: ['seeds', index, 'imap'], message: 'needs pass or accessToken' });
    });
    return problems;
  },
  create: createMailProber,
};

/** A run's own observations: placement counts, the worst placement, time to inbox, the send. */
function runObservations(
  token: string,
  sent: SendOutcome,
  outcomes: SeedOutcome[],
  times: number[],
  swept: number,
): Observations {
  const kindOf = (placement: string) => (placement.startsWith('other:') ? 'other' : placement);
  const count = (kind: string) => outcomes.filter((outcome) => kindOf(outcome.placement) === kind).length;
  const worst = outcomes.reduce(
    (acc, outcome) =>
      (PLACEMENT_RANK[kindOf(outcome.placement)] ?? 0) > (PLACEMENT_RANK[acc] ?? 0) ? kindOf(outcome.placement) : acc,
    'inbox',
  );
  return {
    inbox: count('inbox'),
    spam: count('spam'),
    other: count('other'),
    missing: count('missing'),
    placement: worst,
    'timeToInboxMs.max': times.length > 0 ? Math.max(...times) : null,
    'timeToInboxMs.p50': median(times),
    'send.status': sent.status,
    'send.latencyMs': sent.latencyMs,
    'send.messageId': sent.messageId,
    'cleanup.swept': swept,
    token,
  };
}

/** One seed's observations: placement, folder, time, what its provider's header says, and scaiprobe's own verdict. */
function seedObservations(outcome: SeedOutcome): Observations {
  const prefix = `seed.${outcome.seed.name}`;
  const auth = outcome.auth;
  const observations: Observations = {
    [`${prefix}.placement`]: outcome.placement,
    [`${prefix}.folder`]: outcome.sighting?.folder ?? null,
    [`${prefix}.timeToInboxMs`]: outcome.timeToInboxMs,
    [`${prefix}.spf`]: auth?.spf ?? null,
    [`${prefix}.dkim`]: auth?.dkim ?? null,
    [`${prefix}.dkimDomain`]: auth?.dkimDomain ?? null,
    [`${prefix}.dkimSelector`]: auth?.dkimSelector ?? null,
    [`${prefix}.dmarc`]: auth?.dmarc ?? null,
    [`${prefix}.dmarcPolicy`]: auth?.dmarcPolicy ?? null,
    [`${prefix}.arc`]: auth?.arc ?? null,
    [`${prefix}.compauth`]: auth?.compauth ?? null,
    [`${prefix}.compauthReason`]: auth?.compauthReason ?? null,
    [`${prefix}.receivedSpf`]: auth?.receivedSpf ?? null,
    [`${prefix}.listUnsubscribe`]: auth?.listUnsubscribe ?? null,
    [`${prefix}.oneClick`]: auth?.oneClickUnsubscribe ?? null,
  };
  Object.assign(observations, ownObservations(`${prefix}.own`, outcome.own));
  if (outcome.sighting?.tab) observations[`${prefix}.tab`] = outcome.sighting.tab;
  return observations;
}

/** The probe message as an item reports and the browser kind read. */
function messageItem(outcome: SeedOutcome, token: string, sent: SendOutcome, via: string): RunItem {
  return {
    type: MAIL_MESSAGE_ITEM,
    key: `${outcome.seed.name}:${token}`,
    data: {
      seed: outcome.seed.name,
      provider: seedProvider(outcome.seed),
      address: outcome.seed.address,
      token,
      messageId: sent.messageId,
      via,
      sentAt: new Date(sent.acceptedAt).toISOString(),
      arrivedAt: outcome.sighting ? new Date(outcome.sighting.arrivedAt).toISOString() : null,
      folder: outcome.sighting?.folder ?? null,
      placement: outcome.placement,
      timeToInboxMs: outcome.timeToInboxMs,
      tab: outcome.sighting?.tab ?? null,
      auth: outcome.auth ?? null,
      own: outcome.own ?? null,
    },
  };
}
