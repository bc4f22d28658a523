// IMAP for seed mailboxes: connecting, watching a folder for a probe message, and cleaning up.
import type { ImapFlow, FetchMessageObject, FetchQueryObject, ListResponse } from 'imapflow';
import type { Logger } from 'pino';
import type { Clock } from '../../util/clock.ts';
import { ProbeFailure, classifyNetworkError } from '../../core/errors.ts';
import { contextTrusting, plaintextReason, requiresTls } from '../tls/policy.ts';
import { parseHeaderBlock, type HeaderField } from '../mail-auth/auth-results.ts';

export interface ImapAccount {
  host: string;
  port: number;
  secure: boolean;
  user: string;
  pass?: string;
  /** OAuth2 access token (XOAUTH2), instead of pass. */
  accessToken?: string;
  /** Accept any certificate (lab / self-signed servers). */
  tlsInsecure?: boolean;
  /** A CA (PEM) trusted besides the default roots; the name for SNI and the certificate check. */
  tls?: { ca?: string | undefined; servername?: string | undefined };
  /** STARTTLS required before the login; unset: required unless the host is a loopback address (see requiresTls). */
  requireTLS?: boolean;
}

/** How much of a message's header block is read at most, unless a probe says otherwise. */
export const DEFAULT_MAX_HEADER_BYTES = 256 * 1024;

/** A probe message found in a folder. */
export interface Sighting {
  token: string;
  folder: string;
  uid: number;
  /** Epoch ms the watcher learnt of it (EXISTS while idling, else the search that found it). */
  arrivedAt: number;
  headers: HeaderField[];
  /** The header block was longer than the watch's maxHeaderBytes: `headers` are its first fields only. */
  headersTruncated: boolean;
  subject: string;
  /** Gmail tab (category) when the server is Gmail and the message is in INBOX. */
  tab?: string;
}

export interface WatchDeps {
  clock: Clock;
  logger: Logger;
}

/** Probe tokens look like `sp-` + 16 hex digits (see mail.ts); found in the X-Scaiprobe-Id header or the subject. */
const TOKEN = /\bsp-[0-9a-f]{16}\b/;
/**
 * What is fetched of every new message: enough to find its token and nothing
 * more. Anyone can mail a seed, so a stranger's header block (any size, any
 * folding) is never read; only a message carrying a token we wait for is.
 */
const TOKEN_QUERY: FetchQueryObject = { uid: true, envelope: true, headers: ['x-scaiprobe-id'] };
const GMAIL_TABS = ['primary', 'promotions', 'social', 'updates', 'forums'];

function describe(account: ImapAccount): string {
  return `${account.user}@${account.host}:${account.port}`;
}

/** Resolves with `promise`, or rejects with a TIMEOUT when `signal` aborts first (then `onAbort` runs). */
export async function withSignal<T>(promise: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort?.();
    promise.catch(() => undefined);
    throw new ProbeFailure('TIMEOUT', 'run deadline reached during an IMAP command');
  }
  let cleanup = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    const listener = () => {
      onAbort?.();
      reject(new ProbeFailure('TIMEOUT', 'run deadline reached during an IMAP command'));
    };
    signal.addEventListener('abort', listener, { once: true });
    cleanup = () => signal.removeEventListener('abort', listener);
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    cleanup();
    promise.catch(() => undefined);
  }
}

/**
 * Starts loading imapflow without waiting for it: a mail probe calls this when
 * it is created, so its first run does not also pay for loading the library
 * (a few hundred ms on a busy host) while its connections are timed.
 */
export function preloadImap(logger: Logger): void {
  import('imapflow').catch((error: unknown) => logger.debug({ err: error }, 'preloading imapflow failed'));
}

/** Whether the login must wait for STARTTLS (an IMAP login always carries a password or token). */
function mustStartTls(account: ImapAccount): boolean {
  return !account.secure && requiresTls({ requireTLS: account.requireTLS, host: account.host, credentials: true });
}

export async function createImapClient(account: ImapAccount, options: { autoIdle?: boolean } = {}): Promise<ImapFlow> {
  // imapflow is loaded on first use: a daemon without mail probes never holds it in memory.
  const { ImapFlow: Client } = await import('imapflow');
  return new Client({
    host: account.host,
    port: account.port,
    secure: account.secure,
    // true: no login unless STARTTLS succeeded; unset: STARTTLS whenever the server offers it.
    ...(mustStartTls(account) ? { doSTARTTLS: true } : {}),
    auth: account.accessToken
      ? { user: account.user, accessToken: account.accessToken }
      : { user: account.user, pass: account.pass ?? '' },
    tls: {
      ...(account.tlsInsecure ? { rejectUnauthorized: false } : {}),
      ...(account.tls?.ca ? { secureContext: contextTrusting(account.tls.ca) } : {}),
      ...(account.tls?.servername ? { servername: account.tls.servername } : {}),
    },
    logger: false,
    // The watch's idler starts IDLE itself at once (auto-IDLE waits 15 s); a command connection may
    // use auto-IDLE so that a quiet connection is kept alive between runs.
    disableAutoIdle: !options.autoIdle,
    // Re-issue IDLE every minute so no middlebox or socket timeout ends a quiet connection.
    maxIdleTime: 60_000,
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
  });
}

/** Connects and logs in; failures become CONNECT / AUTH / TLS ProbeFailures naming the account. */
export async function connectImap(
  account: ImapAccount,
  signal: AbortSignal,
  logger: Logger,
  options: { autoIdle?: boolean } = {},
): Promise<ImapFlow> {
  const client = await createImapClient(account, options);
  // An unhandled 'error' event would take the whole daemon down.
  client.on('error', (error: Error) =>
    logger.debug({ err: error, account: describe(account) }, 'imap connection error'),
  );
  try {
    await withSignal(client.connect(), signal, () => client.close());
    return client;
  } catch (error) {
    client.close();
    if (error instanceof ProbeFailure) throw error;
    if ((error as { tlsFailed?: boolean }).tlsFailed) throw startTlsFailure(account, error as Error);
    const authFailed = (error as { authenticationFailed?: boolean }).authenticationFailed;
    if (authFailed) {
      const text = (error as { responseText?: string }).responseText ?? 'authentication failed';
      throw new ProbeFailure('AUTH', `IMAP login as ${describe(account)} refused: ${text}`, { cause: error });
    }
    const failure = classifyNetworkError(error, signal);
    throw new ProbeFailure(
      failure.code === 'INTERNAL' ? 'CONNECT' : failure.code,
      `IMAP ${describe(account)}: ${failure.message}`,
      { cause: error },
    );
  }
}

/** A TLS ProbeFailure for a STARTTLS that was required but did not happen. */
function startTlsFailure(account: ImapAccount, error: Error): ProbeFailure {
  const offered = !/does not support STARTTLS/i.test(error.message);
  const why = offered
    ? error.message
    : `the server offers no STARTTLS, and the password is not sent unencrypted (requireTLS${account.requireTLS === undefined ? ', the default with a password' : ''}; set requireTLS: false to send it anyway)`;
  return new ProbeFailure('TLS', `IMAP ${describe(account)}: ${why}`, { cause: error });
}

/** For run messages: the login of `client` went unencrypted (the server offered no STARTTLS and it was not required). */
export function plaintextLogin(account: ImapAccount, client: ImapFlow): string | undefined {
  if (client.secureConnection) return undefined;
  return `IMAP ${account.host}:${account.port} offers no STARTTLS: the password went unencrypted (${plaintextReason({ requireTLS: account.requireTLS, host: account.host })})`;
}

/** The token in X-Scaiprobe-Id (fetched alone, see TOKEN_QUERY), else in the subject. */
function tokenOf(message: FetchMessageObject): string | undefined {
  const header = message.headers
    ? parseHeaderBlock(message.headers).find((field) => field.name === 'x-scaiprobe-id')?.value
    : undefined;
  return TOKEN.exec(header ?? '')?.[0] ?? TOKEN.exec(message.envelope?.subject ?? '')?.[0];
}

/**
 * The header block of one message, read up to `maxBytes` (a partial fetch:
 * the server sends no more) and parsed. IMAP's HEADER section ends with the
 * empty line, so a block without it was cut.
 */
async function readHeaders(
  client: ImapFlow,
  uid: number,
  maxBytes: number,
): Promise<{ headers: HeaderField[]; truncated: boolean }> {
  const message = await client.fetchOne(
    String(uid),
    { uid: true, bodyParts: [{ key: 'header', start: 0, maxLength: maxBytes }] },
    { uid: true },
  );
  const block = (message && message.headers) || Buffer.alloc(0);
  const complete = block.length < maxBytes || /\r?\n\r?\n$/.test(block.subarray(-4).toString('latin1'));
  return { headers: parseHeaderBlock(block), truncated: !complete };
}

/**
 * Watches one folder over two IMAP connections: the idler is selected on the
 * folder and does nothing but IDLE, so a new message is seen when the server
 * pushes EXISTS rather than at the next poll; the worker (selected on the same
 * folder) runs every command: fetch, search, delete, list.
 *
 * Why two: ending IDLE (DONE) to fetch makes the server stop watching the
 * mailbox. Dovecot batches file-system events for 500 ms before it pushes
 * EXISTS (NOTIFY_DELAY_MSECS in lib-storage/mailbox-watch.c) and DONE drops a
 * batch window already open, so a watcher that left IDLE after each EXISTS
 * always saw the next message a full window after delivery, ~200 ms (p50)
 * later than an IDLE that was never interrupted (bench/mail.bench.ts).
 * Keeping IDLE unbroken gives the server's own push delay whatever the server.
 */
export class FolderWatch {
  private idler: ImapFlow | undefined;
  private worker: ImapFlow | undefined;
  private lastUid = 0;
  private existsAt: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly wanted = new Set<string>();
  private readonly found = new Map<string, Sighting>();
  private readonly listeners = new Set<() => void>();
  private gmail = false;
  private readonly separateWorker: boolean;
  private readonly maxHeaderBytes: number;
  /** Why a connection ended, when it ended without us closing it. */
  lostReason: string | undefined;
  /** Set when a connection logged in without TLS (see plaintextLogin), for the run message. */
  plaintext: string | undefined;

  /**
   * `separateWorker: false` runs commands on the idler itself (IDLE is broken
   * for them and entered again after): one connection instead of two, for a
   * folder whose arrival time is not measured (the spam folder).
   * `maxHeaderBytes` caps how much of a probe message's header block is read.
   */
  constructor(
    readonly account: ImapAccount,
    readonly folder: string,
    private readonly deps: WatchDeps,
    options: { separateWorker?: boolean; maxHeaderBytes?: number } = {},
  ) {
    this.separateWorker = options.separateWorker ?? true;
    this.maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  get connected(): boolean {
    return Boolean(this.idler?.usable && this.worker?.usable);
  }

  /** The folders of the account, listed on the command connection (once it is connected). */
  async list(signal: AbortSignal): Promise<ListResponse[]> {
    let folders: ListResponse[] = [];
    await withSignal(
      this.enqueueStrict(async () => {
        if (!this.worker?.usable)
          throw new ProbeFailure(
            'CONNECT',
            this.lostReason ?? `IMAP connection to ${describe(this.account)} (${this.folder}, command) is not open`,
          );
        folders = await this.worker.list();
      }),
      signal,
    );
    return folders;
  }

  /** Connects and selects the folder on both connections if not already; a dropped connection is replaced. */
  async open(signal: AbortSignal): Promise<void> {
    const { idler, worker } = this.connect(signal);
    const [idled, worked] = await Promise.allSettled([idler, worker]);
    if (idled.status === 'rejected') throw idled.reason;
    if (worked.status === 'rejected') throw worked.reason;
  }

  /**
   * Starts connecting whichever connection is missing and returns at once:
   * `idler` resolves when the folder is watched (IDLE entered), `worker` when
   * commands can run too. The caller may send as soon as `idler` resolves: an
   * EXISTS seen before the worker is ready is timed when seen and fetched once
   * it is (the command queue waits for it), and every token expected before
   * the idler's SELECT is searched for right after it, so a message that came
   * before the folder was watched is found too.
   */
  connect(signal: AbortSignal): { idler: Promise<void>; worker: Promise<void> } {
    const idler = this.idler?.usable
      ? Promise.resolve()
      : this.openSelected(signal, { autoIdle: false }).then(({ client, uidNext }) => {
          this.adoptIdler(client, uidNext);
          if (!this.separateWorker) this.adoptWorker(client);
          this.catchUp(uidNext);
        });
    const worker =
      this.worker?.usable || !this.separateWorker
        ? idler
        : this.openSelected(signal, { autoIdle: true }).then(({ client }) => this.adoptWorker(client));
    // Commands wait for the worker; when it failed they find no usable connection and report the loss.
    this.queue = this.queue.then(() => worker.catch(() => undefined));
    // Whichever side connected is kept (the other is retried at the next connect).
    void Promise.all([idler, worker]).then(
      () => (this.lostReason = undefined),
      () => undefined,
    );
    return { idler, worker };
  }

  /**
   * Searches for every token still wanted among the messages already there at
   * the idler's SELECT (uid < `uidNext`). Later ones come with an EXISTS, which
   * times them better than this search could.
   */
  private catchUp(uidNext: number): void {
    if (uidNext <= 1) return;
    for (const token of this.wanted)
      if (!this.found.has(token)) void this.enqueue(() => this.searchFor(token, uidNext - 1));
  }

  private async openSelected(
    signal: AbortSignal,
    options: { autoIdle: boolean },
  ): Promise<{ client: ImapFlow; uidNext: number }> {
    const client = await connectImap(this.account, signal, this.deps.logger, options);
    this.plaintext = plaintextLogin(this.account, client);
    try {
      const mailbox = await withSignal(client.mailboxOpen(this.folder), signal, () => client.close());
      return { client, uidNext: mailbox.uidNext };
    } catch (error) {
      client.close();
      if (error instanceof ProbeFailure) throw error;
      const { mailboxMissing, responseText } = error as { mailboxMissing?: boolean; responseText?: string };
      // A folder deleted since it was configured or found is the same fault as a misconfigured one.
      if (mailboxMissing)
        throw new ProbeFailure(
          'CONFIG',
          `IMAP ${describe(this.account)}: folder ${this.folder} does not exist (${responseText ?? 'mailbox missing'})`,
          { cause: error },
        );
      throw new ProbeFailure(
        'PROTOCOL',
        `IMAP ${describe(this.account)}: cannot open folder ${this.folder}: ${responseText ?? (error as Error).message}`,
        { cause: error },
      );
    }
  }

  private adoptIdler(client: ImapFlow, uidNext: number): void {
    this.idler?.close();
    this.idler = client;
    // Messages that came while no idler was watching are found by expect({search}) after a reconnect.
    this.lastUid = Math.max(this.lastUid, uidNext - 1);
    client.on('exists', () => {
      this.existsAt ??= this.deps.clock.now();
      void this.enqueue(() => this.scanNew());
    });
    this.watchClose(client, 'idle');
    this.startIdle();
  }

  private adoptWorker(client: ImapFlow): void {
    if (this.worker !== this.idler) this.worker?.close();
    this.worker = client;
    this.gmail = client.capabilities.has('X-GM-EXT-1');
    if (client !== this.idler) this.watchClose(client, 'command');
  }

  private watchClose(client: ImapFlow, role: string): void {
    client.on('close', () => {
      if (this.idler !== client && this.worker !== client) return;
      this.lostReason = `IMAP connection to ${describe(this.account)} (${this.folder}, ${role}) closed`;
      this.notify();
    });
  }

  /** With a shared connection, the command just run ended IDLE: enter it again at once. */
  private resumeIdle(): void {
    if (!this.separateWorker) this.startIdle();
  }

  /** (Re-)enters IDLE on the idler; imapflow restarts it every maxIdleTime. */
  private startIdle(): void {
    const client = this.idler;
    if (!client?.usable) return;
    client
      .idle({ whenFree: true })
      .then(() => {
        // Nothing here ends IDLE, so it ended from the server side: enter it again (not in a tight loop).
        if (this.idler !== client || !client.usable) return;
        setTimeout(() => this.idler === client && !client.idling && this.startIdle(), 1000).unref();
      })
      .catch((error: unknown) => this.deps.logger.debug({ err: error }, 'imap idle ended'));
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.queue
      .then(job)
      .catch((error: unknown) => this.deps.logger.debug({ err: error, folder: this.folder }, 'imap scan failed'));
    this.queue = run.then(() => this.resumeIdle());
    return run;
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Records the messages (fetched with TOKEN_QUERY) that carry a wanted token; only theirs are read further. */
  private async record(
    client: ImapFlow,
    messages: FetchMessageObject[],
    arrivedAt: (message: FetchMessageObject) => number,
  ): Promise<void> {
    for (const message of messages) {
      this.lastUid = Math.max(this.lastUid, message.uid);
      const token = tokenOf(message);
      if (!token || !this.wanted.has(token) || this.found.has(token)) continue;
      const { headers, truncated } = await readHeaders(client, message.uid, this.maxHeaderBytes);
      const sighting: Sighting = {
        token,
        folder: this.folder,
        uid: message.uid,
        arrivedAt: arrivedAt(message),
        headers,
        headersTruncated: truncated,
        subject: message.envelope?.subject ?? '',
      };
      if (this.gmail && this.folder === 'INBOX') {
        const tab = await this.gmailTab(token);
        if (tab) sighting.tab = tab;
      }
      this.found.set(token, sighting);
    }
    this.notify();
  }

  private async scanNew(): Promise<void> {
    const client = this.worker;
    const seenAt = this.existsAt ?? this.deps.clock.now();
    this.existsAt = undefined;
    if (!client?.usable) {
      this.lostReason ??= `IMAP connection to ${describe(this.account)} (${this.folder}, command) closed`;
      this.notify();
      return;
    }
    // The worker's view of the mailbox grows only when it syncs: NOOP first, or `n:*` may not reach the new message.
    await client.noop();
    const messages = await client.fetchAll(`${this.lastUid + 1}:*`, TOKEN_QUERY, { uid: true });
    // `n:*` always returns the last message even when its uid is below n.
    await this.record(
      client,
      messages.filter((message) => message.uid > this.lastUid),
      () => seenAt,
    );
  }

  private async gmailTab(token: string): Promise<string | undefined> {
    for (const tab of GMAIL_TABS) {
      const uids = await this.worker?.search({ gmraw: `category:${tab} subject:${token}` }, { uid: true });
      if (Array.isArray(uids) && uids.length > 0) return tab;
    }
    return undefined;
  }

  /**
   * Starts looking for `token`. With `search`, messages already in the folder
   * are found by SUBJECT search (after a reconnect).
   */
  async expect(token: string, signal: AbortSignal, options: { search?: boolean } = {}): Promise<void> {
    this.wanted.add(token);
    if (options.search)
      await withSignal(
        this.enqueue(() => this.searchFor(token)),
        signal,
      );
  }

  /** Finds `token` by SUBJECT search (up to uid `lastUid` when given). */
  private async searchFor(token: string, lastUid?: number): Promise<void> {
    const client = this.worker;
    if (!client?.usable || this.found.has(token)) return;
    const uids = await client.search({ subject: token, ...(lastUid ? { uid: `1:${lastUid}` } : {}) }, { uid: true });
    if (!Array.isArray(uids) || uids.length === 0) return;
    const messages = await client.fetchAll(uids.join(','), { ...TOKEN_QUERY, internalDate: true }, { uid: true });
    const now = this.deps.clock.now();
    // Found by search, not by EXISTS: it may have arrived while we were not connected.
    await this.record(client, messages, (message) => {
      const internal = message.internalDate ? new Date(message.internalDate).getTime() : now;
      return now - internal > 2000 ? internal : now;
    });
  }

  sighting(token: string): Sighting | undefined {
    return this.found.get(token);
  }

  /** Stops looking for `token` and forgets its sighting. */
  forget(token: string): void {
    this.wanted.delete(token);
    this.found.delete(token);
  }

  /** Calls `listener` on every sighting or connection loss; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The whole message `uid` as stored, read only when its RFC822.SIZE is at
   * most `maxBytes` (anyone can mail a seed); `raw` is undefined when larger.
   */
  async source(uid: number, maxBytes: number, signal: AbortSignal): Promise<{ raw: Buffer | undefined; size: number }> {
    const client = this.worker;
    if (!client?.usable)
      throw new ProbeFailure('CONNECT', `IMAP connection to ${describe(this.account)} (${this.folder}) is closed`);
    let result: { raw: Buffer | undefined; size: number } = { raw: undefined, size: 0 };
    await withSignal(
      this.enqueueStrict(async () => {
        const sized = await client.fetchOne(String(uid), { uid: true, size: true }, { uid: true });
        const size = sized ? (sized.size ?? 0) : 0;
        if (!sized || size > maxBytes) return void (result = { raw: undefined, size });
        const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
        result = { raw: message ? message.source : undefined, size };
      }),
      signal,
    );
    return result;
  }

  /** Deletes messages by UID (expunged at once). */
  async delete(uids: number[], signal: AbortSignal): Promise<void> {
    const client = this.worker;
    if (!client?.usable || uids.length === 0) return;
    await withSignal(
      this.enqueueStrict(() => client.messageDelete(uids.join(','), { uid: true }).then(() => undefined)),
      signal,
    );
  }

  /** Deletes probe messages whose subject contains `marker` but none of `keep` (left by interrupted runs). Returns how many. */
  async sweep(marker: string, keep: Set<string>, signal: AbortSignal): Promise<number> {
    const client = this.worker;
    if (!client?.usable) return 0;
    let removed = 0;
    await withSignal(
      this.enqueueStrict(async () => {
        const uids = await client.search({ subject: marker }, { uid: true });
        if (!Array.isArray(uids) || uids.length === 0) return;
        const messages = await client.fetchAll(uids.join(','), { uid: true, envelope: true }, { uid: true });
        const stale = messages.filter((message) => {
          const token = TOKEN.exec(message.envelope?.subject ?? '')?.[0];
          return (message.envelope?.subject ?? '').includes(marker) && !(token && keep.has(token));
        });
        if (stale.length === 0) return;
        await client.messageDelete(stale.map((message) => message.uid).join(','), { uid: true });
        removed = stale.length;
      }),
      signal,
    );
    return removed;
  }

  /** Like enqueue, but the caller sees the job's error. */
  private enqueueStrict(job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined).then(() => this.resumeIdle());
    return run;
  }

  async close(): Promise<void> {
    const clients = [...new Set([this.idler, this.worker])];
    this.idler = undefined;
    this.worker = undefined;
    this.listeners.clear();
    await Promise.all(clients.map((client) => closeClient(client)));
  }
}

/** A polite LOGOUT, but never wait long for it. */
async function closeClient(client: ImapFlow | undefined): Promise<void> {
  if (!client) return;
  if (!client.usable) {
    client.close();
    return;
  }
  await Promise.race([
    client.logout().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 1000).unref()),
  ]);
  client.close();
}

/** One search of every other selectable folder for `tokens` (at the deadline); found messages are deleted when `remove`. */
export async function searchOtherFolders(
  account: ImapAccount,
  tokens: string[],
  exclude: string[],
  options: { signal: AbortSignal; deps: WatchDeps; remove: boolean; maxHeaderBytes?: number },
): Promise<Sighting[]> {
  const client = await connectImap(account, options.signal, options.deps.logger);
  const found: Sighting[] = [];
  try {
    const folders = await withSignal(client.list(), options.signal, () => client.close());
    for (const folder of folders) {
      if (exclude.includes(folder.path) || folder.flags.has('\\Noselect') || folder.flags.has('\\NonExistent'))
        continue;
      await withSignal(client.mailboxOpen(folder.path), options.signal, () => client.close());
      for (const token of tokens) {
        const uids = await withSignal(client.search({ subject: token }, { uid: true }), options.signal, () =>
          client.close(),
        );
        if (!Array.isArray(uids) || uids.length === 0) continue;
        const messages = await withSignal(
          client.fetchAll(uids.join(','), TOKEN_QUERY, { uid: true }),
          options.signal,
          () => client.close(),
        );
        const now = options.deps.clock.now();
        for (const message of messages) {
          if (tokenOf(message) !== token) continue;
          const { headers, truncated } = await withSignal(
            readHeaders(client, message.uid, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES),
            options.signal,
            () => client.close(),
          );
          found.push({
            token,
            folder: folder.path,
            uid: message.uid,
            arrivedAt: now,
            headers,
            headersTruncated: truncated,
            subject: message.envelope?.subject ?? '',
          });
        }
        if (options.remove)
          await withSignal(client.messageDelete(uids.join(','), { uid: true }), options.signal, () => client.close());
      }
    }
  } finally {
    await Promise.race([
      client.logout().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
    client.close();
  }
  return found;
}
