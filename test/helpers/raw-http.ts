import { connect } from 'node:net';

export interface RawAnswer {
  /** The status code of the first response line; undefined when the server closed without answering. */
  status: number | undefined;
  text: string;
  /** Whether the server closed the connection (rather than our timeout). */
  closedByServer: boolean;
}

/**
 * Sends bytes exactly as given (no client-side validation, unlike fetch) and
 * collects what comes back until the server closes or `timeoutMs` passes.
 */
export function rawRequest(port: number, payload: string | Buffer | Array<string | Buffer>, options: { timeoutMs?: number; host?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), text, closedByServer });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 2000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
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
export function rawGet(port: number, target: string, headers: string[] = [], host = `127.0.0.1:${port}`): Promise<RawAnswer> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`);
}
