// Runs the lab receiver's verifier (mail-verifier.py: dkimpy and pyspf, Debian's python3-dkim and python3-spf) as one long-lived process.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Debian's Python, where python3-dkim, python3-spf and python3-dnspython install (a Python earlier on PATH may lack them). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./mail-verifier.py', import.meta.url));
const VERIFY_TIMEOUT_MS = 10_000;
const MISSING = `the lab's mail verifier needs ${PYTHON} with python3-dkim, python3-spf, python3-dnspython and python3-nacl (scripts/setup.sh installs them)`;

export interface VerifyInput {
  /** The lab's PowerDNS (127.0.0.1) that holds the keys and records. */
  dnsPort: number;
  authservId: string;
  /** The connecting client's address, EHLO name and MAIL FROM. */
  ip: string;
  helo: string;
  mailFrom: string;
}

export interface MailVerifier {
  /** The Authentication-Results header (with its CRLF) the verifier writes for `message`. */
  verify(message: Buffer, input: VerifyInput): Promise<string>;
  stop(): Promise<void>;
}

interface Worker {
  child: ChildProcessWithoutNullStreams;
  /** The next reply line, or why the process ended. */
  nextLine(): Promise<string>;
}

/** Starts the Python process and waits for its "ready" (the imports worked). */
async function startWorker(): Promise<Worker> {
  const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buffered = '';
  let stderr = '';
  const waiting: Array<{ resolve(line: string): void; reject(error: Error): void }> = [];
  const lines: string[] = [];
  let ended: Error | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(line);
      else lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  child.stdin.on('error', () => undefined);
  const end = (error: Error) => {
    ended ??= new Error(`${MISSING}: ${stderr.trim() || error.message}`);
    for (const waiter of waiting.splice(0)) waiter.reject(ended);
  };
  child.on('error', end);
  child.on('exit', (code, signal) => end(new Error(`exited (${signal ?? code})`)));
  const nextLine = () =>
    lines.length > 0
      ? Promise.resolve(lines.shift()!)
      : ended
        ? Promise.reject(ended)
        : new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = await nextLine();
  if (ready !== 'ready') throw new Error(`${MISSING}: it said ${ready}`);
  return { child, nextLine };
}

/** One request at a time; a process that fails or hangs is ended, and the next message starts a new one. */
export async function startMailVerifier(): Promise<MailVerifier> {
  let worker: Worker | undefined = await startWorker();
  let queue: Promise<unknown> = Promise.resolve();
  const kill = () => {
    worker?.child.kill('SIGKILL');
    worker = undefined;
  };
  const ask = async (message: Buffer, input: VerifyInput): Promise<string> => {
    worker ??= await startWorker();
    const current = worker;
    current.child.stdin.write(`${JSON.stringify({ ...input, length: message.length })}\n`);
    current.child.stdin.write(message);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${VERIFY_TIMEOUT_MS} ms`)), VERIFY_TIMEOUT_MS);
    });
    let reply: { header?: string; error?: string };
    try {
      reply = JSON.parse(await Promise.race([current.nextLine(), timeout])) as typeof reply;
    } catch (error) {
      // Hung, gone or garbled: the next message gets a new process.
      if (worker === current) kill();
      throw new Error(`lab verifier failed: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    if (reply.header === undefined) throw new Error(`lab verifier failed: ${reply.error ?? 'no header'}`);
    return reply.header;
  };
  return {
    verify(message, input) {
      const result = queue.then(() => ask(message, input));
      queue = result.catch(() => undefined);
      return result;
    },
    async stop() {
      await queue;
      kill();
    },
  };
}
