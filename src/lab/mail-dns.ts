// The lab's sending domains in DNS: DKIM keys made at each start, and the zones that publish them with SPF and DMARC.
import { generateKeyPair } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabZoneWriter } from './zone-writer.ts';

/** The domain the ScaiSend stand-in signs and bounces as when a tenant's own domain is not set up (SendGrid's sendgrid.net). */
export const ESP_DOMAIN = 'scaisend.test';
/** Domains whose keys, SPF and DMARC the lab publishes: a tenant's authenticated domain and the stand-in's own. */
export const LAB_SENDING_DOMAINS = ['send.example.test', ESP_DOMAIN];
/** The client addresses the lab's SPF records permit (the relay connects from 127.0.0.1; 127.0.0.2 is not listed). */
const SPF_RECORD = 'v=spf1 ip4:127.0.0.1 -all';

export interface LabDkimKey {
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The public key as p= has it (base64). */
  publicKey: string;
  /** The `<selector>._domainkey` TXT value. */
  record: string;
}

const ENCODING = {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'der' },
} as const;

function keyPair(type: 'rsa' | 'ed25519'): Promise<{ privateKey: string; publicKey: Buffer }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: Buffer, privateKey: string) =>
      error ? reject(error) : resolve({ publicKey, privateKey });
    if (type === 'rsa') generateKeyPair('rsa', { modulusLength: 2048, ...ENCODING }, done);
    else generateKeyPair('ed25519', ENCODING, done);
  });
}

/** An RSA 2048 and an Ed25519 key (RFC 8463: the raw 32-byte public key in p=), written to `<dir>/dkim/` for people to inspect. */
export async function makeDkimKeys(dir: string): Promise<LabDkimKey[]> {
  const [rsa, ed] = await Promise.all([keyPair('rsa'), keyPair('ed25519')]);
  const rsaPublic = rsa.publicKey.toString('base64');
  const edPublic = ed.publicKey.subarray(-32).toString('base64');
  const keys: LabDkimKey[] = [
    {
      selector: 'scai1',
      algorithm: 'rsa-sha256',
      privateKey: rsa.privateKey,
      publicKey: rsaPublic,
      record: `v=DKIM1; k=rsa; p=${rsaPublic}`,
    },
    {
      selector: 'scai1-ed',
      algorithm: 'ed25519-sha256',
      privateKey: ed.privateKey,
      publicKey: edPublic,
      record: `v=DKIM1; k=ed25519; p=${edPublic}`,
    },
  ];
  await mkdir(join(dir, 'dkim'), { recursive: true, mode: 0o700 });
  await Promise.all(
    keys.map((key) => writeFile(join(dir, 'dkim', `${key.selector}.pem`), key.privateKey, { mode: 0o600 })),
  );
  return keys;
}

/** Splits a TXT value into quoted <=255-byte strings, as the PowerDNS API wants it. */
function quoteTxt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

function dmarcRecord(domain: string, policy: string) {
  return {
    name: `_dmarc.${domain}.`,
    type: 'TXT',
    ttl: 60,
    records: [quoteTxt(`v=DMARC1; p=${policy}; adkim=r; aspf=r`)],
  };
}

/** One zone per sending domain: SPF, DMARC (policy none) and both selectors. */
function sendingZone(domain: string, keys: LabDkimKey[]) {
  return [
    { name: `${domain}.`, type: 'TXT', ttl: 60, records: [quoteTxt(SPF_RECORD)] },
    dmarcRecord(domain, 'none'),
    ...keys.map((key) => ({
      name: `${key.selector}._domainkey.${domain}.`,
      type: 'TXT',
      ttl: 60,
      records: [quoteTxt(key.record)],
    })),
  ];
}

export interface LabMailDns {
  /** The PowerDNS port (127.0.0.1) the lab's receiver asks. */
  dnsPort: number;
  /** Publishes `p=<policy>` for every sending domain, when it is not what is published already. */
  setDmarcPolicy(policy: string): Promise<void>;
}

/** Creates the sending domains' zones (on every server `writer` writes to). */
export async function publishMailZones(writer: LabZoneWriter, keys: LabDkimKey[]): Promise<LabMailDns> {
  for (const domain of LAB_SENDING_DOMAINS) await writer.createZone(`${domain}.`, sendingZone(domain, keys));
  let published = 'none';
  // One change at a time: PowerDNS's SQLite backend answers 500 to a PATCH while another one writes.
  let changing: Promise<void> = Promise.resolve();
  return {
    dnsPort: writer.dnsPort,
    setDmarcPolicy(policy) {
      const change = changing.then(async () => {
        if (policy === published) return;
        for (const domain of LAB_SENDING_DOMAINS) await writer.setRrset(`${domain}.`, dmarcRecord(domain, policy));
        published = policy;
      });
      changing = change.catch(() => undefined);
      return change;
    },
  };
}
