import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import dgram from 'node:dgram';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { decode, encode, type DecodedPacket, type Packet } from 'dns-packet';
import { SMTPServer } from 'smtp-server';

/**
 * Servers that misbehave on purpose, for the fault matrix
 * (test/integration/fault-matrix.test.ts): plain Node HTTP/TLS/TCP servers
 * for what a real server does when it is broken (a 5xx, a reset, a stall, a
 * bad certificate), and hand-written DNS and IMAP fakes only for what no
 * real server does on request (malformed, cut or mismatched DNS answers, a
 * connection cut in the middle of IDLE).
 */

export interface Running {
  port: number;
  close(): Promise<void>;
}

function portOf(server: Server | dgram.Socket): number {
  const address = server.address() as AddressInfo;
  return address.port;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** An HTTP server on 127.0.0.1 answering with `handler`. */
export async function httpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Running & { url: string }> {
  const server = createHttpServer(handler);
  const sockets = track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = portOf(server);
  return { port, url: `http://127.0.0.1:${port}`, close: () => closeServer(server, sockets) };
}

/** An HTTPS server with the given certificate and key. */
export async function httpsServer(
  tls: { cert: string; key: string },
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = '127.0.0.1',
): Promise<Running> {
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, handler);
  const sockets = track(server);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { port: portOf(server), close: () => closeServer(server, sockets) };
}

/** A TCP server that accepts and never says a word (a TLS handshake or an HTTP answer that never comes). */
export async function silentTcp(): Promise<Running> {
  const server = createTcpServer(() => undefined);
  const sockets = track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: portOf(server), close: () => closeServer(server, sockets) };
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = portOf(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A port whose connections never complete: a listener with a backlog of one
 * that never accepts, the backlog filled by one idle connection, so the
 * kernel drops further SYNs. Node accepts every connection by itself, so the
 * listener is a few lines of Perl (perl-base is part of every Debian).
 */
const NEVER_ACCEPT = [
  'use Socket;',
  'socket(my $s, PF_INET, SOCK_STREAM, 0) or die $!;',
  'bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die $!;',
  'listen($s, 0) or die $!;',
  'my ($port) = unpack_sockaddr_in(getsockname($s));',
  '$| = 1; print "$port\\n"; my @rest = <STDIN>;',
].join(' ');

export async function blackholePort(): Promise<Running> {
  const child = spawn('perl', ['-e', NEVER_ACCEPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the listener exited (${code})`)));
  });
  const filler = connect(port, '127.0.0.1');
  filler.on('error', () => undefined);
  await new Promise<void>((resolve) => filler.once('connect', () => resolve()));
  return {
    port,
    async close() {
      filler.destroy();
      child.stdin.end();
      await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    },
  };
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl now. */
export function selfSignedCertificate(dir: string): { cert: string; key: string } {
  const keyFile = join(dir, 'self-signed-key.pem');
  const certFile = join(dir, 'self-signed-cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

// ---- DNS ------------------------------------------------------------------------------------------

export type DnsBehaviour = 'servfail' | 'cut' | 'garbage' | 'wrong-id' | 'silent' | 'truncated';

function replyTo(query: DecodedPacket, extra: Partial<Packet>): Buffer {
  const question = query.questions?.[0];
  return encode({
    type: 'response',
    id: query.id,
    flags: 0x400,
    questions: query.questions,
    answers: [{ name: question?.name ?? '', type: 'A', ttl: 60, data: '192.0.2.10' }],
    ...extra,
  });
}

/**
 * A DNS server that answers each query name's first label with a fault:
 * `servfail.` SERVFAIL; `cut.` an answer cut in the middle of its record;
 * `garbage.` the right id followed by noise; `wrong-id.` a good answer with
 * another id (only); `silent.` nothing; `truncated.` TC set (and no TCP
 * listener on the port, so the retry over TCP is refused).
 */
export async function fakeDns(): Promise<Running> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, rinfo) => {
    let query: DecodedPacket;
    try {
      query = decode(message);
    } catch {
      return;
    }
    const behaviour = (query.questions?.[0]?.name ?? '').split('.')[0] as DnsBehaviour;
    const send = (bytes: Buffer) => socket.send(bytes, rinfo.port, rinfo.address);
    if (behaviour === 'servfail') send(replyTo(query, { flags: 0x400 | 2, answers: [] }));
    else if (behaviour === 'cut') {
      const whole = replyTo(query, {});
      send(whole.subarray(0, whole.length - 3));
    } else if (behaviour === 'garbage')
      send(
        Buffer.concat([
          message.subarray(0, 2),
          Buffer.from([0x84, 0x00, 0x00, 0x01, 0x00, 0x07, 0xde, 0xad, 0xbe, 0xef, 0x3f, 0xff, 0xc0, 0x0c]),
        ]),
      );
    else if (behaviour === 'wrong-id') send(replyTo({ ...query, id: ((query.id ?? 0) + 1) % 65536 }, {}));
    else if (behaviour === 'truncated') send(replyTo(query, { flags: 0x400 | 0x200, answers: [] }));
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: portOf(socket), close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

// ---- IMAP -----------------------------------------------------------------------------------------

/**
 * Just enough IMAP for imapflow to log in, select INBOX, list folders and
 * IDLE; every IDLE is cut (the socket destroyed) `cutAfterMs` after it
 * starts. `refuseAfterCut` closes the listener at the first cut, so the
 * watcher's reconnect is refused.
 */
export async function fakeImapCuttingIdle(options: {
  cutAfterMs: number;
  refuseAfterCut: boolean;
}): Promise<Running & { cuts: number; logins: number }> {
  const state = { cuts: 0, logins: 0 };
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE LITERAL+] fake IMAP ready\r\n');
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        answer(socket, line);
      }
    });
  });
  const sockets = track(server);
  const answer = (socket: Socket, line: string): void => {
    const [tag = '*', rawCommand = '', ...rest] = line.split(' ');
    const command = rawCommand.toUpperCase();
    const uidCommand = command === 'UID' ? (rest[0] ?? '').toUpperCase() : '';
    const ok = (text = 'done'): void => {
      socket.write(`${tag} OK ${text}\r\n`);
    };
    if (line === 'DONE') return;
    if (command === 'CAPABILITY') {
      socket.write('* CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE LITERAL+\r\n');
      return ok();
    }
    if (command === 'LOGIN') {
      state.logins++;
      return ok('[CAPABILITY IMAP4rev1 IDLE UIDPLUS SPECIAL-USE LITERAL+] logged in');
    }
    if (command === 'SELECT' || command === 'EXAMINE') {
      socket.write(
        '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] UIDs valid\r\n* OK [UIDNEXT 1] next uid\r\n',
      );
      return ok(`[READ-WRITE] ${command} completed`);
    }
    if (command === 'LIST' || command === 'LSUB') {
      socket.write(`* ${command} (\\HasNoChildren) "/" INBOX\r\n`);
      return ok();
    }
    if (command === 'SEARCH' || uidCommand === 'SEARCH') {
      socket.write('* SEARCH\r\n');
      return ok();
    }
    if (command === 'NAMESPACE') {
      socket.write('* NAMESPACE (("" "/")) NIL NIL\r\n');
      return ok();
    }
    if (command === 'LOGOUT') {
      socket.write('* BYE logging out\r\n');
      ok();
      socket.end();
      return;
    }
    if (command === 'IDLE') {
      socket.write('+ idling\r\n');
      setTimeout(() => {
        state.cuts++;
        socket.destroy();
        if (options.refuseAfterCut && server.listening) {
          server.close();
          for (const other of sockets) other.destroy();
        }
      }, options.cutAfterMs).unref();
      return;
    }
    ok();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = portOf(server);
  return {
    port,
    get cuts() {
      return state.cuts;
    },
    get logins() {
      return state.logins;
    },
    close: () => (server.listening ? closeServer(server, sockets) : Promise.resolve()),
  };
}

// ---- SMTP -----------------------------------------------------------------------------------------

/** A real SMTP server (smtp-server) that refuses every recipient with `code` and `message`. */
export async function smtpRefusingRecipients(code: number, message: string): Promise<Running> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      callback(Object.assign(new Error(message), { responseCode: code }));
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: portOf(server.server),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---- Chromium -------------------------------------------------------------------------------------

/** PIDs of the Chromium browser processes this process started (Playwright launches them as its children). */
export function chromiumChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === process.pid && /chrom/i.test(comm)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}
