import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitForPort, type ManagedProcess } from '../../src/lab/processes.ts';

/** The password of the private Alertmanager's one user, `scaiprobe`. */
export const ALERTMANAGER_PASSWORD = 'am-test-password-7c1d';
/** bcrypt (cost 4, the least Alertmanager takes) of ALERTMANAGER_PASSWORD, for its web config. */
const PASSWORD_HASH = '$2b$04$6Mf1H61.OLZTFhcQPpSgkOU7iEdQQ95UFoM8cdjlWF.phAZ83EGX.';

export interface PrivateAlertmanager {
  url: string;
  process: ManagedProcess;
  /** GET on its API v2 with the right credentials. */
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * A private Alertmanager (Debian's `prometheus-alertmanager`; its own service
 * stays off) on a free loopback port, clustering off, its data in `dir`,
 * basic auth required. It groups by alertname and sends each group, with its
 * resolution, to `receiver` at once (1 s waits). Stopped by its PID.
 */
export async function startAlertmanager(dir: string, receiver: string): Promise<PrivateAlertmanager> {
  const port = await freePort();
  const config = [
    'route:',
    '  receiver: capture',
    '  group_by: [alertname]',
    '  group_wait: 1s',
    '  group_interval: 1s',
    '  repeat_interval: 1h',
    'receivers:',
    '  - name: capture',
    '    webhook_configs:',
    `      - { url: ${JSON.stringify(receiver)}, send_resolved: true }`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'alertmanager.yml'), config);
  await writeFile(join(dir, 'web.yml'), `basic_auth_users:\n  scaiprobe: ${JSON.stringify(PASSWORD_HASH)}\n`);
  const proc = startProcess({
    name: 'alertmanager',
    command: 'prometheus-alertmanager',
    args: [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--web.config.file=${join(dir, 'web.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    cwd: dir,
  });
  const url = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${Buffer.from(`scaiprobe:${ALERTMANAGER_PASSWORD}`).toString('base64')}`;
  async function get<T>(path: string): Promise<T> {
    const response = await fetch(`${url}${path}`, { headers: { authorization } });
    if (!response.ok) throw new Error(`Alertmanager ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  }
  try {
    await waitForPort(port, '127.0.0.1', 30_000, proc);
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${url}/-/ready`, { headers: { authorization } }).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (proc.child.exitCode !== null || Date.now() > deadline)
        throw new Error(`Alertmanager did not become ready:\n${proc.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return { url, process: proc, get, stop: () => proc.stop() };
}
