// An SpfResolver over plain maps (names that fail, names that exist without data), for unit and fuzz tests of SPF.
import { SpfDnsError } from '../../src/protocols/mail-auth/spf-dns.ts';
import type { SpfResolver } from '../../src/protocols/mail-auth/spf.ts';

export interface SpfWorld {
  txt?: Record<string, string[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  mx?: Record<string, string[]>;
  ptr?: Record<string, string[]>;
  /** Names whose every lookup fails as SERVFAIL does. */
  failing?: string[];
}

/** Answers as node:dns shapes them; a name with no data of any type is NXDOMAIN, one with other data NODATA. */
export function worldResolver(world: SpfWorld): SpfResolver {
  const tables: Record<string, Record<string, string[]> | undefined> = {
    TXT: world.txt,
    A: world.a,
    AAAA: world.aaaa,
    MX: world.mx,
    PTR: world.ptr,
  };
  return async (name, type) => {
    const key = name.toLowerCase();
    if (world.failing?.includes(key)) throw new SpfDnsError('ESERVFAIL', `${name} ${type}: SERVFAIL`);
    const values = tables[type]?.[key];
    if (values?.length) {
      if (type === 'TXT') return values.map((text) => [text]);
      if (type === 'MX') return values.map((exchange, priority) => ({ exchange, priority }));
      return values;
    }
    const exists = Object.values(tables).some((table) => table?.[key]?.length);
    throw new SpfDnsError(exists ? 'ENODATA' : 'ENOTFOUND', `${name} ${type}: no data`);
  };
}
