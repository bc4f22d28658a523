// The ScaiDNS stand-in: its readiness checks and its HTTP app.
import { createLabApp, sendHealth, type LabApp } from './http-app.ts';

export const SCAIDNS_READY_CHECKS = ['database', 'redis', 'pdns', 'scaikey_jwks'] as const;

/**
 * ScaiDNS stand-in, following the ScaiDNS operator manual:
 * GET /health/live -> {"status":"ok"}; GET /health/ready -> the checks map, or
 * 503 {"status":"degraded", "checks": {..., "pdns": "connection refused"}}.
 */
export function createScaiDnsStandIn(): LabApp {
  const app = createLabApp('scaidns');
  app.route('GET', '/health/live', ({ faults }, res) => sendHealth(res, faults, 200, { status: 'ok' }));
  app.route('GET', '/health/ready', ({ faults }, res) => {
    const failing: Record<string, string> = {
      ...(faults.notReady ? { database: 'connection refused' } : {}),
      ...(faults.failChecks ?? {}),
    };
    const checks = { ...Object.fromEntries(SCAIDNS_READY_CHECKS.map((name) => [name, 'ok'])), ...failing };
    const degraded = Object.keys(failing).length > 0;
    sendHealth(res, faults, degraded ? 503 : 200, { status: degraded ? 'degraded' : 'ok', checks });
  });
  return app;
}
