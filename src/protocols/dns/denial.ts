// Authenticated denial of existence: whether an NXDOMAIN's NSEC (RFC 4035 §5.4) or NSEC3 (RFC 5155 §8.4) records prove it.
import { createHash } from 'node:crypto';
import { canonicalNameWire } from './dnssec.ts';

export interface Nsec {
  owner: string;
  nextDomain: string;
}

export interface Nsec3 {
  /** The owner's first label: the hash, base32hex. */
  ownerHash: string;
  /** The zone the NSEC3 record's owner is in. */
  zone: string;
  algorithm: number;
  iterations: number;
  salt: Buffer;
  nextDomain: Buffer;
}

const labelsOf = (name: string): string[] =>
  name
    .toLowerCase()
    .replace(/\.$/, '')
    .split('.')
    .filter((label) => label !== '');

/** RFC 4034 §6.1 canonical order: by labels from the right, each compared as lower-case bytes. */
export function canonicalCompare(a: string, b: string): number {
  const left = labelsOf(a).reverse();
  const right = labelsOf(b).reverse();
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const order = Buffer.compare(Buffer.from(left[i] ?? ''), Buffer.from(right[i] ?? ''));
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

/** Whether the NSEC interval (owner, next) covers `name` strictly; the last NSEC wraps to the zone apex. */
export function nsecCovers(nsec: Nsec, name: string): boolean {
  const afterOwner = canonicalCompare(nsec.owner, name) < 0;
  const beforeNext = canonicalCompare(name, nsec.nextDomain) < 0;
  const wraps = canonicalCompare(nsec.nextDomain, nsec.owner) <= 0;
  return wraps ? afterOwner || beforeNext : afterOwner && beforeNext;
}

/** The closest encloser NSEC proofs allow: the longest ancestor of `name` that an NSEC's owner or next name shares. */
function nsecClosestEncloser(name: string, zone: string, nsecs: readonly Nsec[]): string {
  const labels = labelsOf(name);
  const zoneLength = labelsOf(zone).length;
  const known = nsecs.flatMap((nsec) => [nsec.owner, nsec.nextDomain]);
  for (let cut = 1; cut < labels.length - zoneLength + 1; cut++) {
    const candidate = `${labels.slice(cut).join('.')}.`;
    if (known.some((other) => canonicalCompare(other, candidate) === 0 || endsWithName(other, candidate)))
      return candidate;
  }
  return `${labelsOf(zone).join('.')}.`;
}

function endsWithName(name: string, suffix: string): boolean {
  const a = labelsOf(name);
  const b = labelsOf(suffix);
  return a.length >= b.length && a.slice(a.length - b.length).join('.') === b.join('.');
}

/** Why the NSEC records do not prove `name` does not exist (no name, no wildcard), or undefined when they do. */
export function nsecDenialProblem(name: string, zone: string, nsecs: readonly Nsec[]): string | undefined {
  if (!nsecs.some((nsec) => nsecCovers(nsec, name))) return `no NSEC covers ${name}`;
  const wildcard = `*.${nsecClosestEncloser(name, zone, nsecs)}`;
  if (!nsecs.some((nsec) => nsecCovers(nsec, wildcard))) return `no NSEC covers the wildcard ${wildcard}`;
  return undefined;
}

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

export function base32hex(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32HEX.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32HEX.charAt((value << (5 - bits)) & 31);
  return out;
}

/** RFC 5155 §5: the iterated, salted SHA-1 of a name, base32hex. At most 500 iterations are computed (RFC 9276 says 0). */
export function nsec3Hash(name: string, salt: Buffer, iterations: number): string {
  let digest = createHash('sha1')
    .update(Buffer.concat([canonicalNameWire(name), salt]))
    .digest();
  for (let i = 0; i < Math.min(iterations, 500); i++)
    digest = createHash('sha1')
      .update(Buffer.concat([digest, salt]))
      .digest();
  return base32hex(digest);
}

function nsec3Covers(record: Nsec3, hash: string): boolean {
  const owner = record.ownerHash.toLowerCase();
  const next = base32hex(record.nextDomain);
  return owner < next ? owner < hash && hash < next : owner < hash || hash < next;
}

/**
 * Why the NSEC3 records do not prove `name` does not exist, or undefined when they do: the closest encloser
 * matches an NSEC3, and NSEC3 records cover the next closer name and the wildcard at the closest encloser.
 */
export function nsec3DenialProblem(name: string, zone: string, records: readonly Nsec3[]): string | undefined {
  const first = records[0];
  if (!first) return 'no NSEC3 records';
  if (first.iterations > 500) return `NSEC3 iterations ${first.iterations} (over 500: RFC 9276 says use 0)`;
  const hash = (n: string) => nsec3Hash(n, first.salt, first.iterations);
  const owners = new Set(records.map((record) => record.ownerHash.toLowerCase()));
  const labels = labelsOf(name);
  const zoneLength = labelsOf(zone).length;
  for (let cut = 1; cut <= labels.length - zoneLength; cut++) {
    const encloser = `${labels.slice(cut).join('.')}.`;
    if (!owners.has(hash(encloser))) continue;
    const nextCloser = `${labels.slice(cut - 1).join('.')}.`;
    if (!records.some((record) => nsec3Covers(record, hash(nextCloser))))
      return `no NSEC3 covers the next closer name ${nextCloser}`;
    if (!records.some((record) => nsec3Covers(record, hash(`*.${encloser}`))))
      return `no NSEC3 covers the wildcard *.${encloser}`;
    return undefined;
  }
  return `no NSEC3 matches a closest encloser of ${name}`;
}
