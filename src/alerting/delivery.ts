// One HTTP attempt at a receiver, and what its answer means for the notification.
/** One HTTP attempt at a receiver, and what its answer means for the notification. */

export type SendResult =
  { status: number; retryAfter?: string | null; answer?: string; location?: string | null } | { error: string };
/** One HTTP attempt; injectable for tests, real fetch by default. */
export type Transport = (
  url: string,
  init: { headers: Record<string, string>; body: string; timeoutMs: number },
) => Promise<SendResult>;

/** How much of a receiver's answer is kept with a row: enough to read its error, not a page it may send. */
export const ANSWER_CHARS = 500;

async function answerOf(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Read no more than we keep (in bytes, a UTF-8 character is at most 4): a hostile receiver may answer gigabytes.
  while (size < ANSWER_CHARS * 4) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).toString('utf8').slice(0, ANSWER_CHARS);
}

export const fetchTransport: Transport = async (url, init) => {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.timeout(init.timeoutMs),
      redirect: 'manual',
    });
    const ok = response.status >= 200 && response.status < 300;
    // A 2xx needs no body kept; other answers are what a person reads to fix the channel.
    const answer = ok
      ? (await response.arrayBuffer().catch(() => undefined), '')
      : await answerOf(response).catch(() => '');
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      answer,
      location: response.headers.get('location'),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (error as Error).message };
  }
};

/** Retry-After as seconds or an HTTP date; milliseconds from now, or undefined. */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * 4xx answers that may succeed when repeated unchanged: timeout, conflict,
 * too early, too many requests. Any other 4xx says the request itself is
 * wrong (a bad URL, key or body), so repeating it for a day only hides that.
 */
const RETRYABLE_CLIENT_ERRORS = new Set([408, 409, 425, 429]);

export function isPermanent(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_CLIENT_ERRORS.has(status);
}

export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; at: number; status: number | null; error: string; answer: string | null }
  | { kind: 'failed' | 'expired'; status: number | null; error: string; answer: string | null };

export interface Judgement {
  /** Attempts made, this one included. */
  attempts: number;
  expiresAt: number;
  /** When the attempt ended. */
  now: number;
  /** The backoff before the next attempt, from the attempts made. */
  backoff: number;
  /** Attempts a permanent client error gets before the row is failed. */
  clientErrorAttempts: number;
}

/** What one attempt's result means for its row. */
export function judge(result: SendResult, j: Judgement): Outcome {
  if ('status' in result && result.status >= 200 && result.status < 300)
    return { kind: 'delivered', status: result.status };
  const status = 'status' in result ? result.status : null;
  // A redirect is not followed (the signed body goes only to the configured URL): say where it pointed.
  const error =
    'status' in result
      ? `HTTP ${result.status}${result.location ? ` (redirect to ${result.location}, not followed)` : ''}`
      : result.error;
  const answer = 'status' in result && result.answer ? result.answer : null;
  if (status !== null && isPermanent(status) && j.attempts >= j.clientErrorAttempts)
    return { kind: 'failed', status, error, answer };
  // Retry-After: 0 (or a date in the past) falls back to the backoff, so a receiver cannot make us spin.
  const honoured =
    status === 429 || status === 503
      ? retryAfterMs('status' in result ? result.retryAfter : undefined, j.now)
      : undefined;
  const at = j.now + Math.max(1, honoured || j.backoff);
  if (at >= j.expiresAt) return { kind: 'expired', status, error, answer };
  return { kind: 'retry', at, status, error, answer };
}
