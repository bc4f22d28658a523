import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { chmod, mkdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { runYaml } from '../helpers/run.ts';
import { LAB_ENV, startLab } from '../../src/lab/lab.ts';
import type { LabPorts } from '../../src/lab/component.ts';
import { freePort, makeTempDir, waitForPort } from '../../src/lab/processes.ts';

async function freePorts(): Promise<LabPorts> {
  const names: Array<keyof LabPorts> = [
    'scaisend',
    'scaidns',
    'imap',
    'smtp',
    'pdns1Dns',
    'pdns1Api',
    'pdns2Dns',
    'pdns2Api',
    'rbldnsd',
    'redis',
  ];
  const ports = {} as LabPorts;
  for (const name of names) ports[name] = await freePort();
  return ports;
}

test('the whole lab starts, stops and starts again on the same folder (a second `npm start`)', async () => {
  const temp = await makeTempDir('scaiprobe-lab-');
  try {
    for (let round = 1; round <= 2; round++) {
      const ports = await freePorts();
      const lab = await startLab({ dir: temp.dir, ports, logger: pino({ level: 'silent' }) });
      try {
        const ready = await fetch(`${lab.scaisendUrl}/ready`);
        assert.equal(ready.status, 200, `round ${round}: ScaiSend stand-in ready`);
        const zone = await fetch(`http://127.0.0.1:${ports.pdns1Api}/api/v1/servers/localhost/zones/example.test.`, {
          headers: { 'x-api-key': LAB_ENV.PDNS_API_KEY ?? '' },
        });
        assert.equal(zone.status, 200, `round ${round}: PowerDNS serves the seeded zone`);
        await waitForPort(ports.imap, '127.0.0.1', 5000);
        await waitForPort(ports.redis, '127.0.0.1', 5000);
        assert.ok(lab.describe().length >= 5, lab.describe().join('\n'));
        // A second lab on the same folder would wipe this one's data from under it: refused.
        const second = await runCli(['lab', '--dir', temp.dir], {}, 20_000);
        assert.equal(second.code, 1, second.stderr);
        assert.match(second.stderr, /a lab is already running from .* \(pid \d+\)/);
        assert.equal((await fetch(`${lab.scaisendUrl}/ready`)).status, 200, 'the running lab is untouched');
      } finally {
        await lab.stop();
      }
    }
  } finally {
    await temp.remove();
  }
});

test('a lab in a checkout inside a private folder (mode 0700, as a home or /root is): the mail round trip passes', async () => {
  const temp = await makeTempDir('scaiprobe-private-');
  const labDir = join(temp.dir, 'home', 'scaiprobe', 'data', 'lab');
  await mkdir(labDir, { recursive: true });
  await chmod(join(temp.dir, 'home'), 0o700);
  let files: string | undefined;
  try {
    const ports = await freePorts();
    const lab = await startLab({ dir: labDir, ports, logger: pino({ level: 'silent' }) });
    files = await realpath(join(labDir, 'current'));
    try {
      const runs = await runYaml(
        `probes:
  - name: roundtrip
    kind: mail
    timeout: 30s
    send: { api: "${lab.scaisendUrl}", apiKey: "\${SCAISEND_API_KEY}", from: probe@send.example.test }
    seeds:
      - { name: seed-a, address: alice@example.test, imap: { host: 127.0.0.1, port: ${ports.imap}, secure: false, user: alice, pass: "\${SEED_A_PASS}" } }
    resolver: 127.0.0.1:${ports.pdns1Dns}
    expect: [missing == 0, inbox == 1, seed.seed-a.own.dkim == "pass"]
`,
        { env: { ...process.env, ...LAB_ENV } },
      );
      const run = runs.get('roundtrip');
      assert.equal(run?.status, 'pass', `${run?.message} ${JSON.stringify(run?.error)}`);
    } finally {
      await lab.stop();
    }
  } finally {
    await temp.remove();
    // Started by root, the servers' files live outside the private folder (see startLab).
    if (files && !files.startsWith(temp.dir)) await rm(files, { recursive: true, force: true });
  }
});
