// `scaiprobe maintenance start|end|list`: maintenance windows from a deploy pipeline, through the running daemon's API.
//
// The daemon is the one place that holds and releases alerts, and a pipeline has its URL and admin
// token rather than its database file (which may be on another host, in a container, behind the
// daemon's lock), so these commands talk to the API; the configuration only says where it listens.
import type { MaintenanceView } from '../../server/routes/maintenance.ts';
import { defineCommand, type CommandGroup, type OptionSpec } from '../command.ts';
import { loadForCommand } from '../config.ts';
import { DaemonClient, daemonTarget, URL_OPTION } from '../daemon-client.ts';
import { UsageError } from '../usage-error.ts';

const DAEMON_CONFIG_OPTION = {
  type: 'string',
  value: 'FILE|DIR',
  description:
    "the daemon's configuration, for its server.listen and server.token (default: probes, when no URL is given)",
} as const satisfies OptionSpec;

const DAEMON_OPTIONS = { url: URL_OPTION, config: DAEMON_CONFIG_OPTION };

const ENVIRONMENT =
  'SCAIPROBE_URL and SCAIPROBE_TOKEN (the admin token, server.token) give the daemon; --url and --config override.';

function client(values: { url?: string | undefined; config?: string | undefined }): DaemonClient {
  const configPath = values.config;
  const target = daemonTarget({
    ...(values.url !== undefined ? { url: values.url } : {}),
    env: process.env,
    ...(configPath !== undefined || (values.url === undefined && !process.env.SCAIPROBE_URL)
      ? { config: () => loadForCommand(configPath ?? 'probes') }
      : {}),
  });
  return new DaemonClient(target, fetch);
}

const describe = (w: MaintenanceView) => `${w.probes.join(', ')}${w.reason ? ` (${w.reason})` : ''}`;

function stateOf(w: MaintenanceView): string {
  if (w.active) return 'active';
  return w.endedAt !== null ? 'ended' : 'over';
}

const startCommand = defineCommand({
  name: 'maintenance start',
  summary: "hold the alerts of some probes for a while (prints the window's id)",
  synopsis: '--probes GLOB,... (--for DURATION | --until TIME) [--reason TEXT] [--url URL] [--config FILE|DIR]',
  description: [
    'Starts a maintenance window in the running daemon: while it is in force, notifications of alerts about the',
    'probes matched (and their per-probe indicators) are held, not dropped, as in configured maintenance windows;',
    "when it ends, a firing still going on is sent, and so is a resolution owed. Prints the window's id on stdout.",
    ENVIRONMENT,
  ].join('\n'),
  options: {
    probes: {
      type: 'string',
      multiple: true,
      value: 'GLOB,...',
      description: 'probe names or globs (`*` any), repeatable; each must match a configured probe',
    },
    for: { type: 'string', value: 'DURATION', description: 'how long it lasts: 30m, 2h (at most 7d)' },
    until: { type: 'string', value: 'TIME', description: 'or until when: an ISO time such as 2026-05-01T12:30:00Z' },
    reason: { type: 'string', value: 'TEXT', description: 'why, shown on the status page and in the log' },
    ...DAEMON_OPTIONS,
  },
  examples: [
    "ID=$(scaiprobe maintenance start --for 30m --probes 'scaisend-*' --reason deploy)",
    './deploy.sh',
    'scaiprobe maintenance end "$ID"',
  ],
  async run({ values }) {
    const probes = values.probes
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
    if (probes.length === 0) throw new UsageError('--probes GLOB is required: the probes whose alerts are held');
    if ((values.for === undefined) === (values.until === undefined))
      throw new UsageError('give --for DURATION (30m) or --until TIME, one of them');
    const window = await client(values).request<MaintenanceView & { matches: string[] }>(
      'POST',
      '/api/v1/maintenance',
      {
        probes,
        ...(values.for !== undefined ? { for: values.for } : {}),
        ...(values.until !== undefined ? { until: values.until } : {}),
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
      },
    );
    process.stdout.write(`${window.id}\n`);
    const matched =
      window.matches.length <= 5
        ? window.matches.join(', ')
        : `${window.matches.slice(0, 5).join(', ')} and ${window.matches.length - 5} more`;
    process.stderr.write(
      `maintenance window ${window.id}: alerts of ${matched} are held until ${window.endsAt}${window.reason ? ` (${window.reason})` : ''}; scaiprobe maintenance end ${window.id} ends it\n`,
    );
    return 0;
  },
});

const endCommand = defineCommand({
  name: 'maintenance end',
  summary: 'end a maintenance window now (the one in force, when no ID is given)',
  synopsis: '[ID] [--all] [--url URL] [--config FILE|DIR]',
  description: [
    'Ends a maintenance window now: the notifications it held go out (a firing still going on, a resolution owed).',
    'Without an ID it ends the one window in force, and refuses when there are several unless --all is given.',
    'A window that is over already is not an error. ' + ENVIRONMENT,
  ].join('\n'),
  options: { all: { type: 'boolean', description: 'without an ID: end every window in force' }, ...DAEMON_OPTIONS },
  positionals: { min: 0, max: 1, name: '[ID]' },
  async run({ values, positionals }) {
    const [given] = positionals;
    if (given !== undefined && !/^\d+$/.test(given))
      throw new UsageError(`a window id is a number, as \`maintenance start\` printed it (got ${given})`);
    if (given !== undefined && values.all) throw new UsageError('give an ID or --all, not both');
    const api = client(values);
    let ids = given !== undefined ? [Number(given)] : [];
    if (given === undefined) {
      const { windows } = await api.request<{ windows: MaintenanceView[] }>('GET', '/api/v1/maintenance?active=true');
      if (windows.length === 0) {
        process.stdout.write('no maintenance window is in force\n');
        return 0;
      }
      if (windows.length > 1 && !values.all)
        throw new UsageError(
          `${windows.length} windows are in force (${windows.map((w) => `${w.id}: ${describe(w)}`).join('; ')}): give the ID of one, or --all`,
        );
      ids = windows.map((w) => w.id);
    }
    for (const id of ids) {
      const window = await api.request<MaintenanceView & { endedNow: boolean }>('DELETE', `/api/v1/maintenance/${id}`);
      process.stdout.write(
        window.endedNow
          ? `maintenance window ${id} ended (${describe(window)}); the notifications it held go out now\n`
          : `maintenance window ${id} was over already (${window.endedAt ? `ended ${window.endedAt}` : `ran until ${window.endsAt}`})\n`,
      );
    }
    return 0;
  },
});

const listCommand = defineCommand({
  name: 'maintenance list',
  summary: 'list maintenance windows: those in force, and the latest ended',
  synopsis: '[--json] [--url URL] [--config FILE|DIR]',
  description: `Lists the newest maintenance windows started at run time, newest first, with their state. ${ENVIRONMENT}`,
  options: { json: { type: 'boolean', description: "print the API's JSON" }, ...DAEMON_OPTIONS },
  async run({ values }) {
    const body = await client(values).request<{ windows: MaintenanceView[] }>('GET', '/api/v1/maintenance');
    if (values.json) {
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return 0;
    }
    if (body.windows.length === 0) {
      process.stdout.write('no maintenance windows\n');
      return 0;
    }
    const rows = [
      ['ID', 'STATE', 'FROM', 'UNTIL', 'PROBES', 'REASON'],
      ...body.windows.map((w) => [
        String(w.id),
        stateOf(w),
        w.startsAt,
        w.endedAt ?? w.endsAt,
        w.probes.join(','),
        w.reason,
      ]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
    for (const row of rows)
      process.stdout.write(
        `${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')}\n`,
      );
    return 0;
  },
});

export const maintenanceCommands: CommandGroup = {
  name: 'maintenance',
  summary: 'maintenance windows from a deploy pipeline: start, end, list',
  description: [
    "Maintenance windows started at run time, through the running daemon's API: alerts of the probes they cover",
    'are held while they are in force, and sent when they end, as with configured windows (alerts.maintenance).',
  ].join('\n'),
  subcommands: [startCommand, endCommand, listCommand],
};
