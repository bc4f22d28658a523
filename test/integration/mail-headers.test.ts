import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mailKind } from '../../src/probers/mail.ts';
import type { Prober } from '../../src/probers/kind.ts';
import { deps, mailboxContents, mailSpec, run, seed, startTestMailLab, type TestMailLab } from '../helpers/mail-lab.ts';

/** A message as anyone on the internet could send a seed: a folded header of `bytes` bytes. */
function hostileMessage(bytes: number, subject: string, extraHeader = ''): Buffer {
  const line = '\tdkim=pass header.d=attacker.example header.s=s1;\r\n';
  const folded = line.repeat(Math.ceil(bytes / line.length));
  return Buffer.from(
    `Authentication-Results: mx.example.test;\r\n${folded}\tspf=pass\r\n${extraHeader}From: stranger@attacker.example\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n\r\nhello\r\n`,
    'latin1',
  );
}

// A private Dovecot + ingress + ScaiSend stand-in; messages from strangers are stored with dovecot-lda directly.
describe('mail kind: header blocks from outside', () => {
  let lab: TestMailLab;
  const probers: Prober[] = [];

  before(async () => {
    lab = await startTestMailLab();
  });
  after(async () => {
    await lab?.stop();
  });
  afterEach(async () => {
    for (const prober of probers.splice(0)) await prober.close?.();
  });

  const probe = (extra: Record<string, unknown> = {}, name = 'mail-headers') => {
    const spec = mailSpec(
      {
        send: { api: lab.apiUrl, apiKey: 'SG.lab-tenant-a.key', from: 'probe@send.example.test' },
        seeds: [seed('seed-a', 'alice', lab.imapPort)],
        ...extra,
      },
      { name, expect: ['inbox == 1'] },
    );
    const prober = mailKind.create(spec, deps());
    probers.push(prober);
    return { spec, prober };
  };

  // The old watcher read and unfolded every new message's whole header block before looking for
  // its token: these two 5 MiB headers blocked the event loop for minutes (the test timed out).
  test("a stranger's 5 MiB folded header arriving while the inbox is watched: the next run passes, the message is left alone", async () => {
    const { spec, prober } = probe();
    const first = await run(spec, prober);
    assert.equal(first.status, 'pass', first.message);
    // The watch stays open between runs: these arrive with an EXISTS, as mail from strangers does.
    await lab.lab.dovecot.deliver(
      'alice',
      'INBOX',
      hostileMessage(5 * 1024 * 1024, 'no token here'),
      'stranger@attacker.example',
    );
    await lab.lab.dovecot.deliver(
      'alice',
      'INBOX',
      hostileMessage(5 * 1024 * 1024, 'another', 'X-Scaiprobe-Id: sp-0123456789abcdef\r\n'),
      'stranger@attacker.example',
    );
    const second = await run(spec, prober);
    assert.equal(second.status, 'pass', second.message);
    assert.equal(second.observations['seed.seed-a.spf'], 'pass');
    const left = await mailboxContents(lab.imapPort, 'alice');
    assert.deepEqual(left.map((message) => message.subject).sort(), ['another', 'no token here']);
  });

  test('a probe message whose header block exceeds maxHeaderBytes: judged from its first bytes (the provider writes on top), and the run warns', async () => {
    const send = {
      api: lab.apiUrl,
      apiKey: 'SG.lab-tenant-a.key',
      from: 'probe@send.example.test',
      headers: { 'X-Padding': 'padding '.repeat(500) },
    };
    const { spec, prober } = probe({ send, maxHeaderBytes: 1024 }, 'mail-headers-capped');
    const record = await run(spec, prober);
    assert.equal(record.status, 'warn', record.message);
    assert.equal(record.observations['seed.seed-a.placement'], 'inbox');
    assert.equal(record.observations['seed.seed-a.spf'], 'pass');
    assert.equal(record.observations['seed.seed-a.dmarc'], 'pass');
    assert.match(
      record.message,
      /seed seed-a: the probe message's header block exceeds maxHeaderBytes \(1024\); authentication was judged from its first 1024 bytes/,
    );
  });

  test('maxHeaderBytes defaults to 256 KiB and is validated', () => {
    assert.equal(probe().spec.maxHeaderBytes, 256 * 1024);
    assert.throws(() => probe({ maxHeaderBytes: 10 }), /maxHeaderBytes/);
  });
});
