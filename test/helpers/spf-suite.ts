// Reads the openspf RFC 7208 test suite (YAML) into scenarios, and its zone data into PowerDNS rrsets.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { textOf } from '../../src/util/text.ts';

export interface SpfCase {
  name: string;
  helo: string;
  host: string;
  mailfrom: string;
  /** One result, or the several the suite allows. */
  result: string[];
  explanation?: string;
}

export interface SpfScenario {
  description: string;
  cases: SpfCase[];
  /** Owner names in presentation form, lowercase, records in zone-file text: for PowerDNS. */
  rrsets: { name: string; type: string; ttl: number; records: string[] }[];
  /**
   * Legal names PowerDNS will not serve (its API refuses foo:bar/baz.example.com
   * and names with spaces; its MX parser stops at the colon): their records as
   * dns-packet answer data, by lowercase name.
   */
  unservable: Map<string, { type: string; data: unknown }[]>;
  /** Names whose queries never get an answer, and the types still answered for them. */
  timeouts: Map<string, Set<string>>;
}

type ZoneEntry = 'TIMEOUT' | Record<string, unknown>;

/** A byte string (the suite's \xNN escapes are bytes) as one <character-string> of zone-file text. */
function quoted(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    out +=
      char === '"' || char === '\\'
        ? `\\${char}`
        : code >= 0x20 && code < 0x7f
          ? char
          : `\\${String(code).padStart(3, '0')}`;
  }
  return `"${out}"`;
}

/** TXT presentation: each string of the record quoted, long ones split at 255 bytes. */
function txtContent(value: unknown): string {
  const strings = Array.isArray(value) ? value.map(String) : [String(value)];
  return strings
    .flatMap((text) => (text.length <= 255 ? [text] : (text.match(/[^]{1,255}/g) ?? [])))
    .map(quoted)
    .join(' ');
}

/** A domain name in presentation form: characters outside letters, digits, - and _ written as \DDD. */
export function presentationName(name: string): string {
  if (name === '' || name === '.') return '.';
  const labels = name.replace(/\.$/, '').split('.');
  return `${labels.map((label) => label.replace(/[^A-Za-z0-9_*-]/g, (c) => `\\${String(c.charCodeAt(0)).padStart(3, '0')}`)).join('.')}.`;
}

/** A record as dns-packet encodes it. */
function packetData(type: string, value: unknown): unknown {
  if (type === 'MX') {
    const [preference, exchange] = value as [number, string];
    return { preference, exchange };
  }
  if (type === 'TXT')
    return (Array.isArray(value) ? value : [value]).map((text) => Buffer.from(String(text), 'latin1'));
  return String(value);
}

function content(type: string, value: unknown): string {
  switch (type) {
    case 'TXT':
      return txtContent(value);
    case 'MX': {
      const [preference, exchange] = value as [number, string];
      return `${preference} ${presentationName(exchange)}`;
    }
    case 'PTR':
    case 'CNAME':
      return presentationName(String(value));
    default:
      return String(value);
  }
}

/** The rrsets of one name: SPF-type records served as TXT when the name has no TXT of its own (the suite's rule). */
function rrsetsOf(name: string, entries: ZoneEntry[], scenario: SpfScenario): void {
  const byType = new Map<string, string[]>();
  const lower = name.toLowerCase();
  const unservable = !/^[a-z0-9_.-]+$/.test(lower);
  const hasTxtKey = entries.some((entry) => entry !== 'TIMEOUT' && 'TXT' in entry);
  for (const entry of entries) {
    if (entry === 'TIMEOUT') {
      scenario.timeouts.set(name.toLowerCase(), new Set());
      continue;
    }
    for (const [key, value] of Object.entries(entry)) {
      if (value === 'NONE') continue;
      const type = key === 'SPF' ? (hasTxtKey ? undefined : 'TXT') : key;
      // A TXT record of no strings at all cannot be published; the suite only asks that it does not crash.
      if (!type || (Array.isArray(value) && value.length === 0 && type === 'TXT')) continue;
      if (unservable) {
        const list = scenario.unservable.get(lower) ?? [];
        scenario.unservable.set(lower, [...list, { type, data: packetData(type, value) }]);
      } else byType.set(type, [...(byType.get(type) ?? []), content(type, value)]);
    }
  }
  for (const [type, records] of byType) {
    scenario.timeouts.get(name.toLowerCase())?.add(type);
    scenario.rrsets.push({ name: presentationName(lower), type, ttl: 60, records: [...new Set(records)] });
  }
}

function caseOf(name: string, raw: Record<string, unknown>): SpfCase {
  const result = Array.isArray(raw.result) ? raw.result.map(String) : [String(raw.result)];
  return {
    name,
    helo: textOf(raw.helo),
    host: String(raw.host),
    mailfrom: textOf(raw.mailfrom),
    result,
    ...(typeof raw.explanation === 'string' ? { explanation: raw.explanation } : {}),
  };
}

export function loadSpfSuite(path: string): SpfScenario[] {
  return parseAllDocuments(readFileSync(path, 'latin1')).map((document) => {
    const doc = document.toJS() as {
      description: string;
      tests: Record<string, Record<string, unknown>>;
      zonedata: Record<string, ZoneEntry[]>;
    };
    const scenario: SpfScenario = {
      description: doc.description,
      cases: [],
      rrsets: [],
      unservable: new Map(),
      timeouts: new Map(),
    };
    for (const [name, raw] of Object.entries(doc.tests)) scenario.cases.push(caseOf(name, raw));
    for (const [name, entries] of Object.entries(doc.zonedata)) rrsetsOf(name, entries, scenario);
    return scenario;
  });
}
