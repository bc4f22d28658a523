import { test, describe, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { decode, encode, streamEncode, type Answer, type DecodedPacket, type Packet } from 'dns-packet';

const dataOf = (answer: Answer | undefined): unknown => (answer as { data?: unknown } | undefined)?.data;
import { DnsClient, parseServer, type DnsServer } from '../../src/protocols/dns/wire.ts';
import { ProbeFailure } from '../../src/core/errors.ts';
import { systemClock } from '../../src/util/clock.ts';

/**
 * A fixture DNS server on loopback whose behaviour per query name is scripted:
 * garbage, mismatched ids, wrong questions, truncation, silence.
 */
type Behaviour = (query: DecodedPacket, reply: (packet: Packet | Buffer) => void) => void;

function answerFor(query: DecodedPacket, extra: Partial<Packet> = {}): Packet {
  const question = query.questions?.[0];
  return {
    type: 'response',
    id: query.id,
    flags: 1024,
    questions: query.questions,
    answers: [{ name: question?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.10' }],
    ...extra,
  };
}

const behaviours: Record<string, Behaviour> = {
  'ok.test': (q, reply) => reply(answerFor(q)),
  'silent.test': () => undefined,
  'garbage-then-ok.test': (q, reply) => {
    reply(Buffer.from('not dns at all'));
    reply(Buffer.from([0xde, 0xad]));
    reply(answerFor(q));
  },
  'wrong-id-then-ok.test': (q, reply) => {
    reply(
      answerFor(q, {
        id: ((q.id ?? 0) + 1) % 65536,
        answers: [{ name: 'wrong-id-then-ok.test', type: 'A', ttl: 1, data: '10.6.6.6' }],
      }),
    );
    reply(answerFor(q));
  },
  'wrong-question-then-ok.test': (q, reply) => {
    reply(answerFor(q, { questions: [{ name: 'other.test', type: 'A', class: 'IN' }], answers: [] }));
    reply(answerFor(q));
  },
  'malformed.test': (q, reply) => {
    // The right id in a header that promises records which are not there.
    const bytes = Buffer.alloc(12);
    bytes.writeUInt16BE(q.id ?? 0, 0);
    bytes.writeUInt16BE(0x8400, 2);
    bytes.writeUInt16BE(1, 4);
    bytes.writeUInt16BE(5, 6);
    reply(Buffer.concat([bytes, Buffer.from([0x03, 0x61])]));
  },
  'drop-first.test': (() => {
    const seen = new Set<number>();
    return (q: DecodedPacket, reply: (packet: Packet) => void) => {
      if (seen.has(q.id ?? -1)) reply(answerFor(q));
      else seen.add(q.id ?? -1);
    };
  })(),
  'big.test': (q, reply) => reply(answerFor(q, { flags: 1024 | 512, answers: [] })),
  // Glue on both sides of the OPT record: OPT is skipped undecoded, the records around it are kept.
  'opt-glue.test': (q, reply) =>
    reply(
      answerFor(q, {
        additionals: [
          { name: 'ns1.opt-glue.test', type: 'A', ttl: 60, data: '192.0.2.53' },
          { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] },
          { name: 'ns2.opt-glue.test', type: 'A', ttl: 60, data: '192.0.2.54' },
        ],
      } as Partial<Packet>),
    ),
  'cut-opt.test': (q, reply) => {
    // An OPT record whose RDLENGTH runs past the end of the message.
    const whole = encode(
      answerFor(q, {
        additionals: [
          { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] },
        ],
      } as unknown as Partial<Packet>),
    );
    whole.writeUInt16BE(40, whole.length - 2);
    reply(whole);
  },
};

function tcpAnswer(query: DecodedPacket): Packet {
  const answers = Array.from({ length: 40 }, (_, i) => ({
    name: 'big.test',
    type: 'TXT' as const,
    ttl: 60,
    data: `record ${i} ${'x'.repeat(60)}`,
  }));
  return { type: 'response', id: query.id, flags: 1024, questions: query.questions, answers };
}

describe('dns wire layer against a scripted fixture socket', () => {
  let udp: dgram.Socket;
  let tcp: net.Server;
  let server: DnsServer;
  let client: DnsClient;
  /** Every query the fixture received: its id and the client's source port. */
  const seen: Array<{ id: number; port: number; name: string }> = [];

  before(async () => {
    udp = dgram.createSocket('udp4');
    udp.on('message', (message, rinfo) => {
      const query = decode(message);
      const name = query.questions?.[0]?.name ?? '';
      seen.push({ id: query.id ?? -1, port: rinfo.port, name });
      const reply = (packet: Packet | Buffer) =>
        udp.send(Buffer.isBuffer(packet) ? packet : encode(packet), rinfo.port, rinfo.address);
      if (name === 'cross.test') {
        // A spoofed answer (right id, right source) to each of the client's other recent ports, then the real one.
        const others = new Set(
          seen
            .slice(-60)
            .map((s) => s.port)
            .filter((port) => port !== rinfo.port),
        );
        for (const port of others)
          udp.send(
            encode(answerFor(query, { answers: [{ name, type: 'A', ttl: 1, data: '10.6.6.6' }] })),
            port,
            rinfo.address,
          );
        setTimeout(() => reply(answerFor(query)), 30);
        return;
      }
      const echo = /^n(\d+)\.echo\.test$/.exec(name);
      if (echo)
        reply(
          answerFor(query, {
            answers: [
              { name, type: 'A', ttl: 1, data: `10.0.${Math.floor(Number(echo[1]) / 256)}.${Number(echo[1]) % 256}` },
            ],
          }),
        );
      else behaviours[name]?.(query, reply);
    });
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const port = udp.address().port;
    tcp = net.createServer((socket) => {
      socket.once('data', (chunk) => {
        const query = decode(chunk.subarray(2));
        socket.end(streamEncode(tcpAnswer(query)));
      });
    });
    // The same port number over TCP, as a real server would have.
    await new Promise<void>((resolve) => tcp.listen(port, '127.0.0.1', resolve));
    server = parseServer(`127.0.0.1:${port}`);
    client = new DnsClient({ clock: systemClock });
  });

  after(async () => {
    await client.close();
    udp.close();
    await new Promise((resolve) => tcp.close(resolve));
  });

  const ask = (name: string, extra: { timeoutMs?: number; retries?: number; signal?: AbortSignal } = {}) =>
    client.query({
      name,
      type: name === 'big.test' ? 'TXT' : 'A',
      server,
      signal: extra.signal ?? AbortSignal.timeout(5000),
      timeoutMs: extra.timeoutMs ?? 300,
      retries: extra.retries ?? 1,
    });

  test('parses server addresses', () => {
    assert.deepEqual(parseServer('127.0.0.1:5300'), { host: '127.0.0.1', port: 5300, label: '127.0.0.1:5300' });
    assert.deepEqual(parseServer('[::1]:53'), { host: '::1', port: 53, label: '::1' });
    assert.equal(parseServer('192.0.2.1').port, 53);
    assert.throws(() => parseServer('ns1.example.test'), /not an IP address/);
  });

  test('a plain answer', async () => {
    const reply = await ask('ok.test');
    assert.equal(reply.rcode, 'NOERROR');
    assert.equal(reply.aa, true);
    assert.equal(dataOf(reply.answers[0]), '192.0.2.10');
    assert.equal(reply.transport, 'udp');
  });

  test('garbage before the real reply is ignored', async () => {
    const shortBefore = client.ignored.short;
    const reply = await ask('garbage-then-ok.test');
    assert.equal(dataOf(reply.answers[0]), '192.0.2.10');
    assert.ok(client.ignored.short > shortBefore);
  });

  test('a reply with another id is ignored, the matching one is used', async () => {
    const reply = await ask('wrong-id-then-ok.test');
    assert.deepEqual(reply.answers.map(dataOf), ['192.0.2.10']);
  });

  test('a reply with the right id but another question is ignored', async () => {
    const before = client.ignored.wrongQuestion;
    const reply = await ask('wrong-question-then-ok.test');
    assert.equal(dataOf(reply.answers[0]), '192.0.2.10');
    assert.equal(client.ignored.wrongQuestion, before + 1);
  });

  test('a malformed reply with the right id is a PROTOCOL error, not a crash', async () => {
    await assert.rejects(
      ask('malformed.test'),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'PROTOCOL',
    );
  });

  test('the OPT record is dropped from the additional section, the glue around it kept', async () => {
    const reply = await ask('opt-glue.test');
    assert.deepEqual(
      reply.additionals.map((record) => [record.name, record.type, dataOf(record)]),
      [
        ['ns1.opt-glue.test', 'A', '192.0.2.53'],
        ['ns2.opt-glue.test', 'A', '192.0.2.54'],
      ],
    );
  });

  test('an OPT record cut short is a PROTOCOL error', async () => {
    await assert.rejects(
      ask('cut-opt.test'),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'PROTOCOL' && /cut short/.test(error.message),
    );
  });

  test('a lost packet is recovered by a retry', async () => {
    const reply = await ask('drop-first.test', { timeoutMs: 200, retries: 2 });
    assert.equal(reply.tries, 2);
    assert.equal(dataOf(reply.answers[0]), '192.0.2.10');
  });

  test('a server that never answers times out after every try, within the per-try budget', async () => {
    const started = performance.now();
    await assert.rejects(
      ask('silent.test', { timeoutMs: 150, retries: 2 }),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'TIMEOUT' && /3 tries/.test(error.message),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 440 && elapsed < 1500, `took ${elapsed} ms`);
  });

  test('the run signal ends the wait at once', async () => {
    const started = performance.now();
    await assert.rejects(
      ask('silent.test', { timeoutMs: 5000, retries: 3, signal: AbortSignal.timeout(100) }),
      (error: unknown) => error instanceof ProbeFailure && error.code === 'TIMEOUT',
    );
    assert.ok(performance.now() - started < 1000);
  });

  test('a truncated reply is asked again over TCP', async () => {
    const reply = await ask('big.test');
    assert.equal(reply.transport, 'tcp');
    assert.equal(reply.answers.length, 40);
  });

  test('many queries in flight on one client each get their own answer', async () => {
    const replies = await Promise.all(
      Array.from({ length: 500 }, () => ask('ok.test', { timeoutMs: 2000, retries: 2 })),
    );
    assert.equal(replies.length, 500);
    assert.ok(replies.every((reply) => dataOf(reply.answers[0]) === '192.0.2.10'));
  });

  test('query ids come from the CSPRNG: a predictable Math.random does not predict them', async () => {
    const random = mock.method(Math, 'random', () => 0.5);
    try {
      const from = seen.length;
      for (let i = 0; i < 20; i++) await ask('ok.test');
      const ids = seen.slice(from).map((s) => s.id);
      assert.equal(ids.length, 20);
      assert.ok(new Set(ids).size >= 19, `ids ${ids.join(' ')}`);
      assert.ok(!ids.includes(32768), 'an id equal to Math.random() * 65536');
    } finally {
      random.mock.restore();
    }
    // Over many queries they spread over the 16 bits as random draws do (about 30 repeats in 2,000 by the birthday bound).
    const from = seen.length;
    for (let batch = 0; batch < 20; batch++)
      await Promise.all(Array.from({ length: 100 }, () => ask('ok.test', { timeoutMs: 2000, retries: 2 })));
    const ids = seen.slice(from).map((s) => s.id);
    assert.ok(new Set(ids).size > 1900, `${new Set(ids).size} distinct ids in ${ids.length}`);
    assert.ok(Math.max(...ids) > 60_000 && Math.min(...ids) < 5_000);
  });

  test('queries leave from a rotating pool of source ports, each serving a few hundred at most', async () => {
    const fresh = new DnsClient({ clock: systemClock });
    const from = seen.length;
    try {
      for (let batch = 0; batch < 40; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, () =>
            fresh.query({
              name: 'ok.test',
              type: 'A',
              server,
              signal: AbortSignal.timeout(10_000),
              timeoutMs: 2000,
              retries: 2,
            }),
          ),
        );
      }
    } finally {
      await fresh.close();
    }
    const perPort = new Map<number, number>();
    for (const { port } of seen.slice(from)) perPort.set(port, (perPort.get(port) ?? 0) + 1);
    const counts = [...perPort.values()];
    // Each port takes 256 to 768 queries (512 on average) before a fresh one replaces it.
    assert.ok(perPort.size >= 8, `4,000 queries from ${perPort.size} ports`);
    assert.ok(Math.max(...counts) <= 800, `a port served ${Math.max(...counts)} queries`);
  });

  test("a reply on another of the client's ports is ignored, even with the right id and source", async () => {
    await Promise.all(Array.from({ length: 60 }, () => ask('ok.test', { timeoutMs: 2000 })));
    const before = client.ignored.wrongPort;
    const reply = await ask('cross.test', { timeoutMs: 2000 });
    assert.equal(dataOf(reply.answers[0]), '192.0.2.10');
    assert.ok(client.ignored.wrongPort > before, 'the spoofed answers reached other ports and were dropped');
  });

  test('a burst on a fresh client: no two queries share an id while its socket connects', async () => {
    const fresh = new DnsClient({ clock: systemClock });
    try {
      const replies = await Promise.all(
        Array.from({ length: 3000 }, (_, k) =>
          fresh.query({
            name: `n${k}.echo.test`,
            type: 'A',
            server,
            signal: AbortSignal.timeout(20_000),
            timeoutMs: 2000,
            retries: 3,
          }),
        ),
      );
      replies.forEach((reply, k) => assert.equal(dataOf(reply.answers[0]), `10.0.${Math.floor(k / 256)}.${k % 256}`));
      assert.equal(fresh.ignored.wrongQuestion, 0);
    } finally {
      await fresh.close();
    }
  });
});
