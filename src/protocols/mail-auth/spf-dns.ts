// The project's DNS client as the SPF evaluator's resolver: every question to the given resolver, errors as node:dns codes.
import { ProbeFailure } from '../../core/errors.ts';
import type { DnsClient, DnsServer } from '../dns/wire.ts';
import type { LookupBudget } from '../dns/lookup.ts';
import type { SpfRecordType, SpfResolver } from './spf.ts';

/** An error carrying the node:dns code mailauth classifies by (ENOTFOUND/ENODATA void, the rest temperror). */
export class SpfDnsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** RCODEs as node:dns names them; NXDOMAIN is "does not exist", a void lookup. */
const RCODE_CODES: Record<string, string> = {
  NXDOMAIN: 'ENOTFOUND',
  SERVFAIL: 'ESERVFAIL',
  REFUSED: 'EREFUSED',
  FORMERR: 'EFORMERR',
  NOTIMP: 'ENOTIMP',
};

/** Answer data in node:dns's shapes: TXT strings per record, MX objects, names and addresses as text. */
function shape(type: SpfRecordType, data: unknown): unknown {
  switch (type) {
    case 'TXT':
      // latin1 keeps every byte one character, so a non-ASCII byte is seen (and is a permerror) whatever it is.
      return (Array.isArray(data) ? data : [data]).map((part) =>
        Buffer.isBuffer(part) ? part.toString('latin1') : String(part),
      );
    case 'MX': {
      const mx = data as { exchange: string; preference: number };
      return { exchange: mx.exchange === '.' ? '' : mx.exchange, priority: mx.preference };
    }
    default:
      return String(data);
  }
}

/** A resolver for evaluateSpf that asks `server` (recursion desired) within the run's budget. */
export function spfResolver(client: DnsClient, server: DnsServer, budget: LookupBudget): SpfResolver {
  return async (name, type) => {
    const recordType = type as SpfRecordType;
    let reply;
    try {
      reply = await client.query({
        name,
        type: recordType,
        server,
        recursion: true,
        signal: budget.signal,
        timeoutMs: budget.timeoutMs,
        retries: budget.retries,
      });
    } catch (error) {
      // The run's own cancellation ends the run; it is no SPF result.
      if (budget.signal.aborted) throw budget.signal.reason;
      const code = error instanceof ProbeFailure && error.code === 'TIMEOUT' ? 'ETIMEOUT' : 'EDNSFAIL';
      throw new SpfDnsError(code, `${name} ${type}: ${(error as Error).message}`);
    }
    if (reply.rcode !== 'NOERROR') {
      const code = RCODE_CODES[reply.rcode] ?? 'EDNSFAIL';
      throw new SpfDnsError(code, `${name} ${type}: ${reply.rcode} from ${server.label}`);
    }
    const answers = reply.answers.filter((record) => record.type === recordType);
    if (answers.length === 0) throw new SpfDnsError('ENODATA', `${name} ${type}: no data`);
    return answers.map((record) => shape(recordType, (record as { data: unknown }).data));
  };
}
