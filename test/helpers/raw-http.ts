import { connect } from 'node:net';

export interface RawAnswer {
  /** The status code of the first response line; undefined when the server closed without answering. */
  status: number | undefined;
  text: string;
  /** Whether the server closed the connection (rather than our timeout). */
  closedByServer: boolean;
}

/** Whether `bytes` hold one whole response with a Content-Length (the server may keep the connection open after it). */
function complete(bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(bytes.subarray(0, end).toString('latin1'))?.[1];
  return length !== undefined && bytes.length >= end + 4 + Number(length);
}

/**
 * Sends bytes exactly as given (no client-side validation, unlike fetch) and
 * collects the answer: until one whole response is in, or with `untilClose`
 * until the server closes; `timeoutMs` bounds either.
 */
export function rawRequest(
  port: number,
  payload: string | Buffer | Array<string | Buffer>,
  options: { timeoutMs?: number; host?: string; untilClose?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, closedByServer });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 2000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!options.untilClose && complete(Buffer.concat(chunks))) finish();
    });
    socket.on('end', () => {
      closedByServer = true;
      finish();
    });
    socket.on('error', () => {
      closedByServer = true;
      finish();
    });
    socket.on('connect', () => {
      for (const part of Array.isArray(payload) ? payload : [payload]) socket.write(part);
    });
  });
}

/** A minimal GET with the given Host and extra header lines, closing after the answer. */
export function rawGet(
  port: number,
  target: string,
  headers: string[] = [],
  host = `127.0.0.1:${port}`,
): Promise<RawAnswer> {
  return rawRequest(
    port,
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`,
  );
}
