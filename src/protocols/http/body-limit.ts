// Response body limits: the maxBodyBytes field and reading a body that must be whole.
import { z } from 'zod';
import { ProbeFailure } from '../../core/errors.ts';
import type { HttpResponse } from './client.ts';

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** A probe's `maxBodyBytes`: how much of a response body is read (1 B to 64 MiB, default 1 MiB). */
export const maxBodyBytesField = () =>
  z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .default(DEFAULT_MAX_BODY_BYTES);

/**
 * The body of a response read whole. A body cut at the limit fails the run:
 * parsed, it gives misleading errors ("line N", "not JSON") or, cut at a line
 * boundary, wrong values (a series missing from a scrape, records missing
 * from a zone) that would be reported as if they were right.
 */
export function wholeBody(response: HttpResponse, maxBodyBytes: number, what: string): Buffer {
  if (response.bodyTruncated)
    throw new ProbeFailure('PROTOCOL', `${what}: body exceeds maxBodyBytes (${maxBodyBytes})`);
  return response.body;
}
