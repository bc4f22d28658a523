import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitForPort, type ManagedProcess } from '../../src/lab/processes.ts';

/**
 * A private Prometheus (Debian's `prometheus` package; its own service stays
 * off) on a loopback port, with its data in `dir`, scraping one target every
 * second. Stopped by its PID.
 */
export interface PrivatePrometheus {
  url: string;
  process: ManagedProcess;
  /** An instant query at `time` (epoch ms): the vector's single value, or null for an empty result. */
  scalar(query: string, time: number): Promise<number | null>;
  /** An instant query at `time` (epoch ms): every series of the result, with its labels. */
  vector(query: string, time: number): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** The newest scrape timestamp (epoch ms) Prometheus has stored for the target. */
  lastScrape(): Promise<number | null>;
  stop(): Promise<void>;
}

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** `options.ruleFiles` are loaded as its rule_files (evaluated every second); `options.job` names the scrape job. */
export async function startPrometheus(
  dir: string,
  target: string,
  options: { ruleFiles?: string[]; job?: string } = {},
): Promise<PrivatePrometheus> {
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    ...(options.ruleFiles?.length
      ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)]
      : []),
    'scrape_configs:',
    `  - job_name: ${options.job ?? 'synthetic'}`,
    '    static_configs:',
    `      - targets: ['${target}']`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const proc = startProcess({
    name: 'prometheus',
    command: 'prometheus',
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    cwd: dir,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, '127.0.0.1', 30_000, proc);
    await waitUntilReady(url, proc);
  } catch (error) {
    await proc.stop();
    throw error;
  }

  async function query(text: string, time: number): Promise<QueryAnswer> {
    const params = new URLSearchParams({ query: text, time: (time / 1000).toFixed(3) });
    const response = await fetch(`${url}/api/v1/query?${params}`);
    const answer = (await response.json()) as QueryAnswer;
    if (answer.status !== 'success') throw new Error(`Prometheus refused ${text}: ${answer.error ?? response.status}`);
    return answer;
  }

  return {
    url,
    process: proc,
    async scalar(text, time) {
      const result = (await query(text, time)).data?.result ?? [];
      if (result.length > 1) throw new Error(`${text} gave ${result.length} series, expected one`);
      const value = result[0]?.value[1];
      return value === undefined ? null : Number(value);
    },
    async vector(text, time) {
      return (await query(text, time)).data?.result ?? [];
    },
    async lastScrape() {
      const result = (await query('max(timestamp(up))', Date.now())).data?.result ?? [];
      const value = result[0]?.value[1];
      return value === undefined ? null : Number(value) * 1000;
    },
    stop: () => proc.stop(),
  };
}

async function waitUntilReady(url: string, proc: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (proc.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`Prometheus did not become ready:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
