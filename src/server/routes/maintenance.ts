// /api/v1/maintenance: maintenance windows started at run time (from a deploy pipeline), listed and ended (admin only).
import { z } from 'zod';
import type { Logger } from 'pino';
import type { MaintenanceWindowRepository, MaybeAsync } from '../../store/repositories.ts';
import type { MaintenanceWindow } from '../../store/types.ts';
import type { Clock } from '../../util/clock.ts';
import { formatDuration, parseDuration } from '../../core/duration.ts';
import { globMatch } from '../../util/glob.ts';
import { readJsonBody } from '../body.ts';
import { sendError, sendJson, type Router } from '../router.ts';

/** A window held open longer than this is more likely forgotten than meant; configured windows cover longer ones. */
export const MAX_WINDOW_MS = 7 * 24 * 3_600_000;
const MAX_BODY_BYTES = 16 * 1024;

const glob = z.string().trim().min(1, 'must not be empty').max(200);

const startRequest = z
  .strictObject({
    /** Probe-name globs, as a list or one text with commas. */
    probes: z.union([
      glob.transform((text) =>
        text
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      ),
      z.array(glob).min(1).max(100),
    ]),
    /** How long: a duration text (`30m`) or milliseconds. */
    for: z.union([z.string(), z.number()]).optional(),
    /** Or until when: an ISO time with an offset. */
    until: z.iso.datetime({ offset: true }).optional(),
    reason: z.string().max(500).default(''),
  })
  .refine((body) => (body.for === undefined) !== (body.until === undefined), {
    error: 'give "for" (a duration such as 30m) or "until" (an ISO time), one of them',
  });

export interface MaintenanceView {
  id: number;
  probes: string[];
  reason: string;
  startsAt: string;
  endsAt: string;
  endedAt: string | null;
  active: boolean;
}

export function viewOf(window: MaintenanceWindow, now: number): MaintenanceView {
  const iso = (t: number) => new Date(t).toISOString();
  const over = Math.min(window.endsAt, window.endedAt ?? window.endsAt);
  return {
    id: window.id,
    probes: window.probes,
    reason: window.reason,
    startsAt: iso(window.startsAt),
    endsAt: iso(window.endsAt),
    endedAt: window.endedAt === null ? null : iso(window.endedAt),
    active: window.startsAt <= now && now < over,
  };
}

/** The window's length from the request, or why it cannot be taken. */
function lengthOf(
  body: { for?: string | number | undefined; until?: string | undefined },
  now: number,
): number | string {
  const ms =
    body.until !== undefined
      ? Date.parse(body.until) - now
      : typeof body.for === 'number'
        ? body.for
        : parseDuration(body.for ?? '');
  if (ms === undefined || !Number.isFinite(ms))
    return `"for" must be a duration such as 30m or 2h (got ${JSON.stringify(body.for)})`;
  if (ms <= 0) return body.until !== undefined ? '"until" is not in the future' : '"for" must be longer than nothing';
  if (ms > MAX_WINDOW_MS)
    return `a window lasts at most ${formatDuration(MAX_WINDOW_MS)}; for longer ones configure alerts.maintenance`;
  return ms;
}

export interface MaintenanceRouteDeps {
  /** The embedded store's windows, or a fleet's shared ones (answering through Promises). */
  windows: MaybeAsync<MaintenanceWindowRepository>;
  clock: Clock;
  logger: Logger;
  /** The configured probes' names: a glob that matches none of them is most likely a typo. */
  probes(): string[];
}

export function registerMaintenanceRoutes(router: Router, deps: MaintenanceRouteDeps): void {
  // The newest windows (`limit`, 50 by default), or with `active=true` every window in force.
  router.add('GET', '/api/v1/maintenance', async ({ res, url }) => {
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const now = deps.clock.now();
    const windows =
      url.searchParams.get('active') === 'true'
        ? await deps.windows.active(now)
        : await deps.windows.list({ limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 500) : 50 });
    sendJson(res, 200, { windows: windows.map((w) => viewOf(w, now)) });
  });

  router.add('POST', '/api/v1/maintenance', async ({ req, res }) => {
    const body = await readJsonBody(req, MAX_BODY_BYTES);
    if (!body.ok) return sendError(res, body.status, body.message);
    const parsed = startRequest.safeParse(body.value);
    if (!parsed.success)
      return sendError(
        res,
        400,
        parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '),
      );
    const now = deps.clock.now();
    const length = lengthOf(parsed.data, now);
    if (typeof length === 'string') return sendError(res, 400, length);
    const configured = deps.probes();
    const matchingNothing = parsed.data.probes.filter(
      (pattern) => !configured.some((name) => globMatch(pattern, name)),
    );
    if (matchingNothing.length > 0)
      return sendError(res, 400, `${matchingNothing.map((p) => `"${p}"`).join(', ')} matches no configured probe`);
    const window = await deps.windows.add({
      probes: parsed.data.probes,
      reason: parsed.data.reason,
      startsAt: now,
      endsAt: now + length,
      createdAt: now,
    });
    const matched = configured.filter((name) => window.probes.some((pattern) => globMatch(pattern, name)));
    deps.logger.info(
      { window: window.id, probes: window.probes, until: new Date(window.endsAt).toISOString(), reason: window.reason },
      'maintenance window started: alerts of its probes are held',
    );
    sendJson(res, 201, { ...viewOf(window, now), matches: matched });
  });

  router.add('DELETE', '/api/v1/maintenance/:id', async ({ res, params }) => {
    const id = Number(params.id);
    if (!Number.isSafeInteger(id) || id <= 0)
      return sendError(res, 400, `a window id is a number (got ${JSON.stringify(params.id)})`);
    const now = deps.clock.now();
    const before = await deps.windows.get(id);
    if (!before) return sendError(res, 404, `no maintenance window ${id}`);
    const window = (await deps.windows.end(id, now)) ?? before;
    const ended = viewOf(before, now).active;
    if (ended)
      deps.logger.info(
        { window: id, probes: window.probes },
        'maintenance window ended: the notifications it held go out now',
      );
    // Ending a window that is over already is not an error: a pipeline's retry must not fail.
    sendJson(res, 200, { ...viewOf(window, now), endedNow: ended });
  });
}
