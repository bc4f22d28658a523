// The lab's failLocations switch: the stand-ins fail requests from one fleet location (X-Scaiprobe-Location) and serve the others.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createScaiSendStandIn } from '../../src/lab/scaisend.ts';
import { createScaiDnsStandIn } from '../../src/lab/scaidns.ts';
import { LAB_API_KEYS, mountMailSend, type MountedMailSend } from '../../src/lab/mail-send.ts';
import type { LabApp } from '../../src/lab/http-app.ts';

let scaisend: LabApp;
let scaidns: LabApp;
let send: MountedMailSend;
const urls = { scaisend: '', scaidns: '' };

before(async () => {
  scaisend = createScaiSendStandIn();
  // Nothing is relayed (mailDrop below): the send API answers, and that is all this test reads.
  send = mountMailSend(scaisend, { relayPort: 1, dkimKeys: [] });
  scaidns = createScaiDnsStandIn();
  urls.scaisend = (await scaisend.listen(0)).url;
  urls.scaidns = (await scaidns.listen(0)).url;
});
after(async () => {
  await send.close();
  await scaisend.close();
  await scaidns.close();
});

const apiKey = Object.keys(LAB_API_KEYS)[0] ?? '';
const mail = JSON.stringify({
  personalizations: [{ to: [{ email: 'seed@inbound.example.test' }] }],
  from: { email: 'probe@send.example.test' },
  subject: 'hello',
  content: [{ type: 'text/plain', value: 'hello' }],
});

async function statusFrom(location: string | undefined, url: string, init: RequestInit = {}): Promise<number> {
  const headers = new Headers(init.headers);
  if (location) headers.set('X-Scaiprobe-Location', location);
  const response = await fetch(url, { ...init, headers });
  await response.arrayBuffer();
  return response.status;
}

async function setFaults(url: string, faults: unknown): Promise<void> {
  const response = await fetch(`${url}/__lab/faults`, { method: 'POST', body: JSON.stringify(faults) });
  assert.equal(response.status, 200);
}

test('failLocations: health, readiness and the send API answer 503 to that location only', async () => {
  const sendInit = (): RequestInit => ({
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: mail,
  });
  const endpoints = [
    `${urls.scaisend}/health`,
    `${urls.scaisend}/ready`,
    `${urls.scaidns}/health/live`,
    `${urls.scaidns}/health/ready`,
  ];
  await setFaults(urls.scaisend, { failLocations: ['eu-west'], mailDrop: true });
  await setFaults(urls.scaidns, { failLocations: ['eu-west'] });
  for (const url of endpoints) {
    assert.equal(await statusFrom('eu-west', url), 503, `${url} from eu-west`);
    assert.equal(await statusFrom('us-east', url), 200, `${url} from us-east`);
    assert.equal(await statusFrom(undefined, url), 200, `${url} with no location`);
  }
  assert.equal(await statusFrom('eu-west', `${urls.scaisend}/v3/mail/send`, sendInit()), 503);
  assert.equal(await statusFrom('us-east', `${urls.scaisend}/v3/mail/send`, sendInit()), 202);

  await setFaults(urls.scaisend, { failLocations: null });
  assert.equal(await statusFrom('eu-west', `${urls.scaisend}/health`), 200, 'cleared with null');
  assert.equal(await statusFrom('eu-west', `${urls.scaisend}/v3/mail/send`, sendInit()), 202);
  await fetch(`${urls.scaidns}/__lab/faults`, { method: 'DELETE' });
  assert.equal(await statusFrom('eu-west', `${urls.scaidns}/health/ready`), 200, 'cleared with DELETE');
});
