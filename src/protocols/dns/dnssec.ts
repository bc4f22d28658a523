// DNSSEC checks over answers already received (RFC 4034, 4035, 5155, 6840): RRSIGs verified with Node's crypto, key tags, DS digests.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Answer } from 'dns-packet';

// dns-packet's per-type record codecs exist at run time but are missing from its type declarations.
const require = createRequire(import.meta.url);
const packet = require('dns-packet') as {
  record(type: string): { encode(data: unknown): Buffer };
  name: { encode(name: string): Buffer };
};
const typeCodes = require('dns-packet/types.js') as { toType(name: string): number };

export interface Rrsig {
  typeCovered: string;
  algorithm: number;
  labels: number;
  originalTTL: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signersName: string;
  signature: Buffer;
}

export interface Dnskey {
  flags: number;
  algorithm: number;
  key: Buffer;
}

export interface Ds {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Buffer;
}

/** The algorithms scaiprobe verifies, by number (RFC 8624's "MUST" and "RECOMMENDED" ones). */
export const ALGORITHMS: Readonly<Record<number, string>> = {
  8: 'RSASHA256',
  10: 'RSASHA512',
  13: 'ECDSAP256SHA256',
  14: 'ECDSAP384SHA384',
  15: 'ED25519',
};

export function algorithmName(algorithm: number): string {
  return ALGORITHMS[algorithm] ?? `algorithm ${algorithm}`;
}

/** A DNSKEY's SEP bit: a key-signing key, the one a DS at the parent points to. */
export const isSep = (key: Dnskey): boolean => (key.flags & 1) === 1;

/** A name in canonical wire form: lower case, uncompressed (RFC 4034 §6.2). */
export function canonicalNameWire(name: string): Buffer {
  const lower = name.toLowerCase();
  return packet.name.encode(lower === '.' || lower === '' ? '.' : lower.replace(/\.$/, ''));
}

/** Types whose RDATA names are lowered in canonical form (RFC 4034 §6.2 as corrected by RFC 6840 §5.1). */
const NAME_FIELDS: Readonly<Record<string, readonly string[]>> = {
  NS: [''],
  CNAME: [''],
  PTR: [''],
  DNAME: [''],
  MX: ['exchange'],
  SOA: ['mname', 'rname'],
  SRV: ['target'],
  NAPTR: ['replacement'],
  RP: ['mbox', 'txt'],
};

/** A record's RDATA in canonical form, re-encoded from what dns-packet decoded. */
export function canonicalRdata(record: Answer): Buffer {
  const type = record.type;
  let data = (record as { data?: unknown }).data;
  const fields = NAME_FIELDS[type];
  if (fields?.[0] === '' && typeof data === 'string') data = data.toLowerCase();
  else if (fields && data !== null && typeof data === 'object') {
    const copy = { ...(data as Record<string, unknown>) };
    for (const field of fields) if (typeof copy[field] === 'string') copy[field] = copy[field].toLowerCase();
    data = copy;
  }
  return packet.record(type).encode(data).subarray(2);
}

export function dnskeyRdata(key: Dnskey): Buffer {
  return Buffer.concat([Buffer.from([key.flags >> 8, key.flags & 0xff, 3, key.algorithm]), key.key]);
}

/** The key tag of a DNSKEY (RFC 4034 Appendix B), as RRSIGs and DS records name it. */
export function keyTag(key: Dnskey): number {
  const rdata = dnskeyRdata(key);
  let sum = 0;
  for (let i = 0; i < rdata.length; i++) sum += i & 1 ? (rdata[i] ?? 0) : (rdata[i] ?? 0) << 8;
  sum += (sum >> 16) & 0xffff;
  return sum & 0xffff;
}

const DS_DIGESTS: Readonly<Record<number, string>> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** The DS digest of a zone's DNSKEY (RFC 4034 §5.1.4), or undefined for a digest type we do not know. */
export function dsDigest(zone: string, key: Dnskey, digestType: number): Buffer | undefined {
  const hash = DS_DIGESTS[digestType];
  if (!hash) return undefined;
  return createHash(hash)
    .update(Buffer.concat([canonicalNameWire(zone), dnskeyRdata(key)]))
    .digest();
}

/** Whether a DS record points at this DNSKEY: same tag and algorithm, and the digest matches. */
export function dsMatches(zone: string, ds: Ds, key: Dnskey): boolean {
  if (ds.keyTag !== keyTag(key) || ds.algorithm !== key.algorithm) return false;
  const digest = dsDigest(zone, key, ds.digestType);
  return digest !== undefined && digest.equals(ds.digest);
}

function labelCount(name: string): number {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return labels[0] === '*' ? labels.length - 1 : labels.length;
}

/** The owner an RRSIG signed: the name itself, or the wildcard it was expanded from (RFC 4035 §5.3.2). */
function signedOwner(owner: string, rrsig: Rrsig): string {
  const labels = owner.replace(/\.$/, '').split('.').filter(Boolean);
  if (rrsig.labels >= labels.length) return owner;
  return `*.${labels.slice(labels.length - rrsig.labels).join('.')}.`;
}

/** The data an RRSIG signs (RFC 4034 §3.1.8.1): its own RDATA without the signature, then the RRset in canonical order. */
export function signedData(rrsig: Rrsig, rrset: readonly Answer[]): Buffer {
  const header = Buffer.alloc(18);
  header.writeUInt16BE(typeCodes.toType(rrsig.typeCovered), 0);
  header.writeUInt8(rrsig.algorithm, 2);
  header.writeUInt8(rrsig.labels, 3);
  header.writeUInt32BE(rrsig.originalTTL, 4);
  header.writeUInt32BE(rrsig.expiration, 8);
  header.writeUInt32BE(rrsig.inception, 12);
  header.writeUInt16BE(rrsig.keyTag, 16);
  const first = rrset[0];
  if (!first) return Buffer.concat([header, canonicalNameWire(rrsig.signersName)]);
  const owner = canonicalNameWire(signedOwner(first.name, rrsig));
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16BE(typeCodes.toType(rrsig.typeCovered), 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(rrsig.originalTTL, 4);
  const rdatas = [...new Map(rrset.map((r) => canonicalRdata(r)).map((d) => [d.toString('hex'), d])).values()].sort(
    (a, b) => Buffer.compare(a, b),
  );
  const parts: Buffer[] = [header, canonicalNameWire(rrsig.signersName)];
  for (const rdata of rdatas) {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(rdata.length, 0);
    parts.push(owner, fixed, length, rdata);
  }
  return Buffer.concat(parts);
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/** A DNSKEY as a public key Node's crypto verifies with (RFC 3110, 6605, 8080), or why it cannot be one. */
export function publicKeyOf(key: Dnskey): KeyObject | string {
  try {
    switch (key.algorithm) {
      case 8:
      case 10: {
        const long = key.key[0] === 0;
        const length = long ? key.key.readUInt16BE(1) : (key.key[0] ?? 0);
        const start = long ? 3 : 1;
        const e = key.key.subarray(start, start + length);
        const n = key.key.subarray(start + length);
        if (e.length === 0 || n.length === 0) return 'the RSA key is cut short';
        return createPublicKey({ key: { kty: 'RSA', n: base64url(n), e: base64url(e) }, format: 'jwk' });
      }
      case 13:
      case 14: {
        const size = key.algorithm === 13 ? 32 : 48;
        if (key.key.length !== 2 * size) return `the ECDSA key is ${key.key.length} bytes, not ${2 * size}`;
        const crv = key.algorithm === 13 ? 'P-256' : 'P-384';
        const x = base64url(key.key.subarray(0, size));
        const y = base64url(key.key.subarray(size));
        return createPublicKey({ key: { kty: 'EC', crv, x, y }, format: 'jwk' });
      }
      case 15:
        if (key.key.length !== 32) return `the Ed25519 key is ${key.key.length} bytes, not 32`;
        return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(key.key) }, format: 'jwk' });
      default:
        return `${algorithmName(key.algorithm)} is not supported`;
    }
  } catch (error) {
    return `the key is malformed (${(error as Error).message})`;
  }
}

const HASHES: Readonly<Record<number, string | null>> = {
  8: 'sha256',
  10: 'sha512',
  13: 'sha256',
  14: 'sha384',
  15: null,
};

/** Whether the signature is the key's over the data; never throws. */
export function signatureValid(key: KeyObject, algorithm: number, data: Buffer, signature: Buffer): boolean {
  const hash = HASHES[algorithm];
  if (hash === undefined) return false;
  try {
    if (algorithm === 13 || algorithm === 14) return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/** Whether `at` (seconds) lies in the RRSIG's validity window, in RFC 1982 serial arithmetic as RFC 4034 §3.1.5 says. */
export function withinValidity(rrsig: Rrsig, at: number): { valid: boolean; why?: string } {
  const now = at >>> 0;
  if (((now - rrsig.inception) | 0) < 0)
    return { valid: false, why: `not valid before ${new Date(rrsig.inception * 1000).toISOString()}` };
  if (((rrsig.expiration - now) | 0) < 0)
    return { valid: false, why: `expired ${new Date(rrsig.expiration * 1000).toISOString()}` };
  return { valid: true };
}

export interface RrsetVerdict {
  /** Some RRSIG over the RRset verifies with a key of the zone, in its validity window. */
  valid: boolean;
  /** Key tags of the RRSIGs that verified. */
  signedBy: number[];
  /** Why each RRSIG that did not verify failed (empty when one verified, unless others failed too). */
  problems: string[];
  /** The earliest expiration (seconds) among the RRSIGs that verified. */
  expiresAt: number | undefined;
}

/** Checks an RRset against its RRSIGs and the zone's DNSKEYs (RFC 4035 §5.3). */
export function verifyRrset(
  rrset: readonly Answer[],
  rrsigs: readonly Rrsig[],
  keys: readonly Dnskey[],
  zone: string,
  at: number,
): RrsetVerdict {
  const verdict: RrsetVerdict = { valid: false, signedBy: [], problems: [], expiresAt: undefined };
  if (rrsigs.length === 0) return { ...verdict, problems: ['no RRSIG'] };
  for (const rrsig of rrsigs) {
    const problem = rrsigProblem(rrset, rrsig, keys, zone, at);
    if (problem) {
      verdict.problems.push(`RRSIG by key ${rrsig.keyTag} (${algorithmName(rrsig.algorithm)}): ${problem}`);
      continue;
    }
    verdict.valid = true;
    verdict.signedBy.push(rrsig.keyTag);
    verdict.expiresAt = Math.min(verdict.expiresAt ?? Infinity, rrsig.expiration);
  }
  return verdict;
}

function rrsigProblem(
  rrset: readonly Answer[],
  rrsig: Rrsig,
  keys: readonly Dnskey[],
  zone: string,
  at: number,
): string | undefined {
  if (rrsig.signersName.toLowerCase().replace(/\.?$/, '.') !== zone.toLowerCase().replace(/\.?$/, '.'))
    return `signed by ${rrsig.signersName}, not the zone`;
  const owner = rrset[0]?.name ?? '';
  if (rrsig.labels > labelCount(owner)) return `claims ${rrsig.labels} labels, the owner has ${labelCount(owner)}`;
  const window = withinValidity(rrsig, at);
  if (!window.valid) return window.why;
  const candidates = keys.filter((key) => key.algorithm === rrsig.algorithm && keyTag(key) === rrsig.keyTag);
  if (candidates.length === 0) return 'no DNSKEY of the zone has that key tag and algorithm';
  const data = signedData(rrsig, rrset);
  const reasons: string[] = [];
  for (const key of candidates) {
    const publicKey = publicKeyOf(key);
    if (typeof publicKey === 'string') reasons.push(publicKey);
    else if (signatureValid(publicKey, rrsig.algorithm, data, rrsig.signature)) return undefined;
    else reasons.push('the signature does not verify');
  }
  return reasons.join('; ');
}
