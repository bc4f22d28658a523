import assert from 'node:assert/strict';
import { mailKind } from '../../src/probers/mail.ts';
import { browserKind, type BrowserSpec } from '../../src/probers/browser.ts';
import type { CommonProbeSpec } from '../../src/core/probe.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { makeTempDir } from '../../src/lab/processes.ts';
import { RecentItems } from '../../src/runner/recorded-items.ts';
import { deps, mailSpec, run, seed, startTestMailLab, type TestMailLab } from './mail-lab.ts';
import { specFor } from './probe-run.ts';

/** A private mail lab, a screenshot folder and the probes of a browser test file. */
export interface BrowserLab {
  lab: TestMailLab;
  shotsDir: string;
  /** What the engine keeps of finished runs: the mail probe's sent tokens, read by the browser probe. */
  recent: RecentItems;
  landing(name: string): string;
  /** Sends one probe message of mail probe "mail-lab" to alice (kept for the browser probe); returns its token. */
  sendProbeMail(tracking: boolean, extraHtml?: string): Promise<string>;
  browserProbe(
    raw: Record<string, unknown>,
    expect?: string[],
    timeoutMs?: number,
  ): { spec: BrowserSpec & CommonProbeSpec; prober: Prober };
  /** A browser probe opening mail-lab's message in alice's INBOX; `extra` keys replace the defaults. */
  mailMode(extra?: Record<string, unknown>, expect?: string[]): { spec: BrowserSpec & CommonProbeSpec; prober: Prober };
  /** Closes the probes made so far (each has its own Chromium): after each test, so idle browsers do not pile up. */
  closeProbers(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBrowserLab(): Promise<BrowserLab> {
  const lab = await startTestMailLab();
  const shots = await makeTempDir('scaiprobe-shots-');
  const recent = new RecentItems();
  const probers: Prober[] = [];
  const landing = (name: string) => `${lab.apiUrl}/landing/${name}`;

  const sendProbeMail = async (tracking: boolean, extraHtml = '') => {
    const spec = mailSpec(
      {
        send: {
          api: lab.apiUrl,
          apiKey: 'SG.lab-tenant-a.key',
          from: 'probe@send.example.test',
          html: `<html><body><p>Probe {{token}}</p><p><a href="${landing('welcome')}">Welcome</a> <a href="${landing('pricing')}?from=mail&amp;t={{token}}">Pricing</a>${extraHtml}</p></body></html>`,
          ...(tracking ? { tracking: { clicks: true, opens: true } } : {}),
        },
        seeds: [seed('seed-a', 'alice', lab.imapPort)],
        resolver: lab.dnsServer,
        keepLatest: true,
      },
      { name: 'mail-lab', expect: ['missing == 0'] },
    );
    const prober = mailKind.create(spec, deps());
    try {
      const record = await run(spec, prober, recent);
      assert.equal(record.status, 'pass', record.message);
      return String(record.observations.token);
    } finally {
      await prober.close?.();
    }
  };

  // Chromium on a busy test host takes seconds per page.
  const browserProbe = (raw: Record<string, unknown>, expect: string[] = ['failed == 0'], timeoutMs = 30_000) => {
    const spec = {
      ...specFor(browserKind, { screenshots: { dir: shots.dir }, ...raw }, expect),
      name: 'browser-test',
      timeout: timeoutMs,
    } as BrowserSpec & CommonProbeSpec;
    const prober = browserKind.create(spec, deps(recent));
    probers.push(prober);
    return { spec, prober };
  };

  const mailMode = (extra: Record<string, unknown> = {}, expect?: string[]) =>
    browserProbe(
      {
        mail: {
          probe: 'mail-lab',
          imap: { host: '127.0.0.1', port: lab.imapPort, secure: false, user: 'alice', pass: 'alicepw' },
        },
        expectLanding: `^${lab.apiUrl.replace(/\./g, '\\.')}/landing/(welcome|pricing)`,
        stats: { api: lab.apiUrl, apiKey: 'SG.lab-tenant-a.key' },
        ...extra,
      },
      expect,
    );

  return {
    lab,
    shotsDir: shots.dir,
    recent,
    landing,
    sendProbeMail,
    browserProbe,
    mailMode,
    async closeProbers() {
      for (const prober of probers.splice(0)) await prober.close?.();
    },
    async stop() {
      for (const prober of probers.splice(0)) await prober.close?.();
      await lab.stop();
      await shots.remove();
    },
  };
}
