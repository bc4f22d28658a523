// The lab's HTTPS host for mail posture: the MTA-STS policy of example.test and its BIMI logo, under the lab's CA.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { LabComponent, LabContext } from './component.ts';

const TLS_DIR = new URL('./tls/', import.meta.url);

/** The MX hosts example.test's policy covers: the lab's ingress and the zone's MX. */
export const LAB_MTA_STS_POLICY = [
  'version: STSv1',
  'mode: enforce',
  'mx: inbound.example.test',
  'mx: mx.example.test',
  'max_age: 86400',
  '',
].join('\r\n');

/** A logo in the SVG Tiny PS profile BIMI asks for: square, no script, nothing from outside. */
export const LAB_BIMI_LOGO =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 64 64">' +
  '<title>Example Test</title><rect width="64" height="64" fill="#1f6feb"/>' +
  '<circle cx="32" cy="32" r="18" fill="#ffffff"/></svg>\n';

/** Starts the posture host on 127.0.0.1:`port` (HTTPS, the lab services certificate). */
export function startPostureHost(port: number): Promise<Server> {
  const server = createServer(
    {
      key: readFileSync(new URL('lab-services.key', TLS_DIR)),
      cert: readFileSync(new URL('lab-services.pem', TLS_DIR)),
    },
    (req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (host === 'mta-sts.example.test' && req.url === '/.well-known/mta-sts.txt') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(LAB_MTA_STS_POLICY);
      } else if (host === 'bimi.example.test' && req.url === '/logo.svg') {
        res.writeHead(200, { 'content-type': 'image/svg+xml' }).end(LAB_BIMI_LOGO);
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not here\n');
    },
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export const postureComponent: LabComponent = {
  name: 'mail posture host',
  async start(ctx: LabContext) {
    const server = await startPostureHost(ctx.ports.posture);
    return {
      stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
      describe: `https://mta-sts.example.test:${ctx.ports.posture}/.well-known/mta-sts.txt and https://bimi.example.test:${ctx.ports.posture}/logo.svg (lab CA: src/lab/tls/lab-ca.pem)`,
    };
  },
};
