import fc from 'fast-check';
import { decode, encode, type Answer, type Packet, type RecordType } from 'dns-packet';
import { encodeQuery, MalformedReply, parseReply, type QueryWire } from '../../src/protocols/dns/codec.ts';
import { mutatedBytes, sameAs, Violation, type FuzzTarget } from './harness.ts';

/**
 * DNS reply decoding (protocols/dns/codec.ts parseReply, what the wire layer runs on every
 * datagram). Inputs: well-formed replies encoded by dns-packet (they must
 * parse, and agree record for record with dns-packet's own full decoder),
 * the same replies mutated (flipped, cut, spliced bytes), and a valid header
 * followed by random bytes. Only MalformedReply may be thrown.
 */

const label = fc.string({ unit: fc.constantFrom(...Array.from('abcdefghxyz0129-')), minLength: 1, maxLength: 12 });
const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const ipV6 = fc.array(u16, { minLength: 8, maxLength: 8 }).map((groups) => groups.map((g) => g.toString(16)).join(':'));

const record: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({ name, type: fc.constant('A'), ttl: u32, data: fc.ipV4() }),
  fc.record({ name, type: fc.constant('AAAA'), ttl: u32, data: ipV6 }),
  fc.record({
    name,
    type: fc.constant('TXT'),
    ttl: u32,
    data: fc.array(fc.string({ maxLength: 80 }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ name, type: fc.constant('MX'), ttl: u32, data: fc.record({ preference: u16, exchange: name }) }),
  fc.record({ name, type: fc.constantFrom('NS', 'CNAME', 'PTR'), ttl: u32, data: name }),
  fc.record({
    name,
    type: fc.constant('SOA'),
    ttl: u32,
    data: fc.record({ mname: name, rname: name, serial: u32, refresh: u32, retry: u32, expire: u32, minimum: u32 }),
  }),
  fc.record({
    name,
    type: fc.constant('SRV'),
    ttl: u32,
    data: fc.record({ priority: u16, weight: u16, port: u16, target: name }),
  }),
);

const OPT = {
  name: '.',
  type: 'OPT',
  udpPayloadSize: 1232,
  extendedRcode: 0,
  ednsVersion: 0,
  flags: 0,
  options: [],
} as unknown as Answer;

interface Reply {
  /** What was asked. */
  query: { name: string; type: RecordType; id: number };
  /** The question the reply carries (another name or type now and then, case randomized), or none. */
  question: { name: string; type: RecordType } | null;
  rcode: number;
  flags: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  opt: boolean;
}

const queryType = fc.constantFrom<RecordType>('A', 'AAAA', 'TXT', 'MX', 'NS', 'SOA', 'SRV');

const reply: fc.Arbitrary<Reply> = fc
  .record({
    query: fc.record({ name, type: queryType, id: u16 }),
    other: fc.option(fc.record({ name, type: queryType }), { freq: 5 }),
    noQuestion: fc.boolean(),
    caseMask: fc.array(fc.boolean(), { maxLength: 40 }),
    rcode: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 15 })),
    aa: fc.boolean(),
    tc: fc.boolean(),
    answers: fc.array(record, { maxLength: 6 }),
    authorities: fc.array(record, { maxLength: 3 }),
    additionals: fc.array(record, { maxLength: 3 }),
    opt: fc.boolean(),
    optAt: fc.nat(),
  })
  .map((r) => {
    const asked = r.other ?? r.query;
    const question =
      r.noQuestion && r.rcode !== 0
        ? null
        : {
            name: Array.from(asked.name)
              .map((c, i) => (r.caseMask[i] ? c.toUpperCase() : c))
              .join(''),
            type: asked.type,
          };
    const additionals = [...r.additionals];
    if (r.opt) additionals.splice(r.optAt % (additionals.length + 1), 0, OPT);
    return {
      query: r.query,
      question,
      rcode: r.rcode,
      flags: (r.aa ? 0x400 : 0) | (r.tc ? 0x200 : 0),
      answers: r.answers,
      authorities: r.authorities,
      additionals,
      opt: r.opt,
    };
  });

function wireOf(r: Reply): Buffer {
  const packet: Packet = {
    type: 'response',
    id: r.query.id,
    flags: r.flags | r.rcode,
    questions: r.question ? [{ name: r.question.name, type: r.question.type, class: 'IN' }] : [],
    answers: r.answers,
    authorities: r.authorities,
    additionals: r.additionals,
  };
  return encode(packet);
}

function queryOf(r: Reply): QueryWire {
  return encodeQuery(r.query.name, r.query.type, r.query.id, false, true);
}

type Input =
  | { case: 'valid'; reply: Reply }
  | { case: 'mutated'; reply: Reply; bytes: Uint8Array }
  | { case: 'random'; reply: Reply; bytes: Uint8Array };

const valid = reply.map((r): Input => ({ case: 'valid', reply: r }));
const mutatedReply = reply.chain((r) =>
  mutatedBytes(fc.constant(Uint8Array.from(wireOf(r)))).map((bytes): Input => ({ case: 'mutated', reply: r, bytes })),
);
/** The reply's own header (right id, counts) over random bytes. */
const randomBody = fc.tuple(reply, fc.uint8Array({ maxLength: 300 })).map(([r, body]): Input => ({
  case: 'random',
  reply: r,
  bytes: Uint8Array.from([...wireOf(r).subarray(0, 12), ...body]),
}));

function withoutOpt(records: Answer[] | undefined): Answer[] {
  return (records ?? []).filter((record) => record.type !== 'OPT');
}

export const dnsReplyTarget: FuzzTarget<Input> = {
  name: 'dns-reply',
  subject: 'parseReply (src/protocols/dns/codec.ts)',
  arbitrary: fc.oneof(
    { arbitrary: valid, weight: 3 },
    { arbitrary: mutatedReply, weight: 4 },
    { arbitrary: randomBody, weight: 1 },
  ),
  check(input, timed) {
    const query = queryOf(input.reply);
    const message = input.case === 'valid' ? wireOf(input.reply) : Buffer.from(input.bytes);
    let parsed;
    try {
      parsed = timed(() => parseReply(message, query));
    } catch (error) {
      if (!(error instanceof MalformedReply)) throw error;
      if (input.case === 'valid') throw new Violation(`a well-formed reply was refused: ${error.message}`);
      return;
    }
    let reference;
    try {
      reference = decode(message);
    } catch {
      // dns-packet's whole-message decoder is stricter (it decodes OPT options and question names fully).
      if (input.case === 'valid') throw new Violation('dns-packet cannot decode its own encoding');
      return;
    }
    sameAs(parsed.answers, reference.answers ?? [], 'answers');
    sameAs(parsed.authorities, reference.authorities ?? [], 'authorities');
    if (input.case !== 'valid') return;
    const r = input.reply;
    sameAs(parsed.additionals, withoutOpt(reference.additionals), 'additionals');
    sameAs(
      { id: parsed.id, rcode: parsed.rcode, aa: parsed.aa, tc: parsed.tc },
      {
        id: r.query.id,
        rcode: (reference as { rcode?: string }).rcode,
        aa: (r.flags & 0x400) !== 0,
        tc: (r.flags & 0x200) !== 0,
      },
      'header',
    );
    const expected = r.question
      ? r.question.name.toLowerCase() === r.query.name.toLowerCase() && r.question.type === r.query.type
      : r.rcode !== 0;
    if (parsed.answersQuery !== expected)
      throw new Violation(`answersQuery ${parsed.answersQuery}, expected ${expected}`);
  },
  show(input) {
    const bytes = input.case === 'valid' ? wireOf(input.reply) : Buffer.from(input.bytes);
    return `${input.case} reply to ${input.reply.query.name} ${input.reply.query.type} id ${input.reply.query.id}: ${bytes.toString('hex')}`;
  },
};
