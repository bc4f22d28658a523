// The running daemon's API as a command sees it: where it is, its admin token, and its refusals in one sentence.
import type { LoadedConfig } from '../config/load.ts';
import type { OptionSpec } from './command.ts';
import { CommandFailed, UsageError } from './usage-error.ts';

export const URL_OPTION = {
  type: 'string',
  value: 'URL',
  description: "the daemon's address (default: $SCAIPROBE_URL, else server.listen of --config)",
} as const satisfies OptionSpec;

export type Fetch = typeof fetch;

/** Where a loopback or wildcard `server.listen` is reached from this host. */
export function urlOfListen(listen: string): string {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listen);
  const host = match?.[1] ?? '127.0.0.1';
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `http://${reachable}:${match?.[2] ?? '9464'}`;
}

/**
 * The daemon to talk to and its token. A pipeline gives the URL and the token
 * in its environment (SCAIPROBE_URL, SCAIPROBE_TOKEN); on the daemon's own host
 * the configuration says where it listens and what its token is.
 */
export function daemonTarget(options: { url?: string; env: NodeJS.ProcessEnv; config?: () => LoadedConfig }): {
  url: string;
  token?: string;
} {
  const given = options.url ?? options.env.SCAIPROBE_URL;
  const config = given === undefined || options.config ? options.config?.() : undefined;
  const url = given ?? (config ? urlOfListen(config.server.listen) : undefined);
  if (!url) throw new UsageError('give the daemon with --url URL or SCAIPROBE_URL, or its configuration with --config');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url must be an http:// or https:// URL (got ${url})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`--url must be an http:// or https:// URL (got ${url})`);
  const token = options.env.SCAIPROBE_TOKEN || config?.server.token;
  return { url: parsed.toString().replace(/\/+$/, ''), ...(token ? { token } : {}) };
}

function reasonOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'no answer in 10 s';
  return cause?.code === 'ECONNREFUSED' ? 'connection refused' : (cause?.message ?? (error as Error).message);
}

/** JSON requests to the daemon's API with its admin token. */
export class DaemonClient {
  constructor(
    private readonly target: { url: string; token?: string },
    private readonly fetcher: Fetch,
  ) {}

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.fetcher(`${this.target.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new CommandFailed(
        `could not reach the daemon at ${this.target.url} (${reasonOf(error)}): is \`scaiprobe run\` running there? (--url or SCAIPROBE_URL says where)`,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CommandFailed(
        `${this.target.url} answered ${response.status} with something that is not scaiprobe's JSON: is it a scaiprobe daemon?`,
      );
    }
    if (response.ok) return parsed as T;
    const message = (parsed as { error?: string } | null)?.error ?? `HTTP ${response.status}`;
    if (response.status === 401 || response.status === 403) {
      throw new CommandFailed(
        `the daemon at ${this.target.url} refused: ${message}; set SCAIPROBE_TOKEN to its server.token${this.target.token ? ' (the one given is not it)' : ''}`,
      );
    }
    if (response.status === 400) throw new UsageError(message);
    throw new CommandFailed(`the daemon at ${this.target.url} answered ${response.status}: ${message}`);
  }
}
