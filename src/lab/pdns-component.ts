// The lab part that starts the PowerDNS pair: example.test and its reverse zone, signed with DNSSEC, and their switches.
import { join } from 'node:path';
import type { LabComponent, LabContext } from './component.ts';
import { LAB_ZONE, mountDnsSwitches, startPdnsPair, zoneWriter } from './pdns.ts';
import { mountDnssecSwitches, signLabZone } from './dnssec.ts';

export const pdnsComponent: LabComponent = {
  name: 'PowerDNS x2',
  async start(ctx: LabContext) {
    const lab = await startPdnsPair({
      dir: join(ctx.dir, 'pdns'),
      ports: { dns1: ctx.ports.pdns1Dns, api1: ctx.ports.pdns1Api, dns2: ctx.ports.pdns2Dns, api2: ctx.ports.pdns2Api },
    });
    mountDnsSwitches(ctx.scaidns, lab);
    try {
      const signed = await signLabZone(lab, LAB_ZONE, join(ctx.dir, 'pdns'));
      mountDnssecSwitches(ctx.scaidns, signed);
    } catch (error) {
      await lab.stop();
      throw error;
    }
    ctx.dns = zoneWriter(lab);
    return {
      stop: () => lab.stop(),
      describe:
        `example.test (DNSSEC-signed, DS in test.) at 127.0.0.1:${ctx.ports.pdns1Dns} (API :${ctx.ports.pdns1Api}) and 127.0.0.1:${ctx.ports.pdns2Dns} (API :${ctx.ports.pdns2Api}); ` +
        'switches on the ScaiDNS stand-in: POST /__lab/dns/challenge {"servers":["pdns1"]}, POST|DELETE /__lab/dns/drift, POST /__lab/dns/serial, POST /__lab/dns/dnssec/break-ds, POST /__lab/dns/dnssec/remove-key',
    };
  },
};
