import net from 'node:net';

/** DNS answers SPF evaluation needs; names that do not exist give []. A lookup that fails throws. */
export interface SpfDns {
  txt(name: string): Promise<string[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  mx(name: string): Promise<string[]>;
}

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

export interface SpfTerm {
  qualifier: '+' | '-' | '~' | '?';
  mechanism: string;
  value?: string;
  cidr4?: number;
  cidr6?: number;
}

export interface ParsedSpf {
  terms: SpfTerm[];
  redirect?: string;
  errors: string[];
}

const QUALIFIER_RESULT: Record<SpfTerm['qualifier'], SpfResult> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};
const MECHANISMS = new Set(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
/** RFC 7208 4.6.4: at most 10 mechanisms/modifiers that cause DNS lookups. */
export const SPF_LOOKUP_LIMIT = 10;

export function isSpf(record: string): boolean {
  return /^v=spf1(\s|$)/i.test(record.trim());
}

export function parseSpf(record: string): ParsedSpf {
  const terms: SpfTerm[] = [];
  const errors: string[] = [];
  let redirect: string | undefined;
  for (const word of record.trim().split(/\s+/).slice(1)) {
    const modifier = /^([a-z][a-z0-9_.-]*)=(.*)$/i.exec(word);
    if (modifier) {
      if (modifier[1]?.toLowerCase() === 'redirect') redirect = modifier[2];
      continue;
    }
    const match = /^([+\-~?]?)([a-z0-9]+)(?::([^/]+))?(?:\/(\d+))?(?:\/\/(\d+))?$/i.exec(word);
    const mechanism = match?.[2]?.toLowerCase() ?? '';
    if (!match || !MECHANISMS.has(mechanism)) {
      errors.push(`unknown term "${word}"`);
      continue;
    }
    const qualifier = (match[1] || '+') as SpfTerm['qualifier'];
    const term: SpfTerm = { qualifier, mechanism, ...(match[3] ? { value: match[3] } : {}) };
    // ip6:2001:db8::/32 has its colons inside the value: parse ip4/ip6 separately.
    if (mechanism === 'ip4' || mechanism === 'ip6') {
      const body = word.replace(/^[+\-~?]?ip[46]:/i, '');
      const [address = '', prefix, ...more] = body.split('/');
      if (net.isIP(address) !== (mechanism === 'ip4' ? 4 : 6)) errors.push(`bad address in "${word}"`);
      // One CIDR length only: "ip6:2001:db8::1//64" is no dual CIDR but an empty length (read as /0, matching everything).
      if (more.length > 0 || (prefix !== undefined && !/^\d+$/.test(prefix)))
        errors.push(`bad CIDR length in "${word}"`);
      term.value = address;
      if (prefix !== undefined) term[mechanism === 'ip4' ? 'cidr4' : 'cidr6'] = Number(prefix);
    } else {
      if (match[4]) term.cidr4 = Number(match[4]);
      if (match[5]) term.cidr6 = Number(match[5]);
    }
    // RFC 7208 5.6: ip4-cidr-length 0-32, ip6-cidr-length 0-128; beyond them the record is a permerror, not a lookup failure.
    if ((term.cidr4 ?? 0) > 32 || (term.cidr6 ?? 0) > 128) errors.push(`CIDR length out of range in "${word}"`);
    if ((mechanism === 'include' || mechanism === 'exists') && !term.value) errors.push(`"${word}" needs a domain`);
    if (mechanism === 'all' && (term.value !== undefined || match[4] || match[5]))
      errors.push(`"${word}" takes no argument`);
    terms.push(term);
  }
  return { terms, ...(redirect ? { redirect } : {}), errors };
}

function inNetwork(ip: string, network: string, prefix: number | undefined): boolean {
  const family = net.isIPv4(ip) ? 'ipv4' : 'ipv6';
  if (net.isIP(network) !== (family === 'ipv4' ? 4 : 6)) return false;
  const list = new net.BlockList();
  list.addSubnet(network, prefix ?? (family === 'ipv4' ? 32 : 128), family);
  return list.check(ip, family);
}

export interface SpfEvaluation {
  result: SpfResult;
  /** The term that decided (e.g. "include:_spf.example.test -> ip4:192.0.2.0/25"). */
  matched?: string;
  lookups: number;
  reason?: string;
}

class SpfStop extends Error {
  constructor(
    readonly result: SpfResult,
    message: string,
  ) {
    super(message);
  }
}

/** Evaluates check_host(ip, domain) (RFC 7208) without macros, counting DNS-querying terms against the limit of 10. */
export async function evaluateSpf(ip: string, domain: string, dns: SpfDns): Promise<SpfEvaluation> {
  const counter = { lookups: 0 };
  try {
    const outcome = await checkHost(ip, domain, dns, counter, 0);
    return { ...outcome, lookups: counter.lookups };
  } catch (error) {
    if (error instanceof SpfStop) return { result: error.result, lookups: counter.lookups, reason: error.message };
    return { result: 'temperror', lookups: counter.lookups, reason: (error as Error).message };
  }
}

function count(counter: { lookups: number }, what: string): void {
  counter.lookups++;
  if (counter.lookups > SPF_LOOKUP_LIMIT)
    throw new SpfStop('permerror', `more than ${SPF_LOOKUP_LIMIT} DNS lookups (at ${what})`);
}

async function checkHost(
  ip: string,
  domain: string,
  dns: SpfDns,
  counter: { lookups: number },
  depth: number,
): Promise<{ result: SpfResult; matched?: string; reason?: string }> {
  if (depth > 20) throw new SpfStop('permerror', 'include/redirect loop');
  const records = (await dns.txt(domain)).filter(isSpf);
  if (records.length === 0) return { result: 'none', reason: `no SPF record at ${domain}` };
  if (records.length > 1) throw new SpfStop('permerror', `${records.length} SPF records at ${domain}`);
  const parsed = parseSpf(records[0] ?? '');
  if (parsed.errors.length) throw new SpfStop('permerror', `${domain}: ${parsed.errors.join(', ')}`);
  const v6 = net.isIPv6(ip);
  for (const term of parsed.terms) {
    const label = `${term.qualifier === '+' ? '' : term.qualifier}${term.mechanism}${term.value ? `:${term.value}` : ''}`;
    let hit = false;
    let via = '';
    switch (term.mechanism) {
      case 'all':
        hit = true;
        break;
      case 'ip4':
      case 'ip6':
        hit = inNetwork(ip, term.value ?? '', term.mechanism === 'ip4' ? term.cidr4 : term.cidr6);
        break;
      case 'a': {
        count(counter, label);
        const name = term.value ?? domain;
        const addresses = v6 ? await dns.aaaa(name) : await dns.a(name);
        hit = addresses.some((address) => inNetwork(ip, address, v6 ? term.cidr6 : term.cidr4));
        break;
      }
      case 'mx': {
        count(counter, label);
        const exchanges = await dns.mx(term.value ?? domain);
        if (exchanges.length > 10) throw new SpfStop('permerror', `more than 10 MX names at ${term.value ?? domain}`);
        for (const exchange of exchanges) {
          const addresses = v6 ? await dns.aaaa(exchange) : await dns.a(exchange);
          if (addresses.some((address) => inNetwork(ip, address, v6 ? term.cidr6 : term.cidr4))) hit = true;
        }
        break;
      }
      case 'include': {
        count(counter, label);
        const inner = await checkHost(ip, term.value ?? '', dns, counter, depth + 1);
        if (inner.result === 'none') throw new SpfStop('permerror', `include:${term.value} has no SPF record`);
        if (inner.result === 'permerror' || inner.result === 'temperror') return inner;
        hit = inner.result === 'pass';
        via = inner.matched ? ` -> ${inner.matched}` : '';
        break;
      }
      case 'exists': {
        count(counter, label);
        hit = (await dns.a(term.value ?? '')).length > 0;
        break;
      }
      case 'ptr':
        // Deprecated (RFC 7208 5.5) and not evaluated here: counted, never matches.
        count(counter, label);
        break;
    }
    if (hit) return { result: QUALIFIER_RESULT[term.qualifier], matched: `${label}${via}` };
  }
  if (parsed.redirect) {
    count(counter, `redirect=${parsed.redirect}`);
    const inner = await checkHost(ip, parsed.redirect, dns, counter, depth + 1);
    if (inner.result === 'none') throw new SpfStop('permerror', `redirect=${parsed.redirect} has no SPF record`);
    return inner;
  }
  return { result: 'neutral', reason: 'no term matched and no all' };
}
