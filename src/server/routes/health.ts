// GET /health, /ready and /metrics: whether the daemon lives, whether it does its work, and its Prometheus metrics.
import type { ServerResponse } from 'node:http';
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
    res.writeHead(200, { 'content-type': deps.metrics.contentType });
    await streamText(res, deps.metrics.chunks());
  });
}

/** Writes the chunks as they come, waiting for a slow reader (the server's idle timeout ends one that stops); stops when the client goes. */
async function streamText(res: ServerResponse, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) await drainedOrClosed(res);
  }
  res.end();
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
