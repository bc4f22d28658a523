// Chromium for browser checks and reports: its path, flags, sandbox, and one shared instance.
import type { Browser, BrowserContext } from 'playwright-core';
import type { Logger } from 'pino';

/** Debian's Chromium, never a downloaded browser. */
export const CHROMIUM_PATH = process.env.SCAIPROBE_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Whether Chromium can keep its sandbox for a process of this user: always,
 * except as root, where Chromium refuses to start with it ("Running as root
 * without --no-sandbox is not supported"). Playwright turns the sandbox off
 * unless asked, so it is asked for explicitly.
 */
export function sandboxAllowed(uid: number | undefined = process.getuid?.()): boolean {
  return uid !== 0;
}

/** The launch error, saying what to do when it is the sandbox that could not start (Chromium's own text is in `cause`). */
function launchError(error: unknown): unknown {
  const text = error instanceof Error ? error.message : String(error);
  if (!/No usable sandbox|Failed to move to new namespace|sandboxing failed/i.test(text)) return error;
  return new Error(
    "Chromium's sandbox could not start: this system does not let an unprivileged user create user namespaces (allow them; in a container, with a seccomp profile that permits them: see docs/kinds/browser.md)",
    { cause: error },
  );
}

/**
 * One Chromium, launched on first use and shared; each user gets its own
 * context (page, cookies) and closes it. The browser closes itself after
 * `idleMs` without a context open, so a daemon that renders one PDF a day
 * does not keep Chromium resident.
 */
export class SharedBrowser {
  private launching: Promise<Browser> | undefined;
  private open = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  /** Whether Chromium runs with its sandbox (off only when the process runs as root). */
  readonly sandboxed: boolean;

  constructor(private readonly options: { idleMs?: number; logger?: Logger } = {}) {
    this.sandboxed = sandboxAllowed();
  }

  /** A fresh context; call `close()` on it when done. */
  async context(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    this.open += 1;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    try {
      const browser = await this.browser();
      const context = await browser.newContext(options);
      context.on('close', () => this.released());
      return context;
    } catch (error) {
      this.released();
      throw error;
    }
  }

  isRunning(): boolean {
    return this.launching !== undefined;
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const launching = this.launching;
    this.launching = undefined;
    if (launching) await launching.then((b) => b.close()).catch(() => undefined);
  }

  private browser(): Promise<Browser> {
    if (!this.launching) {
      // playwright-core is loaded on first use: a daemon without reports or browser probes never pays for it.
      const sandboxed = this.sandboxed;
      const started = import('playwright-core').then(({ chromium }) =>
        chromium
          .launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, chromiumSandbox: sandboxed })
          .catch((error: unknown) => {
            throw launchError(error);
          }),
      );
      this.launching = started;
      started.then(
        (browser) => {
          if (sandboxed) this.options.logger?.info('chromium started');
          else
            this.options.logger?.warn(
              'chromium started without its sandbox: the process runs as root, where Chromium cannot use it; run scaiprobe as an unprivileged user to keep it',
            );
          browser.on('disconnected', () => {
            if (this.launching === started) this.launching = undefined;
          });
        },
        () => {
          if (this.launching === started) this.launching = undefined;
        },
      );
    }
    return this.launching;
  }

  private released(): void {
    this.open = Math.max(0, this.open - 1);
    if (this.open > 0 || this.options.idleMs === undefined) return;
    this.idleTimer = setTimeout(() => {
      if (this.open === 0) void this.close();
    }, this.options.idleMs);
    this.idleTimer.unref();
  }
}
