// A private unbound (Debian's validating resolver) for tests: one trust anchor, one stub server, an optional validation date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startProcess, waitForPort, type ManagedProcess } from '../../src/lab/processes.ts';
import { DnsClient, parseServer } from '../../src/protocols/dns/wire.ts';
import { systemClock } from '../../src/util/clock.ts';

export interface Unbound {
  /** What unbound answers for `name type` after validating: `NOERROR`, or `SERVFAIL` for bogus data. */
  rcodeOf(name: string, type: 'A' | 'SOA' | 'MX' | 'DNSKEY'): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts unbound on loopback, validating `zone` from the trust anchor `anchor` (DS records, zone-file text),
 * asking only `stub` for it, as if the time were `at` (unbound's val-override-date) when given.
 */
export async function startUnbound(options: {
  dir: string;
  zone: string;
  anchor: string[];
  stub: string;
  at?: Date;
}): Promise<Unbound> {
  const port = await freePort();
  const [host, stubPort] = options.stub.split(':');
  const config = join(options.dir, `unbound-${port}.conf`);
  writeFileSync(
    config,
    [
      'server:',
      '  interface: 127.0.0.1',
      `  port: ${port}`,
      '  do-daemonize: no',
      '  username: ""',
      '  chroot: ""',
      `  directory: "${options.dir}"`,
      '  pidfile: ""',
      '  use-syslog: no',
      '  logfile: ""',
      '  verbosity: 1',
      '  do-ip6: no',
      '  do-not-query-localhost: no',
      '  module-config: "validator iterator"',
      '  access-control: 127.0.0.0/8 allow',
      '  cache-max-ttl: 0',
      '  cache-max-negative-ttl: 0',
      // unbound answers the special-use names (test., invalid., ...) itself unless told not to.
      `  local-zone: "${options.zone.split('.').filter(Boolean).at(-1)}." nodefault`,
      ...options.anchor.map((record) => `  trust-anchor: "${record}"`),
      ...(options.at ? [`  val-override-date: "${options.at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}"`] : []),
      'stub-zone:',
      `  name: "${options.zone}"`,
      `  stub-addr: ${host}@${stubPort}`,
      'remote-control:',
      '  control-enable: no',
      '',
    ].join('\n'),
  );
  const process: ManagedProcess = startProcess({ name: 'unbound', command: 'unbound', args: ['-d', '-c', config] });
  await waitForPort(port, '127.0.0.1', 10_000, process).catch(async (error: unknown) => {
    await process.stop();
    throw error;
  });
  const client = new DnsClient({ clock: systemClock });
  const server = parseServer(`127.0.0.1:${port}`);
  return {
    rcodeOf: async (name, type) =>
      (
        await client.query({
          name,
          type,
          server,
          recursion: true,
          signal: AbortSignal.timeout(10_000),
          timeoutMs: 3000,
        })
      ).rcode,
    stop: async () => {
      await client.close();
      await process.stop();
    },
  };
}
