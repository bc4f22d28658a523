// How a run's variable part is kept: whole (JSON text) or as the binary
// difference from an earlier run of the same probe stored whole (its keyframe).
// Most of a passing run repeats its keyframe (status, headers, body); what
// changes from run to run is a few latencies, a Date header and the message.
import { jsonText } from '../util/text.ts';

/** The part of a run that is stored whole or as a difference. */
export interface RunBody {
  message: string;
  observations: Record<string, unknown>;
  assertions: object[];
  phases: Record<string, unknown>;
}

/** Stored strings are cut to this length: bodies and headers are for assertions, not for keeping. */
export const MAX_STORED_STRING = 512;
const MAX_STORED_ARRAY = 100;

/** What is kept of one value: undefined when nothing is. */
function storedValue(value: unknown): unknown {
  if (typeof value === 'string')
    return value.length > MAX_STORED_STRING ? `${value.slice(0, MAX_STORED_STRING)}…` : value;
  // JSON keeps neither NaN nor Infinity: normalise now so a difference and a whole copy agree.
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value) && value.length > MAX_STORED_ARRAY)
    return [...(value as unknown[]).slice(0, MAX_STORED_ARRAY), `… ${value.length - MAX_STORED_ARRAY} more`];
  return value;
}

function storedMap(map: object, convert: (value: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) {
    if (value === undefined) continue;
    const converted = convert(value);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

/** Phases are kept to a hundredth of a millisecond, like run durations. */
function storedPhase(value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value * 100) / 100 : undefined;
}

/** What is kept of a run's body: long strings and arrays cut, phases rounded, values JSON can hold. */
export function storedBody(body: RunBody): RunBody {
  return {
    message: body.message,
    observations: storedMap(body.observations, storedValue),
    assertions: body.assertions.map((outcome) => storedMap(outcome, storedValue)),
    phases: storedMap(body.phases, storedPhase),
  };
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object')
    return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

// ---- binary values -------------------------------------------------------

const TAG = {
  removed: 0,
  null: 1,
  false: 2,
  true: 3,
  /** 4..10: an integer mantissa with 0..6 decimals (zigzag varint). */
  decimal: 4,
  float: 11,
  string: 12,
  strings: 13,
  /** An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) as seconds from the run's start: a Date header repeats the run's time. */
  httpDate: 14,
  json: 15,
  /** A string as the keyframe's with its middle replaced: prefix length, suffix length, new middle ("HTTP 200 in 23ms"). */
  edit: 16,
  /** The same number as an earlier entry of this difference (a phase repeats its latency observation): that entry's reference. */
  same: 17,
} as const;
const MAX_DECIMALS = 6;
/** Zigzag doubles the magnitude; stay exact within 2^53. */
const MAX_ZIGZAG_INPUT = 2 ** 51;
const HTTP_DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

class ByteWriter {
  private buffer = Buffer.allocUnsafe(64);
  length = 0;

  private room(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  byte(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  /** Unsigned LEB128 for integers up to 2^53 (arithmetic, not bit operations, past 32 bits). */
  varint(value: number): void {
    let rest = value;
    while (rest >= 0x80) {
      this.byte((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.byte(rest);
  }

  zigzag(value: number): void {
    this.varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  text(value: string): void {
    const size = Buffer.byteLength(value);
    this.varint(size);
    this.room(size);
    this.buffer.write(value, this.length, 'utf8');
    this.length += size;
  }

  float(value: number): void {
    this.room(8);
    this.buffer.writeDoubleLE(value, this.length);
    this.length += 8;
  }

  done(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}

class ByteReader {
  private offset = 0;
  constructor(private readonly buffer: Uint8Array) {}

  more(): boolean {
    return this.offset < this.buffer.length;
  }

  byte(): number {
    const value = this.buffer[this.offset++];
    if (value === undefined) throw new Error('run difference ends early');
    return value;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  zigzag(): number {
    const raw = this.varint();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  text(): string {
    const size = this.varint();
    const value = Buffer.from(this.buffer.buffer, this.buffer.byteOffset + this.offset, size).toString('utf8');
    this.offset += size;
    return value;
  }

  float(): number {
    const value = Buffer.from(this.buffer.buffer, this.buffer.byteOffset + this.offset, 8).readDoubleLE(0);
    this.offset += 8;
    return value;
  }
}

/** The fewest decimals (0..6) that hold `value` exactly, or undefined. */
function decimalsOf(value: number): number | undefined {
  let scale = 1;
  for (let decimals = 0; decimals <= MAX_DECIMALS; decimals++, scale *= 10) {
    const mantissa = Math.round(value * scale);
    if (Math.abs(mantissa) > MAX_ZIGZAG_INPUT) return undefined;
    if (mantissa / scale === value) return decimals;
  }
  return undefined;
}

function httpDateOffset(value: string, startSecond: number): number | undefined {
  if (value.length !== 29 || !HTTP_DATE.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at) || new Date(at).toUTCString() !== value) return undefined;
  return at / 1000 - startSecond;
}

function varintLength(value: number): number {
  let length = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length++;
  return length;
}

const zigzagOf = (value: number) => (value >= 0 ? value * 2 : -value * 2 - 1);

/**
 * The common prefix and suffix of two strings, never splitting a surrogate
 * pair (a lone half would not survive UTF-8).
 */
function sharedEnds(before: string, after: string): { prefix: number; suffix: number } {
  const most = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < most && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  if (prefix > 0 && prefix < after.length && isHighSurrogate(after.charCodeAt(prefix - 1))) prefix--;
  let suffix = 0;
  while (
    suffix < most - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  )
    suffix++;
  if (suffix > 0 && suffix < after.length - prefix && isLowSurrogate(after.charCodeAt(after.length - suffix))) suffix--;
  return { prefix, suffix };
}
const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** What writeValue may lean on: the run's start (for HTTP dates) and the keyframe's value of the same field. */
interface ValueContext {
  startSecond: number;
  base?: unknown;
}

function writeNumber(out: ByteWriter, value: number): void {
  const decimals = decimalsOf(value);
  if (decimals === undefined || Object.is(value, -0)) {
    out.byte(TAG.float);
    return out.float(value);
  }
  out.byte(TAG.decimal + decimals);
  out.zigzag(Math.round(value * 10 ** decimals));
}

/** Bytes writeNumber takes after its tag. */
function numberLength(value: number): number {
  const decimals = decimalsOf(value);
  return decimals === undefined || Object.is(value, -0)
    ? 8
    : varintLength(zigzagOf(Math.round(value * 10 ** decimals)));
}

function writeString(out: ByteWriter, value: string, context: ValueContext): void {
  const offset = httpDateOffset(value, context.startSecond);
  if (offset !== undefined && Math.abs(offset) < MAX_ZIGZAG_INPUT) {
    out.byte(TAG.httpDate);
    return out.zigzag(offset);
  }
  if (typeof context.base === 'string') {
    const { prefix, suffix } = sharedEnds(context.base, value);
    const middle = value.slice(prefix, value.length - suffix);
    if (varintLength(prefix) + varintLength(suffix) + Buffer.byteLength(middle) < Buffer.byteLength(value)) {
      out.byte(TAG.edit);
      out.varint(prefix);
      out.varint(suffix);
      return out.text(middle);
    }
  }
  out.byte(TAG.string);
  out.text(value);
}

function writeValue(out: ByteWriter, value: unknown, context: ValueContext): void {
  if (value === null) return out.byte(TAG.null);
  if (value === false) return out.byte(TAG.false);
  if (value === true) return out.byte(TAG.true);
  if (typeof value === 'number') return writeNumber(out, value);
  if (typeof value === 'string') return writeString(out, value, context);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    out.byte(TAG.strings);
    out.varint(value.length);
    for (const item of value) out.text(item);
    return;
  }
  out.byte(TAG.json);
  out.text(jsonText(value) ?? 'null');
}

const REMOVED = Symbol('removed');

function readValue(input: ByteReader, context: ValueContext & { earlier: Map<number, unknown> }): unknown {
  const tag = input.byte();
  if (tag === TAG.removed) return REMOVED;
  if (tag === TAG.null) return null;
  if (tag === TAG.false) return false;
  if (tag === TAG.true) return true;
  if (tag >= TAG.decimal && tag <= TAG.decimal + MAX_DECIMALS) return input.zigzag() / 10 ** (tag - TAG.decimal);
  if (tag === TAG.float) return input.float();
  if (tag === TAG.string) return input.text();
  if (tag === TAG.strings) return Array.from({ length: input.varint() }, () => input.text());
  if (tag === TAG.httpDate) return new Date((context.startSecond + input.zigzag()) * 1000).toUTCString();
  if (tag === TAG.json) return JSON.parse(input.text()) as unknown;
  if (tag === TAG.edit) {
    const prefix = input.varint();
    const suffix = input.varint();
    const middle = input.text();
    const base = typeof context.base === 'string' ? context.base : '';
    return base.slice(0, prefix) + middle + (suffix > 0 ? base.slice(base.length - suffix) : '');
  }
  if (tag === TAG.same) return context.earlier.get(input.varint()) ?? null;
  throw new Error(`unknown value tag ${tag} in a run difference`);
}

// ---- differences -----------------------------------------------------------

/** Where a field lives: the message, an observation, an assertion outcome's property (`<index>:<prop>`), a phase. */
type Section = 'm' | 'o' | 'a' | 'p';

interface Slot {
  section: Section;
  key: string;
  value: unknown;
}

const nameOf = (section: Section, key: string) => (section === 'm' ? 'm' : `${section}:${key}`);

function slotOf(name: string): Pick<Slot, 'section' | 'key'> | undefined {
  if (name === 'm') return { section: 'm', key: '' };
  const section = name[0];
  if (name[1] !== ':' || (section !== 'o' && section !== 'a' && section !== 'p')) return undefined;
  return { section, key: name.slice(2) };
}

/**
 * A run body stored whole (as read back from its JSON), with a position for
 * each field: differences name the keyframe's fields by position.
 */
export class Keyframe {
  readonly slots: Slot[] = [];
  private readonly positions: Record<Section, Map<string, number>> = {
    m: new Map(),
    o: new Map(),
    a: new Map(),
    p: new Map(),
  };

  constructor(readonly body: RunBody) {
    this.add('m', '', body.message);
    for (const [key, value] of Object.entries(body.observations)) this.add('o', key, value);
    body.assertions.forEach((outcome, index) => {
      for (const [prop, value] of Object.entries(outcome)) this.add('a', `${index}:${prop}`, value);
    });
    for (const [key, value] of Object.entries(body.phases)) this.add('p', key, value);
  }

  private add(section: Section, key: string, value: unknown): void {
    this.positions[section].set(key, this.slots.length);
    this.slots.push({ section, key, value });
  }

  position(section: Section, key: string): number | undefined {
    return this.positions[section].get(key);
  }
}

const startSecondOf = (startedAt: number) => Math.floor(startedAt / 1000);

/**
 * What is kept of a run (see storedBody) as its difference from a keyframe:
 * entries of (reference, value), the reference being 1 + the keyframe position
 * of the field, or 0 followed by the name of a field the keyframe lacks;
 * fields of the keyframe the run lacks are listed as removed.
 */
export function encodeDifference(keyframe: Keyframe, body: RunBody, startedAt: number): Buffer {
  const out = new ByteWriter();
  const startSecond = startSecondOf(startedAt);
  const seen = new Uint8Array(keyframe.slots.length);
  // Numbers already written, by value: a repeat (a phase and its latency observation) refers back.
  const numbers = new Map<number, number>();
  const put = (section: Section, key: string, value: unknown) => {
    if (value === undefined) return;
    const position = keyframe.position(section, key);
    if (position === undefined) {
      out.varint(0);
      out.text(nameOf(section, key));
      writeValue(out, value, { startSecond });
      return;
    }
    seen[position] = 1;
    const base = keyframe.slots[position]?.value;
    if (sameValue(base, value)) return;
    const reference = position + 1;
    out.varint(reference);
    if (typeof value !== 'number') {
      writeValue(out, value, { startSecond, base });
      return;
    }
    const earlier = numbers.get(value);
    if (earlier !== undefined && varintLength(earlier) < numberLength(value) && !Object.is(value, -0)) {
      out.byte(TAG.same);
      out.varint(earlier);
      return;
    }
    // A Map takes -0 for 0: only a plain number may be referred back to.
    if (!numbers.has(value) && !Object.is(value, -0)) numbers.set(value, reference);
    writeNumber(out, value);
  };
  put('m', '', body.message);
  for (const [key, value] of Object.entries(body.observations)) put('o', key, storedValue(value));
  body.assertions.forEach((outcome, index) => {
    for (const [prop, value] of Object.entries(outcome)) put('a', `${index}:${prop}`, storedValue(value));
  });
  for (const [key, value] of Object.entries(body.phases)) put('p', key, storedPhase(value));
  seen.forEach((was, position) => {
    if (was) return;
    out.varint(position + 1);
    out.byte(TAG.removed);
  });
  return out.done();
}

function copyBody(body: RunBody): RunBody {
  return {
    message: body.message,
    observations: { ...body.observations },
    assertions: body.assertions.map((outcome) => ({ ...outcome })),
    phases: { ...body.phases },
  };
}

function setField(body: RunBody, section: Section, key: string, value: unknown): void {
  if (section === 'm') body.message = typeof value === 'string' ? value : '';
  else if (section === 'o') setOrDelete(body.observations, key, value);
  else if (section === 'p') setOrDelete(body.phases, key, value);
  else {
    const colon = key.indexOf(':');
    const index = Number(key.slice(0, colon));
    if (colon < 0 || !Number.isInteger(index) || index < 0 || index > body.assertions.length) return;
    const outcome = (body.assertions[index] ??= {}) as Record<string, unknown>;
    setOrDelete(outcome, key.slice(colon + 1), value);
  }
}

function setOrDelete(map: Record<string, unknown>, key: string, value: unknown): void {
  if (value === REMOVED) delete map[key];
  else map[key] = value;
}

/** A run rebuilt from its keyframe and its difference (without the keyframe, only the fields the difference names). */
export function applyDifference(keyframe: Keyframe | undefined, difference: Uint8Array, startedAt: number): RunBody {
  const body = keyframe ? copyBody(keyframe.body) : { message: '', observations: {}, assertions: [], phases: {} };
  const input = new ByteReader(difference);
  const startSecond = startSecondOf(startedAt);
  const earlier = new Map<number, unknown>();
  while (input.more()) {
    const reference = input.varint();
    const slot = reference === 0 ? slotOf(input.text()) : keyframe?.slots[reference - 1];
    const base = reference > 0 ? keyframe?.slots[reference - 1]?.value : undefined;
    const value = readValue(input, { startSecond, earlier, base });
    if (reference > 0) earlier.set(reference, value);
    if (slot) setField(body, slot.section, slot.key, value);
  }
  // An outcome whose every property was removed is gone.
  if (body.assertions.some((outcome) => Object.keys(outcome).length === 0))
    body.assertions = body.assertions.filter((outcome) => Object.keys(outcome).length > 0);
  return body;
}
