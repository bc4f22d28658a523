// A JSON body flattened to json.* observations, bounded in keys, depth and list length.
import type { ObservationValue, Observations } from '../../core/probe.ts';

/** At most this many json.* observations per body: a list of a million items is not a million observations. */
export const MAX_JSON_KEYS = 500;
/** A list of scalars is also observed whole (for `contains`) up to this many items. */
export const MAX_WHOLE_LIST = 1000;
/** Paths nest no deeper than this (a nested object costs no key, so only depth would stop it). */
export const MAX_JSON_DEPTH = 64;

const isScalar = (item: unknown) => item === null || typeof item !== 'object';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;

/**
 * Positions in a JSON text that JSON.parse has accepted, so that nothing here
 * checks the grammar. It tells where values end and what an object's keys
 * are in document order, one at a time: Object.keys of an object with
 * millions of keys collects and sorts them all (seconds) before the first.
 */
class JsonText {
  constructor(private readonly text: string) {}

  char(at: number): string {
    return this.text[at] ?? '';
  }

  skipSpace(at: number): number {
    let i = at;
    while (i < this.text.length && isSpace(this.text.charCodeAt(i))) i++;
    return i;
  }

  /** `at` is an opening quote; returns the index after the closing one. */
  stringEnd(at: number): number {
    let i = at + 1;
    for (;;) {
      const quote = this.text.indexOf('"', i);
      let backslashes = 0;
      while (this.text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) return quote + 1;
      i = quote + 1;
    }
  }

  /** The string starting at `at` (a key), unescaped only when it has escapes. */
  stringAt(at: number, end: number): string {
    const raw = this.text.slice(at + 1, end - 1);
    return raw.includes('\\') ? (JSON.parse(this.text.slice(at, end)) as string) : raw;
  }

  /** Returns the index after the value starting at `at`. */
  valueEnd(at: number): number {
    const first = this.text.charCodeAt(at);
    if (first === QUOTE) return this.stringEnd(at);
    if (first !== 0x7b && first !== 0x5b) {
      let i = at;
      while (i < this.text.length && !',}] \t\n\r'.includes(this.text[i] as string)) i++;
      return i;
    }
    let depth = 0;
    for (let i = at; ; i++) {
      const code = this.text.charCodeAt(i);
      if (code === QUOTE) i = this.stringEnd(i) - 1;
      else if (code === 0x7b || code === 0x5b) depth++;
      else if ((code === 0x7d || code === 0x5d) && --depth === 0) return i + 1;
    }
  }
}

/**
 * Flattens a JSON body into `json.a.b` / `json.items.0.id` observations
 * (leaves; lists of scalars also whole), in document order, and stops at
 * MAX_JSON_KEYS: the cost is that of the part of the body observed, not of
 * the body. `value` is JSON.parse(`text`) (values come from it; the text only
 * gives key order and where to go on). Returns whether every path was observed.
 */
/** Observations written up to MAX_JSON_KEYS; past that the result is marked incomplete. */
class ObservationBudget {
  private left = MAX_JSON_KEYS;
  complete = true;
  constructor(private readonly out: Observations) {}

  put(path: string, observed: ObservationValue): void {
    if (this.left <= 0) this.complete = false;
    else {
      this.out[path] = observed;
      this.left--;
    }
  }

  /** True (and the result incomplete) when there is more to observe but no room left. */
  full(): boolean {
    if (this.left > 0) return false;
    this.complete = false;
    return true;
  }
}

export function flattenJson(text: string, value: unknown, prefix: string, out: Observations): boolean {
  const json = new JsonText(text);
  const state = new ObservationBudget(out);
  const put = (path: string, observed: ObservationValue) => state.put(path, observed);
  const full = () => state.full();

  /** Observes the value at text index `at`; returns the index after it, or -1 once full. */
  const walk = (node: unknown, path: string, depth: number, at: number): number => {
    if (isScalar(node)) {
      put(path, node as ObservationValue);
      return json.valueEnd(at);
    }
    if (depth >= MAX_JSON_DEPTH) {
      state.complete = false;
      return json.valueEnd(at);
    }
    return Array.isArray(node)
      ? walkList(node, path, depth, at)
      : walkObject(node as Record<string, unknown>, path, depth, at);
  };

  const walkList = (list: unknown[], path: string, depth: number, at: number): number => {
    put(`${path}.length`, list.length);
    if (list.length <= MAX_WHOLE_LIST && list.every(isScalar))
      put(
        path,
        list.map((item) => String(item)),
      );
    else if (list.length > MAX_WHOLE_LIST) state.complete = false;
    let i = json.skipSpace(at + 1);
    for (let index = 0; json.char(i) !== ']'; index++) {
      if (full()) return -1;
      const end = walk(list[index], `${path}.${index}`, depth + 1, i);
      if (end < 0) return -1;
      i = json.skipSpace(end);
      if (json.char(i) === ',') i = json.skipSpace(i + 1);
    }
    return i + 1;
  };

  const walkObject = (object: Record<string, unknown>, path: string, depth: number, at: number): number => {
    const seen = new Set<string>();
    let i = json.skipSpace(at + 1);
    while (json.char(i) !== '}') {
      const keyEnd = json.stringEnd(i);
      const key = json.stringAt(i, keyEnd);
      i = json.skipSpace(json.skipSpace(keyEnd) + 1);
      if (full()) return -1;
      // A repeated key: JSON.parse kept its last value, observed at its first place.
      const end = seen.has(key) ? json.valueEnd(i) : walk(object[key], `${path}.${key}`, depth + 1, i);
      seen.add(key);
      if (end < 0) return -1;
      i = json.skipSpace(end);
      if (json.char(i) === ',') i = json.skipSpace(i + 1);
    }
    return i + 1;
  };

  walk(value, prefix, 0, json.skipSpace(0));
  return state.complete;
}
