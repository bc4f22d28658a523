// The ScaiSend stand-in: health and readiness, metrics, and the routes the mail, stats and queue parts mount.
import { createLabApp, sendHealth, type LabApp } from './http-app.ts';

/**
 * ScaiSend stand-in, following the ScaiSend operator manual:
 * GET /health -> 200 {"status":"healthy"}; GET /ready -> 200 {"status":"ready"} or 503.
 * Other parts of the lab mount more routes on the returned app (mail send, stats).
 */
export function createScaiSendStandIn(): LabApp {
  const app = createLabApp('scaisend');
  app.route('GET', '/health', ({ faults }, res) => sendHealth(res, faults, 200, { status: 'healthy' }));
  app.route('GET', '/ready', ({ faults }, res) => {
    const failing = faults.notReady || Object.keys(faults.failChecks ?? {}).length > 0;
    if (failing) sendHealth(res, faults, 503, { status: 'not ready', detail: 'database unreachable' });
    else sendHealth(res, faults, 200, { status: 'ready' });
  });
  return app;
}
