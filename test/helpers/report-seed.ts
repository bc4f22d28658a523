import type { RunItem } from '../../src/core/probe.ts';
import type { SqliteStore } from '../../src/store/sqlite/store.ts';
import type { RunRecord, RunStatus } from '../../src/store/types.ts';

let counter = 0;
export function run(
  probe: string,
  kind: string,
  tenant: string | undefined,
  startedAt: number,
  extra: Partial<RunRecord> = {},
): RunRecord {
  counter += 1;
  return {
    uid: `seed-${counter}`,
    probe,
    kind,
    ...(tenant ? { tenant } : {}),
    startedAt,
    durationMs: 1000,
    status: 'pass',
    attempts: 1,
    message: 'ok',
    error: null,
    observations: {},
    assertions: [],
    phases: {},
    items: [],
    ...extra,
  };
}

export type Auth = { spf: string; dkim: string; dmarc: string } | null;
export function mailItem(
  seed: string,
  placement: string,
  tti: number | null,
  auth: Auth,
  token = `t${counter}`,
): RunItem {
  return {
    type: 'mail.message',
    key: `${seed}:${token}`,
    data: {
      seed,
      address: `${seed}@seeds.test`,
      token,
      placement,
      timeToInboxMs: tti,
      folder: placement === 'inbox' ? 'INBOX' : placement === 'missing' ? null : 'Junk',
      auth: auth
        ? { ...auth, dkimDomain: 'acme.test', dkimSelector: 's1', compauthReason: null, receivedSpf: auth.spf }
        : null,
    },
  };
}

const PASS = { spf: 'pass', dkim: 'pass', dmarc: 'pass' };

/**
 * The known-answer data set of test/integration/reports.test.ts (see the
 * numbers there): tenant acme with two seeds, a blocklist and a stats probe;
 * tenant beta with numbers of its own that must never leak into acme's report.
 */
export function seedKnownAnswers(store: SqliteStore, now: number): void {
  const day = 86_400_000;
  store.probes.sync([
    { name: 'acme-mail', kind: 'mail', tenant: 'acme', tags: [] },
    { name: 'acme-rbl', kind: 'rbl', tenant: 'acme', tags: [] },
    { name: 'acme-stats', kind: 'stats', tenant: 'acme', tags: [] },
    { name: 'beta-mail', kind: 'mail', tenant: 'beta', tags: [] },
  ]);
  const start = now - 7 * day;
  // gmail: 8 inbox (1..8 s), 1 spam, 1 missing. outlook: 5 inbox (10..50 s), 3 spam, 1 other, 1 missing.
  const gmail: Array<[string, number | null]> = [
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((s): [string, number] => ['inbox', s * 1000]),
    ['spam', null],
    ['missing', null],
  ];
  const outlook: Array<[string, number | null]> = [
    ...[10, 20, 30, 40, 50].map((s): [string, number] => ['inbox', s * 1000]),
    ['spam', null],
    ['spam', null],
    ['spam', null],
    ['other:Promotions', null],
    ['missing', null],
  ];
  for (let i = 0; i < 10; i++) {
    const at = start + i * 12 * 3_600_000 + 60_000;
    const [gp, gt] = gmail[i] as [string, number | null];
    const [op, ot] = outlook[i] as [string, number | null];
    // Authentication: missing mail has none; run 2 fails SPF at both seeds, run 4 fails DKIM at gmail, runs 4 and 5 fail DMARC at gmail.
    const gAuth: Auth =
      gp === 'missing'
        ? null
        : {
            spf: i === 2 ? 'fail' : 'pass',
            dkim: i === 4 ? 'fail' : 'pass',
            dmarc: i === 4 || i === 5 ? 'fail' : 'pass',
          };
    const oAuth: Auth = op === 'missing' ? null : { ...PASS, spf: i === 2 ? 'softfail' : 'pass' };
    const status: RunStatus = i === 6 ? 'fail' : 'pass';
    store.runs.record(
      run('acme-mail', 'mail', 'acme', at, {
        status,
        message: status === 'fail' ? 'gmail: message missing' : 'ok',
        items: [mailItem('gmail', gp, gt, gAuth), mailItem('outlook', op, ot, oAuth)],
      }),
    );
  }
  const rbl = (state: string, at: number) =>
    store.runs.record(
      run('acme-rbl', 'rbl', 'acme', at, {
        items: [{ type: 'rbl', key: '192.0.2.10@bl.test', state, data: { target: '192.0.2.10', zone: 'bl.test' } }],
      }),
    );
  rbl('clean', start + 1 * day);
  rbl('listed', start + 2 * day);
  rbl('clean', start + 4 * day);
  store.runs.record(
    run('acme-stats', 'stats', 'acme', start + 1 * day, { observations: { bounceRate: 0.01, spamReportRate: 0.0005 } }),
  );
  store.runs.record(
    run('acme-stats', 'stats', 'acme', start + 5 * day, { observations: { bounceRate: 0.025, spamReportRate: 0.002 } }),
  );
  for (let i = 0; i < 5; i++)
    store.runs.record(
      run('beta-mail', 'mail', 'beta', start + i * day, {
        items: [mailItem('gmail', 'spam', null, { spf: 'fail', dkim: 'fail', dmarc: 'fail' })],
      }),
    );
}

/** A month of a mail probe with `seeds` seeds every `everyMs` (for the benchmark): mostly inbox, some spam and missing. */
export function seedMonth(
  store: SqliteStore,
  options: { tenant: string; seeds: number; everyMs: number; days: number; now: number },
): number {
  const { tenant, seeds, everyMs, days, now } = options;
  const probe = `${tenant}-mail`;
  store.probes.sync([{ name: probe, kind: 'mail', tenant, tags: [] }]);
  let items = 0;
  let random = 42;
  const next = () => (random = (random * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  store.db.transaction(() => {
    for (let at = now - days * 86_400_000; at < now; at += everyMs) {
      const list: RunItem[] = [];
      for (let s = 0; s < seeds; s++) {
        const roll = next();
        const placement = roll < 0.9 ? 'inbox' : roll < 0.96 ? 'spam' : roll < 0.98 ? 'other:Updates' : 'missing';
        list.push(
          mailItem(
            `seed${s}`,
            placement,
            placement === 'inbox' ? Math.round(2000 + next() * 30_000) : null,
            placement === 'missing'
              ? null
              : { spf: next() < 0.99 ? 'pass' : 'fail', dkim: 'pass', dmarc: next() < 0.98 ? 'pass' : 'fail' },
          ),
        );
      }
      store.runs.record(run(probe, 'mail', tenant, at, { items: list }));
      items += list.length;
    }
  })();
  return items;
}
