// GET /api/v1/alerts and /api/v1/alerts/outbox: alert states and the notifications queued for them (admin only).
import type { AlertService } from '../../alerting/service.ts';
import { isOutboxStatus, OUTBOX_STATUSES } from '../../alerting/outbox.ts';
import { sendJson, type Router } from '../router.ts';

export function registerAlertRoutes(router: Router, alerts: AlertService): void {
  router.add('GET', '/api/v1/alerts', async ({ res }) => sendJson(res, 200, await alerts.overview()));
  router.add('GET', '/api/v1/alerts/outbox', async ({ res, url }) => {
    const status = url.searchParams.get('status');
    if (status && !isOutboxStatus(status))
      return sendJson(res, 400, { error: `status must be one of ${OUTBOX_STATUSES.join(', ')}` });
    const [counts, rows] = await Promise.all([
      alerts.outbox.counts(),
      alerts.outbox.rows({ ...(status && isOutboxStatus(status) ? { status } : {}), limit: 500 }),
    ]);
    sendJson(res, 200, { counts, rows });
  });
}
