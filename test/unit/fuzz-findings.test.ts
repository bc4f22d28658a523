import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'dns-packet';
import { judgeAuthentication, parseHeaderBlock } from '../../src/protocols/mail-auth/auth-results.ts';
import { evaluateSpf } from '../../src/protocols/mail-auth/spf.ts';
import { worldResolver } from '../helpers/spf-world.ts';
import { evaluateAssertions, parseAssertion } from '../../src/core/assertions.ts';
import { evaluatePromExpr, parsePromExpr } from '../../src/protocols/prometheus/expr.ts';
import { parsePromText, seriesKey, splitSeriesKey } from '../../src/protocols/prometheus/text.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { encodeQuery, MalformedReply, parseReply } from '../../src/protocols/dns/codec.ts';

/** Inputs the fuzz targets (test/fuzz/) found, each kept as the test that would have caught it. */

describe('Authentication-Results: header unfolding is linear', () => {
  test('a field folded over 8,000 lines (256 KiB) is read in well under a second (was 16 s, 640 KiB took 103 s)', () => {
    const text = `Authentication-Results: mx.example.test; spf=pass\r\nReceived: from x${'\r\n\tdkim=pass header.d=a.example;'.repeat(8000)}\r\nSubject: x\r\n\r\n`;
    let fastest = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const fields = parseHeaderBlock(text);
      fastest = Math.min(fastest, performance.now() - started);
      assert.equal(fields.length, 3);
      assert.equal(fields[1]?.value.length, 'from x'.length + 8000 * ' dkim=pass header.d=a.example;'.length);
      assert.equal(judgeAuthentication(fields, 'mx.example.test').spf, 'pass');
    }
    assert.ok(fastest < 500, `${fastest.toFixed(0)} ms`);
  });

  test('folding keeps values as before: lines trimmed and joined by one space, empty continuation lines dropped', () => {
    assert.deepEqual(parseHeaderBlock('A: one\r\n  two \r\n\t\r\n\tthree\r\nB:\r\n x\r\n\r\nbody'), [
      { name: 'a', value: 'one two three' },
      { name: 'b', value: 'x' },
    ]);
  });
});

describe('SPF: terms the grammar refuses are permerrors', () => {
  const check = async (ip: string, record: string) =>
    evaluateSpf({ ip, mailFrom: 'postmaster@d.test' }, worldResolver({ txt: { 'd.test': [record] } }));

  test('"ip6:<addr>//64" was read as /0 and passed every IPv6 address', async () => {
    assert.equal((await check('2001:db8:ffff::1', 'v=spf1 ip6:2001:db8::1//64 -all')).result, 'permerror');
    assert.equal((await check('192.0.2.9', 'v=spf1 +ip4:227.242.157.251//109 -all')).result, 'permerror');
  });

  test('a CIDR length beyond 32 or 128 was a temperror (a RangeError while matching); it is a permerror', async () => {
    for (const record of [
      'v=spf1 ip6:2001:db8::2/3418',
      'v=spf1 mx/33',
      'v=spf1 a//129',
      'v=spf1 ip4:192.0.2.0/33 -all',
    ]) {
      const outcome = await check('192.0.2.1', record);
      assert.deepEqual([outcome.result, outcome.reason], ['permerror', 'invalid-cidr'], record);
    }
  });

  test('include and exists need a domain; all takes none', async () => {
    for (const record of ['v=spf1 include -all', 'v=spf1 exists -all', 'v=spf1 all:x.test'])
      assert.equal((await check('192.0.2.1', record)).result, 'permerror', record);
  });
});

describe('assertions: what the configuration accepts never throws at evaluation', () => {
  test('`x matches "(bad"` was accepted and then threw SyntaxError after every run (the run was lost); it is a configuration error', () => {
    assert.throws(
      () => parseAssertion('d80z.O_Fo.h_ matches "g)M= 0^mS"'),
      /^Error: cannot read ""g\)M= 0\^mS"": Invalid regular expression/,
    );
    assert.throws(() => parseAssertion('x matches "*kg"'), /cannot read/);
    assert.deepEqual(
      evaluateAssertions([{ expr: 'x matches "^a.c$"', soft: false }], { x: 'abc' }).map((o) => o.ok),
      [true],
    );
  });

  test('bad regex flags and bad JSON escapes name the literal instead of throwing a bare SyntaxError', () => {
    assert.throws(() => parseAssertion('x matches /a/zz'), /^Error: cannot read "\/a\/zz": Invalid flags/);
    assert.throws(() => parseAssertion('x == "\\q"'), /^Error: cannot read ""\\q"": /);
  });
});

describe('probe expressions: depth is bounded', () => {
  for (const [what, text] of [
    ['50,000 nested parentheses', `${'('.repeat(50_000)}up${')'.repeat(50_000)}`],
    ['a 45,000-deep right-nested sum', `${'(1 + '.repeat(45_000)}1${')'.repeat(45_000)}`],
    [
      'a chain of 42,841 additions (parsed, then overflowed the stack when evaluated)',
      Array.from({ length: 42_841 }, () => 'up').join(' + '),
    ],
  ] as const) {
    test(`${what}: a parse error, not RangeError`, () => {
      assert.throws(
        () => parsePromExpr(text),
        (error: Error) =>
          error.constructor === Error &&
          /(nested more than 64 deep|more than 256 operators) at column \d+ of "/.test(error.message) &&
          error.message.length < 400,
      );
    });
  }

  test('the limits leave room: 64 levels and 256 operators parse and evaluate', () => {
    const nested = parsePromExpr(`${'('.repeat(64)}2${')'.repeat(64)}`);
    assert.equal(evaluatePromExpr(nested, { scrapes: [], now: 0 }), 2);
    const chain = parsePromExpr(Array.from({ length: 257 }, () => '1').join(' + '));
    assert.equal(evaluatePromExpr(chain, { scrapes: [], now: 0 }), 257);
  });
});

describe('Prometheus series keys', () => {
  test('a label value with a TAB or a control character comes back from its series key (JSON escapes broke it)', () => {
    const page = parsePromText('m{path="tab\there",x="\u0001\\\\\\"\\n"} 1\n');
    const sample = page.samples[0];
    assert.deepEqual(sample?.labels, { path: 'tab\there', x: '\u0001\\"\n' });
    assert.deepEqual(splitSeriesKey(seriesKey(sample?.name ?? '', sample?.labels ?? {})), {
      name: 'm',
      labels: { path: 'tab\there', x: '\u0001\\"\n' },
    });
  });
});

describe('config loader: YAML alias errors are configuration errors', () => {
  const load = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'scaiprobe-findings-'));
    try {
      const file = join(dir, 'probes.yaml');
      writeFileSync(file, text);
      return loadConfig(file, {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test('an alias bomb threw ReferenceError (validate crashed with no file name); it is a YAML error of the file', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    assert.throws(
      () => load(`${lines.join('\n')}\nprobes: []\n`),
      (error: unknown) =>
        error instanceof ConfigError &&
        /probes\.yaml: YAML: aliases expand too far \(Excessive alias count/.test(error.message),
    );
  });

  test('an alias with no anchor', () => {
    assert.throws(
      () => load('probes: *a\n'),
      (error: unknown) => error instanceof ConfigError && /probes\.yaml: YAML: Unresolved alias/.test(error.message),
    );
  });

  test('an alias inside the node it names made a value that contains itself: validate overflowed its stack; it is a YAML error with its place', () => {
    assert.throws(
      () => load('&a \n<<: *a\n'),
      (error: unknown) =>
        error instanceof ConfigError &&
        /probes\.yaml:2:\d+: <<: YAML: an alias here refers to a node that contains it/.test(error.message),
    );
    assert.throws(
      () => load('probes:\n  - &p { name: x, kind: http, url: "http://127.0.0.1/", again: [*p] }\n'),
      (error: unknown) =>
        error instanceof ConfigError && /probes\[0\]\.again\[0\]: YAML: an alias here refers/.test(error.message),
    );
  });

  test('an anchor used twice side by side is not a cycle', () => {
    const config = load(
      'probes:\n  - { name: a, kind: http, url: "http://127.0.0.1/", headers: &h { x-a: "1" } }\n  - { name: b, kind: http, url: "http://127.0.0.1/", headers: *h }\n',
    );
    assert.deepEqual(
      config.probes.map((probe) => (probe as { headers?: unknown }).headers),
      [{ 'x-a': '1' }, { 'x-a': '1' }],
    );
  });
});

describe('DNS replies', () => {
  test('a record whose decoder read past its end no longer restarts the walk at byte 0 (1.4 s and 256 garbage answers for 600 bytes)', () => {
    // A mutated reply the fuzzer found: ANCOUNT 256, NSCOUNT 1280, a TXT whose strings overrun its RDLENGTH.
    const reply = Buffer.from(
      '189e1786000001000500000003027a470746305842417866022d2d000010000105313964327904616461660b65653931796532323961660c6239626731686678617879670000100001f51d53610010055b58212b5e09654b2e2e643a78557b02667802393907686830316731660532613265640000010001063e3caf0004cc875aea0c3079676868653168326766610930322d31392d647a640c2d6865312d787a687979786302637800001c0001567cc6080010c72c625885cf2c0043128444e887c35f036765640731656163622d6205322d686479013100000200010a01daf40011036263640b39612d67322d326764326100066361636361620163067a6361666331086539647a6830646700000f0001fd6c4ec1000fa04c0b61623163316864647a323100096479303161663261680c68317931667a642d327861640231390000060001d0d30fc2005a09682d636164642d61300b6461396539617879667a650b63636661656379657839620b313068673179327966302d000c633068792d78396730616639087a782d6830323262008630d1539d9821d412a73d5265f521110aa45c800c2d30686331786867666732790778626830666366082d31626862397a68047967306200001c0001879f12cd0010edcb84fc483fdc007a5ca274cd13d62d00002904d0000000000000',
      'hex',
    );
    const query = encodeQuery('1z', 'AAAA', 32023, false, true);
    let fastest = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      assert.throws(() => parseReply(reply, query), MalformedReply);
      fastest = Math.min(fastest, performance.now() - started);
    }
    assert.ok(fastest < 20, `${fastest.toFixed(1)} ms`);
  });

  test('a record whose data does not fill its RDLENGTH is malformed (an A record of 6 bytes)', () => {
    const query = encodeQuery('x.test', 'A', 9, false, false);
    const good = encode({
      type: 'response',
      id: 9,
      flags: 0x400,
      questions: [{ name: 'x.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'x.test', type: 'A', ttl: 1, data: '192.0.2.1' }],
    });
    assert.deepEqual(
      parseReply(good, query).answers.map((a) => (a as { data: string }).data),
      ['192.0.2.1'],
    );
    const long = Buffer.concat([good, Buffer.from([0, 0])]);
    long.writeUInt16BE(6, good.length - 6);
    assert.throws(() => parseReply(long, query), /does not fill its RDLENGTH/);
  });

  test('a record dns-packet cannot decode is a MalformedReply (the one error the wire layer expects)', () => {
    const query = encodeQuery('x.test', 'A', 7, false, false);
    const reply = encode({
      type: 'response',
      id: 7,
      flags: 0x400,
      questions: [{ name: 'x.test', type: 'A', class: 'IN' }],
      answers: [{ name: 'x.test', type: 'TXT', ttl: 1, data: ['abc'] }],
    });
    // The TXT string's length byte claims more than its RDLENGTH holds.
    reply.writeUInt8(200, reply.length - 4);
    assert.throws(
      () => parseReply(reply, query),
      (error: unknown) => error instanceof MalformedReply && /malformed record at byte \d+/.test(error.message),
    );
  });
});
