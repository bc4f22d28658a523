// DNS messages on the wire: encoding a query and parsing a reply, malformed ones included.
import { createRequire } from 'node:module';
import type { Answer, RecordType } from 'dns-packet';
import { ProbeFailure } from '../../core/errors.ts';

/**
 * The DNS messages of the wire layer, by hand where it is hot: a query is a
 * fixed header, one question and an optional OPT record, so it is written
 * directly instead of through dns-packet's generic encoder (a third of the
 * per-query CPU at thousands of queries a second). Replies are walked by hand
 * to the records; each record is decoded by dns-packet's record decoder, so
 * record data keeps the shapes the kinds already use.
 */

// dns-packet's record and type codecs exist at run time but are missing from its type declarations.
const require = createRequire(import.meta.url);
const packetCodecs = require('dns-packet') as {
  answer: { decode: ((buf: Buffer, offset: number) => Answer) & { bytes: number } };
};
const typeCodes = require('dns-packet/types.js') as { toType(name: string): number };
const rcodeNames = require('dns-packet/rcodes.js') as { toString(code: number): string };

export const EDNS_UDP_SIZE = 1232;
const HEADER = 12;
const OPT_RECORD = Buffer.from([0, 0, 41, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0, 0, 0]);
/** The same OPT record with the DO bit ("DNSSEC OK", RFC 3225): the server adds RRSIGs and denial records. */
const OPT_RECORD_DO = Buffer.from([0, 0, 41, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0x80, 0, 0, 0]);
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;

export interface QueryWire {
  /** The whole message; its first two bytes are the id. */
  wire: Buffer;
  /** Offset just past the question name: [HEADER, nameEnd) is the name, then 2 bytes of type. */
  nameEnd: number;
}

/**
 * A query message. Throws CONFIG for a name that cannot be a DNS name (an
 * empty label, a label over 63 bytes, more than 255 bytes in all): dns-packet
 * wrote such names as garbage.
 */
export function encodeQuery(
  name: string,
  type: RecordType,
  id: number,
  recursion: boolean,
  edns: boolean,
  dnssecOk = false,
): QueryWire {
  let text = name;
  if (text.endsWith('.')) text = text.slice(0, -1);
  if (text.startsWith('.')) text = text.slice(1);
  const textBytes = text.length === 0 ? 0 : Buffer.byteLength(text);
  const nameBytes = textBytes === 0 ? 1 : textBytes + 2;
  if (nameBytes > 255) throw invalidName(name, 'longer than 255 bytes');
  const nameEnd = HEADER + nameBytes;
  const wire = Buffer.allocUnsafe(nameEnd + 4 + (edns ? OPT_RECORD.length : 0));
  wire.writeUInt16BE(id, 0);
  wire.writeUInt16BE(recursion ? RD : 0, 2);
  wire.writeUInt32BE(0x00010000, 4); // QDCOUNT 1, ANCOUNT 0
  wire.writeUInt32BE(edns ? 1 : 0, 8); // NSCOUNT 0, ARCOUNT
  if (textBytes > 0) {
    // Write the dotted text one byte after the name start, then turn each dot into the next label's length.
    wire.write(text, HEADER + 1, 'utf8');
    let lengthAt = HEADER;
    for (let i = HEADER + 1; i <= HEADER + textBytes; i++) {
      if (wire[i] !== 0x2e) continue;
      setLabelLength(wire, lengthAt, i, name);
      lengthAt = i;
    }
    setLabelLength(wire, lengthAt, HEADER + textBytes + 1, name);
  }
  wire[nameEnd - 1] = 0;
  wire.writeUInt16BE(typeCodes.toType(type), nameEnd);
  wire.writeUInt16BE(1, nameEnd + 2); // class IN
  if (edns) (dnssecOk ? OPT_RECORD_DO : OPT_RECORD).copy(wire, nameEnd + 4);
  return { wire, nameEnd };
}

function setLabelLength(wire: Buffer, at: number, next: number, name: string): void {
  const length = next - at - 1;
  if (length === 0) throw invalidName(name, 'has an empty label');
  if (length > 63) throw invalidName(name, 'has a label longer than 63 bytes');
  wire[at] = length;
}

function invalidName(name: string, why: string): ProbeFailure {
  return new ProbeFailure('CONFIG', `"${name}" is not a valid DNS name: it ${why}`);
}

/** A reply that cannot be read: cut short, a malformed name or record. The wire layer makes it a PROTOCOL failure. */
export class MalformedReply extends Error {
  override readonly name = 'MalformedReply';
}

export interface ParsedReply {
  id: number;
  rcode: string;
  aa: boolean;
  tc: boolean;
  /** QR set and the question is the one asked (or absent in an error reply). */
  answersQuery: boolean;
  answers: Answer[];
  authorities: Answer[];
  /** Without the OPT pseudo-record. */
  additionals: Answer[];
}

/**
 * Walks a reply and decodes its records. Throws MalformedReply (made a
 * PROTOCOL failure by the caller), and nothing else, when the message is cut
 * short or a name or record is malformed. `query` is what was sent: its question is compared byte for
 * byte, ASCII case ignored (servers may echo 0x20-randomized case).
 */
export function parseReply(message: Buffer, query: QueryWire): ParsedReply {
  if (message.length < HEADER)
    throw new MalformedReply(`message of ${message.length} bytes is shorter than a DNS header`);
  const flags = message.readUInt16BE(2);
  const counts = [
    message.readUInt16BE(4),
    message.readUInt16BE(6),
    message.readUInt16BE(8),
    message.readUInt16BE(10),
  ] as const;
  const rcode = rcodeNames.toString(flags & 0x0f);
  let offset = HEADER;
  let questionMatches = counts[0] === 0 ? rcode !== 'NOERROR' : false;
  for (let i = 0; i < counts[0]; i++) {
    const end = skipName(message, offset);
    if (end + 4 > message.length) throw new MalformedReply('question cut short');
    if (i === 0) questionMatches = sameQuestion(message, offset, end, query);
    offset = end + 4;
  }
  const sections: Answer[][] = [[], [], []];
  for (let section = 0; section < 3; section++) {
    const records = sections[section]!;
    for (let i = 0; i < counts[section + 1]!; i++) {
      if (section === 2) {
        // The OPT pseudo-record (our EDNS echoed back in nearly every reply) is dropped: skip it undecoded.
        const optEnd = skipOpt(message, offset);
        if (optEnd > 0) {
          offset = optEnd;
          continue;
        }
      }
      const { record, end } = decodeRecord(message, offset);
      offset = end;
      if (section < 2 || record.type !== 'OPT') records.push(record);
    }
  }
  return {
    id: message.readUInt16BE(0),
    rcode,
    aa: (flags & AA) !== 0,
    tc: (flags & TC) !== 0,
    answersQuery: (flags & QR) !== 0 && questionMatches,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
  };
}

/**
 * One record by dns-packet's decoder, whose errors (RangeError, TypeError,
 * ...) become MalformedReply. The record ends where its RDLENGTH says, and
 * the decoder must have read exactly that: some of its decoders ignore
 * RDLENGTH, and one that reads past the end returns NaN as its length, which
 * sent the walk back to byte 0 for every record the header promised (a
 * 600-byte reply cost a second of CPU and came back as 256 garbage answers).
 */
function decodeRecord(message: Buffer, offset: number): { record: Answer; end: number } {
  const nameEnd = skipName(message, offset);
  if (nameEnd + 10 > message.length) throw new MalformedReply('record cut short');
  const end = nameEnd + 10 + message.readUInt16BE(nameEnd + 8);
  if (end > message.length) throw new MalformedReply('record cut short');
  let record: Answer;
  try {
    record = packetCodecs.answer.decode(message, offset);
  } catch (error) {
    throw new MalformedReply(`malformed record at byte ${offset}: ${(error as Error).message}`);
  }
  if (offset + packetCodecs.answer.decode.bytes !== end)
    throw new MalformedReply(`malformed record at byte ${offset}: its data does not fill its RDLENGTH`);
  return { record, end };
}

/** The offset after an OPT record at `offset` (bounds checked), or 0 when the record there is not OPT. */
function skipOpt(message: Buffer, offset: number): number {
  // OPT's owner is the root: a single zero byte, then TYPE 41, CLASS, TTL, RDLENGTH.
  if (message[offset] !== 0 || offset + 11 > message.length || message.readUInt16BE(offset + 1) !== 41) return 0;
  const end = offset + 11 + message.readUInt16BE(offset + 9);
  if (end > message.length) throw new MalformedReply('record cut short');
  return end;
}

/** The offset after the name at `offset`; a compression pointer ends a name. */
function skipName(message: Buffer, offset: number): number {
  let at = offset;
  for (;;) {
    const length = message[at];
    if (length === undefined) throw new MalformedReply('name cut short');
    if (length === 0) return at + 1;
    if ((length & 0xc0) === 0xc0) {
      if (at + 2 > message.length) throw new MalformedReply('name pointer cut short');
      return at + 2;
    }
    if ((length & 0xc0) !== 0) throw new MalformedReply(`bad label type 0x${length.toString(16)}`);
    at += 1 + length;
  }
}

function sameQuestion(message: Buffer, start: number, end: number, query: QueryWire): boolean {
  const wire = query.wire;
  // A question name compressed by a pointer can only point into the header: it never names what was asked.
  if (end - start !== query.nameEnd - HEADER) return false;
  for (let i = 0; i < end - start; i++) {
    if (lowerAscii(message[start + i]!) !== lowerAscii(wire[HEADER + i]!)) return false;
  }
  return message[end] === wire[query.nameEnd] && message[end + 1] === wire[query.nameEnd + 1];
}

function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte;
}
