// Webhook receivers for the crash benchmarks: every request checked and recorded, one of them failing every third request, and the verdict over what they got.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash, createHmac } from 'node:crypto';

export const SECRETS = { flaky: 'kill-nine-flaky-secret', steady: 'kill-nine-steady-secret' } as const;
export type ChannelName = keyof typeof SECRETS;

export interface Received {
  channel: ChannelName;
  key: string;
  status: number;
  validSignature: boolean;
  bodyHash: string;
  type: string;
  alertId: string;
  startedAt: string;
}

function verify(req: IncomingMessage, body: string, secret: string): boolean {
  const parts = Object.fromEntries(
    String(req.headers['x-scaiprobe-signature'] ?? '')
      .split(',')
      .map((p) => p.split('=') as [string, string]),
  );
  if (!parts.t || !parts.v1) return false;
  return parts.v1 === createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
}

/** A receiver recording into `received`; the flaky one fails every third request: 429 with Retry-After, or 503, in turn. */
export function receiver(channel: ChannelName, received: Received[]): Server {
  let requests = 0;
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = ++requests;
      const body = Buffer.concat(chunks).toString();
      const parsed = JSON.parse(body) as { type: string; alert: { id: string; startedAt: string } };
      const status = channel === 'flaky' && n % 3 === 0 ? (n % 6 === 0 ? 503 : 429) : 200;
      received.push({
        channel,
        key: String(req.headers['idempotency-key'] ?? ''),
        status,
        validSignature: verify(req, body, SECRETS[channel]),
        bodyHash: createHash('sha256').update(body).digest('hex'),
        type: parsed.type,
        alertId: parsed.alert.id,
        startedAt: parsed.alert.startedAt,
      });
      res.writeHead(status, status === 429 ? { 'retry-after': '1' } : {}).end();
    });
  });
}

export interface OutboxRowSeen {
  key: string;
  channel: ChannelName;
  event: string;
  status: string;
}

/** What the receivers got against what was queued: undelivered rows, duplicates, order and signatures. */
export function deliveryVerdict(received: Received[], outbox: OutboxRowSeen[]) {
  const deliveries = new Map<string, Received[]>();
  for (const r of received)
    if (r.status >= 200 && r.status < 300)
      deliveries.set(`${r.channel} ${r.key}`, [...(deliveries.get(`${r.channel} ${r.key}`) ?? []), r]);
  const undelivered = outbox.filter(
    (row) => row.status !== 'delivered' || !deliveries.has(`${row.channel} ${row.key}`),
  );
  const duplicated = [...deliveries.values()].filter((list) => list.length > 1);
  // The same notification (alert, type, start) under two keys would be a duplicate a receiver cannot drop.
  const byNotification = new Map<string, Set<string>>();
  for (const r of received)
    if (r.type !== 'alert.reminder') {
      const id = `${r.channel} ${r.alertId} ${r.type} ${r.startedAt}`;
      byNotification.set(id, (byNotification.get(id) ?? new Set()).add(r.key));
    }
  return {
    undelivered: undelivered.length,
    duplicateCopies: duplicated.reduce((n, list) => n + list.length - 1, 0),
    differentBytes: duplicated.filter((list) => new Set(list.map((r) => r.bodyHash)).size > 1).length,
    underTwoKeys: [...byNotification.values()].filter((keys) => keys.size > 1).length,
    invalidSignatures: received.filter((r) => !r.validSignature).length,
    resolutionsFirst: resolutionsBeforeFiring(received),
  };
}

/** Per alert and channel, resolutions whose first delivery came before the first delivery of their firing. */
function resolutionsBeforeFiring(received: Received[]): number {
  const firstAt = new Map<string, number>();
  received.forEach((r, index) => {
    const id = `${r.channel} ${r.alertId} ${r.type} ${r.startedAt}`;
    if (r.status >= 200 && r.status < 300 && !firstAt.has(id)) firstAt.set(id, index);
  });
  let count = 0;
  for (const [id, index] of firstAt) {
    if (!id.includes(' alert.resolved ')) continue;
    const firing = firstAt.get(id.replace(' alert.resolved ', ' alert.firing '));
    if (firing === undefined || firing > index) count++;
  }
  return count;
}
