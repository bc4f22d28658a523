import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { createScaiSendStandIn } from '../src/lab/scaisend.ts';
import { startMailLab } from '../src/lab/mail-lab.ts';
import type { StoredMessage } from '../src/lab/smtp-ingress.ts';
import { DEFAULT_LAB_PORTS } from '../src/lab/lab.ts';
import { freePort, makeTempDir } from '../src/lab/processes.ts';
const now = () => performance.timeOrigin + performance.now();
const users = { alice: 'a', bob: 'b', carol: 'c' };
const temp = await makeTempDir('exp-');
const scaisend = createScaiSendStandIn();
const ports = { ...DEFAULT_LAB_PORTS, imap: await freePort(), smtp: await freePort() };
const lab = await startMailLab({ dir: temp.dir, ports, scaisend }, users);
const stored: number[] = [];
lab.ingress.events.on('stored', (e: StoredMessage) => { if (e.user === 'alice') stored.push(performance.timeOrigin + e.at); });
async function listener(user: string, breakIdle: boolean) {
  const c = new ImapFlow({ host: '127.0.0.1', port: ports.imap, secure: false, auth: { user, pass: (users as any)[user] }, logger: false, disableAutoIdle: true });
  await c.connect(); await c.mailboxOpen('INBOX');
  const seen: number[] = [];
  c.on('exists', () => { seen.push(now()); if (breakIdle) void c.noop().then(() => c.idle({ whenFree: true })).catch(() => undefined); });
  void c.idle().catch(() => undefined);
  return { c, seen };
}
const A = await listener('alice', false), B = await listener('bob', true), C = await listener('carol', false);
const t = nodemailer.createTransport({ host: '127.0.0.1', port: ports.smtp, secure: false, ignoreTLS: true, pool: true, maxConnections: 1 });
for (const gap of [100, 1500]) {
  const base = stored.length;
  for (let i = 0; i < 12; i++) {
    await t.sendMail({ from: 'x@send.example.test', to: ['alice@example.test', 'bob@example.test', 'carol@example.test'], subject: 's' + i, text: 'x' });
    await new Promise((r) => setTimeout(r, 700 + gap * Math.random()));
  }
  const lat = (s: number[]) => s.slice(base).map((v, i) => Math.round(v - (stored[base + i] ?? NaN))).sort((a, b) => a - b);
  console.log(`gap ${gap === 100 ? 'short (~0.75s cadence)' : 'long (0.7-2.2s)'}: bare alice`, lat(A.seen).join(' '), '\n  breaks-IDLE bob', lat(B.seen).join(' '), '\n  bare carol', lat(C.seen).join(' '));
}
t.close(); for (const x of [A, B, C]) x.c.close(); await lab.stop(); await temp.remove();
