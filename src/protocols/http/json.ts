// A JSON GET with the errors a probe reports (AUTH, PROTOCOL).
import { ProbeFailure } from '../../core/errors.ts';
import type { HttpClient } from './client.ts';
import { wholeBody } from './body-limit.ts';

/** GETs `url` and reads its JSON answer; a refusal is AUTH, another status or a body that is not JSON is PROTOCOL, `what` names it. */
export async function getJson(
  io: { http: HttpClient; signal: AbortSignal },
  url: string,
  headers: Record<string, string>,
  what: string,
  maxBodyBytes: number,
): Promise<unknown> {
  const response = await io.http.request({
    url,
    headers: { accept: 'application/json', ...headers },
    signal: io.signal,
    maxBodyBytes,
  });
  if (response.status === 401 || response.status === 403)
    throw new ProbeFailure('AUTH', `${what} refused the credentials (${response.status})`);
  if (response.status !== 200)
    throw new ProbeFailure(
      'PROTOCOL',
      `${what} answered ${response.status}: ${response.body.toString().slice(0, 200)}`,
    );
  const body = wholeBody(response, maxBodyBytes, what);
  try {
    return JSON.parse(body.toString());
  } catch {
    throw new ProbeFailure('PROTOCOL', `${what} did not answer JSON`);
  }
}
