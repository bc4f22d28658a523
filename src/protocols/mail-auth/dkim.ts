// DKIM key records: the key type and size, or why the key cannot be read.
import { createPublicKey } from 'node:crypto';
import { parseTags } from './tags.ts';

/** Bits of a DKIM public key (p= base64 SubjectPublicKeyInfo); undefined when it cannot be read. */
export function dkimKeyBits(record: string): {
  bits?: number | undefined;
  type: string;
  revoked: boolean;
  error?: string;
} {
  const tags = parseTags(record);
  const type = (tags.k ?? 'rsa').toLowerCase();
  const p = (tags.p ?? '').replace(/\s+/g, '');
  if (!p) return { type, revoked: true };
  if (type === 'ed25519') return { type, bits: 256, revoked: false };
  try {
    const key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
    return { type, bits: key.asymmetricKeyDetails?.modulusLength, revoked: false };
  } catch (error) {
    return { type, revoked: false, error: `p= is not a readable public key (${(error as Error).message})` };
  }
}
