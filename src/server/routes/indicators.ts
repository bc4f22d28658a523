// GET /api/v1/indicators: the current indicators, filtered by state and tenant.
import { z } from 'zod';
import type { Indicator } from '../../indicators/compute.ts';
import type { Clock } from '../../util/clock.ts';
import { sendJson, tenantScope, type Router } from '../router.ts';

const query = z.object({ state: z.enum(['ok', 'warn', 'critical']).optional(), tenant: z.string().optional() });

export function registerIndicatorRoutes(router: Router, deps: { indicators: () => Indicator[]; clock: Clock }): void {
  router.add(
    'GET',
    '/api/v1/indicators',
    ({ res, url, principal }) => {
      const filter = query.safeParse(Object.fromEntries(url.searchParams));
      if (!filter.success) return sendJson(res, 400, { error: 'state must be ok, warn or critical' });
      const tenant = tenantScope(principal, filter.data.tenant);
      if (tenant === 'forbidden') return sendJson(res, 403, { error: 'a tenant token reads only its own tenant' });
      const indicators = deps
        .indicators()
        .filter(
          (i) => (!filter.data.state || i.state === filter.data.state) && (tenant === undefined || i.tenant === tenant),
        );
      sendJson(res, 200, { at: new Date(deps.clock.now()).toISOString(), indicators });
    },
    { access: 'tenant' },
  );
}
