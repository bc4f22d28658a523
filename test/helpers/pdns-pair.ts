// The tests' PowerDNS pair on free ports, started again on other ports when one was taken meanwhile by another test's server.
import { join } from 'node:path';
import { freePort } from '../../src/lab/processes.ts';
import { startPdnsPair, type PdnsLab } from '../../src/lab/pdns.ts';

const ATTEMPTS = 3;

/** Four ports free now and distinct from each other. */
async function distinctFreePorts(): Promise<{ dns1: number; api1: number; dns2: number; api2: number }> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [dns1 = 0, api1 = 0, dns2 = 0, api2 = 0] = [...ports];
  return { dns1, api1, dns2, api2 };
}

/**
 * A port checked free can be taken by a server of a test running beside this one before PowerDNS binds it;
 * the pair then fails to start (or reaches that other server, which answers 409 for a zone it has). Each
 * attempt has fresh ports and a fresh folder.
 */
export async function startTestPdnsPair(options: Omit<Parameters<typeof startPdnsPair>[0], 'ports'>): Promise<PdnsLab> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startPdnsPair({
        ...options,
        dir: join(options.dir, `pdns-${attempt}`),
        ports: await distinctFreePorts(),
      });
    } catch (error) {
      if (attempt >= ATTEMPTS) throw error;
    }
  }
}
