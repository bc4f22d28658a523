// A request's JSON body, for the few routes that take one: JSON only, and small.
import type { IncomingMessage } from 'node:http';

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; message: string };

/**
 * Reads a JSON body of at most `maxBytes`. Only `application/json` is taken:
 * a page in the operator's browser can send a form or plain text to a
 * loopback daemon without asking, but not JSON (that needs a CORS preflight,
 * which this daemon never grants).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    return { ok: false, status: 415, message: 'send the body as JSON (content-type: application/json)' };
  if (Number(req.headers['content-length'] ?? 0) > maxBytes)
    return { ok: false, status: 413, message: `the body may take at most ${maxBytes} bytes` };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return { ok: false, status: 413, message: `the body may take at most ${maxBytes} bytes` };
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return { ok: false, status: 400, message: 'the body is not valid JSON' };
  }
}
