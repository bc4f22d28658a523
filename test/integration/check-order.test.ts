import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../../src/lab/processes.ts';
import { runCli } from '../helpers/cli.ts';

test("check runs a probe that reads another probe's output after that one, even when it is written first", async () => {
  const temp = await makeTempDir('scaiprobe-order-');
  // The probe read from answers after 1.5 s; the reading probe's first act is to log in to IMAP.
  let answeredAt = 0;
  const slow = createHttpServer((_req, res) => {
    setTimeout(() => {
      answeredAt = Date.now();
      res.end('ok');
    }, 1500);
  });
  let imapAt = 0;
  const imap = createTcpServer((socket) => {
    imapAt ||= Date.now();
    socket.destroy();
  });
  slow.listen(0, '127.0.0.1');
  imap.listen(0, '127.0.0.1');
  await Promise.all([once(slow, 'listening'), once(imap, 'listening')]);
  try {
    const config = join(temp.dir, 'probes.yaml');
    // The order follows the name in mail.probe, whatever kind that probe is.
    writeFileSync(
      config,
      `probes:
  - name: tracking
    kind: browser
    timeout: 10s
    mail: { probe: roundtrip, imap: { host: 127.0.0.1, port: ${(imap.address() as AddressInfo).port}, secure: false, user: alice, pass: "\${SEED_PASS}" } }
  - name: roundtrip
    kind: http
    timeout: 10s
    url: http://127.0.0.1:${(slow.address() as AddressInfo).port}/
`,
    );
    const result = await runCli(['check', '--config', config, '--json'], { SEED_PASS: 'alicepw' });
    const report = JSON.parse(result.stdout) as { results: Array<{ name: string; status: string }> };
    assert.deepEqual(
      report.results.map((r) => [r.name, r.status]),
      [
        ['tracking', 'fail'],
        ['roundtrip', 'pass'],
      ],
      "results in the configuration's order",
    );
    assert.ok(answeredAt > 0 && imapAt > 0, `both ran (${answeredAt}, ${imapAt})`);
    assert.ok(
      imapAt >= answeredAt,
      `the reading probe started ${answeredAt - imapAt} ms before the probe it reads had finished`,
    );
  } finally {
    slow.close();
    imap.close();
    await temp.remove();
  }
});
