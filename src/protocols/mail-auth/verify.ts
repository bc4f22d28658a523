// scaiprobe's own verdict on a message as it arrived: DKIM, DMARC, ARC and SPF by mailauth, over the probe's DNS.
import { authenticate, type AuthenticateResult, type DKIMResult } from 'mailauth';
import type { MailauthResolver } from './dns-resolver.ts';

/** One DKIM-Signature of the message, as we verified it. */
export interface SignatureVerdict {
  domain: string | null;
  selector: string | null;
  algorithm: string | null;
  /** pass, fail, neutral, policy, temperror, permerror. */
  result: string;
  /** Whether the body hashes to the signature's bh= (null when it was not computed). */
  bodyHash: 'ok' | 'mismatch' | null;
  keyBits: number | null;
  /** A passing signature whose d= aligns with the From domain (DMARC's rule and mode). */
  aligned: boolean;
  comment: string | null;
}

export interface OwnVerdict {
  /** pass when a signature passes, else the first signature's result, none when unsigned. */
  dkim: string;
  signatures: SignatureVerdict[];
  dmarc: string | null;
  /** The policy DMARC applies (p=, or sp= / np= for a subdomain). */
  dmarcPolicy: string | null;
  dmarcDkimAligned: boolean | null;
  dmarcSpfAligned: boolean | null;
  arc: string | null;
  /** SPF for the client address the trusted Received header gives; null without one. */
  spf: string | null;
  spfIp: string | null;
}

export interface VerifyOptions {
  resolver: MailauthResolver;
  signal: AbortSignal;
  /** More DKIM-Signature fields than this: not verified (anyone can mail a seed). */
  maxSignatures: number;
}

/** The header block, unfolded, as text (header field names and addresses are ASCII). */
function headerBlock(raw: Buffer): string {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
}

function topmost(block: string, name: string): string | undefined {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(block)?.[1]?.trim();
}

/**
 * The client of the last hop, from the topmost Received field, which the
 * receiving provider wrote (RFC 5321 section 4.4: `from HELO (name [IP])`);
 * fields below it may come from anyone.
 */
export function trustedClient(raw: Buffer): { ip: string; helo: string } | undefined {
  const received = topmost(headerBlock(raw), 'Received');
  const match = /^from\s+(\S+)\s+\(([^)]*)\)/i.exec(received ?? '');
  const ip = /\[(?:IPv6:)?([0-9A-Fa-f.:]+)\]/.exec(match?.[2] ?? '')?.[1];
  return match?.[1] && ip ? { ip, helo: match[1] } : undefined;
}

export function countSignatures(raw: Buffer): number {
  return (headerBlock(raw).match(/^dkim-signature:/gim) ?? []).length;
}

function keyBits(row: DKIMResult): number | null {
  if (typeof row.modulusLength === 'number') return row.modulusLength;
  return row.publicKey && /^ed25519/i.test(row.algo ?? '') ? 256 : null;
}

function signatureVerdict(row: DKIMResult): SignatureVerdict {
  const bodyHash =
    row.bodyHash && row.bodyHashExpecting ? (row.bodyHash === row.bodyHashExpecting ? 'ok' : 'mismatch') : null;
  return {
    domain: row.signingDomain?.toLowerCase() ?? null,
    selector: row.selector ?? null,
    algorithm: row.algo ?? null,
    result: row.status.result,
    bodyHash,
    keyBits: keyBits(row),
    aligned: row.status.result === 'pass' && Boolean(row.status.aligned),
    comment: row.status.comment ?? null,
  };
}

interface LooseDmarc {
  status: { result: string; policy?: { dmarc?: string } };
  policy?: string;
  alignment?: { dkim?: { result?: unknown }; spf?: { result?: unknown } };
}

function verdictOf(result: AuthenticateResult, client: { ip: string } | undefined): OwnVerdict {
  const signatures = result.dkim.results.filter((row) => row.signingDomain).map(signatureVerdict);
  // mailauth's declarations promise more than a result for an unusual message holds: read its DMARC part loosely.
  const dmarc = (result.dmarc || undefined) as LooseDmarc | undefined;
  return {
    dkim: signatures.some((s) => s.result === 'pass') ? 'pass' : (signatures[0]?.result ?? 'none'),
    signatures,
    dmarc: dmarc?.status.result ?? null,
    dmarcPolicy: dmarc ? (dmarc.status.policy?.dmarc ?? dmarc.policy ?? null) : null,
    dmarcDkimAligned: dmarc ? Boolean(dmarc.alignment?.dkim?.result) : null,
    dmarcSpfAligned: dmarc ? Boolean(dmarc.alignment?.spf?.result) : null,
    arc: result.arc ? result.arc.status.result : null,
    spf: client && result.spf ? result.spf.status.result : null,
    spfIp: client?.ip ?? null,
  };
}

/** `promise`, or the signal's reason as soon as it aborts (mailauth takes no signal). */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: () => void = () => undefined;
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, abort]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Verifies `raw` (the message as the seed stored it): every DKIM signature,
 * DMARC, the ARC chain, and SPF when the trusted Received field names the
 * client. Rejects when there are more signatures than allowed, and at once
 * when the signal aborts.
 */
export async function verifyOwn(raw: Buffer, options: VerifyOptions): Promise<OwnVerdict> {
  const count = countSignatures(raw);
  if (count > options.maxSignatures)
    throw new Error(`${count} DKIM signatures, more than maxSignatures (${options.maxSignatures}): not verified`);
  const client = trustedClient(raw);
  const sender = /<([^>]*)>/.exec(topmost(headerBlock(raw), 'Return-Path') ?? '')?.[1];
  const result = await untilAborted(
    authenticate(raw, {
      resolver: options.resolver as never,
      ...(client ? { ip: client.ip, helo: client.helo } : {}),
      ...(sender ? { sender } : {}),
      mta: 'scaiprobe',
      // Every check exactly as its RFC says (a body hash mismatch is dkim=fail, RFC 6376 6.1.3; SPF by RFC 7208).
      strict: true,
      disableBimi: true,
      minBitLength: 1024,
    }),
    options.signal,
  );
  return verdictOf(result, client);
}

const passes = (result: string | null | undefined) => result === 'pass';

/** Why a signature failed, in words a person acts on. */
function signatureNote(signature: SignatureVerdict, seed: string): string {
  const name = `d=${signature.domain ?? '?'} s=${signature.selector ?? '?'}${signature.algorithm ? ` (${signature.algorithm})` : ''}`;
  const why =
    signature.bodyHash === 'mismatch'
      ? 'body hash mismatch: the body was altered after signing'
      : (signature.comment ?? 'signature did not verify');
  return `${seed}: DKIM signature ${name} ${signature.result}: ${why}`;
}

const HINTS: Record<string, [string, string]> = {
  // [provider fails and we pass, provider passes and we fail]
  dkim: ['body altered in transit?', 'the copy was altered after the provider verified it, or the key changed since?'],
  dmarc: ['the provider saw another From or other signatures?', 'the provider aligned on something we did not see?'],
  spf: ['the provider judged another hop or sender?', 'the provider judged another hop or sender?'],
};

/**
 * The run message's notes for one seed: each DKIM signature that does not
 * pass, and each method where the provider's header and our verification
 * disagree ("provider says dkim=fail, our verification passes: body altered in transit?").
 */
export function verdictNotes(
  seed: string,
  provider: { spf: string | null; dkim: string | null; dmarc: string | null } | undefined,
  own: OwnVerdict,
): string[] {
  const notes = own.signatures.filter((s) => !passes(s.result)).map((s) => signatureNote(s, seed));
  for (const method of ['dkim', 'dmarc', 'spf'] as const) {
    const theirs = provider?.[method];
    const ours = own[method];
    if (!theirs || !ours || passes(theirs) === passes(ours)) continue;
    const hint = HINTS[method]?.[passes(ours) ? 0 : 1] ?? '';
    const verb = passes(ours) ? 'passes' : `says ${method}=${ours}`;
    notes.push(`${seed}: provider says ${method}=${theirs}, our verification ${verb}: ${hint}`);
  }
  return notes;
}
