// GET /health, /ready and /metrics: whether the daemon lives, whether it does its work, and its Prometheus metrics.
import type { ProbeMetrics } from '../metrics.ts';
import { sendJson, type Router } from '../router.ts';

export function registerHealthRoutes(
  router: Router,
  deps: { metrics: ProbeMetrics; isReady(): boolean; problems?(): string[] },
): void {
  router.add('GET', '/health', ({ res }) => sendJson(res, 200, { status: 'ok' }), { access: 'public' });
  router.add(
    'GET',
    '/ready',
    ({ res }) => {
      if (!deps.isReady()) return sendJson(res, 503, { status: 'starting' });
      const problems = deps.problems?.() ?? [];
      if (problems.length > 0) return sendJson(res, 503, { status: 'not ready', problems });
      sendJson(res, 200, { status: 'ready' });
    },
    { access: 'public' },
  );
  router.add('GET', '/metrics', async ({ res }) => {
    const body = await deps.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(body);
  });
}
