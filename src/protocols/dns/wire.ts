// The DNS client: queries over UDP and TCP with ids, retries, truncation and deadlines.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import type { Answer, RecordType } from 'dns-packet';
import { ProbeFailure, classifyNetworkError } from '../../core/errors.ts';
import type { Clock } from '../../util/clock.ts';
import { EDNS_UDP_SIZE, encodeQuery, parseReply, type ParsedReply, type QueryWire } from './codec.ts';

export { EDNS_UDP_SIZE };

/** A DNS server by address (IP literal) and port. `label` is how people and observation keys name it. */
export interface DnsServer {
  host: string;
  port: number;
  label: string;
}

export type Transport = 'udp' | 'tcp';

export interface DnsQueryOptions {
  name: string;
  type: RecordType;
  server: DnsServer;
  signal: AbortSignal;
  /** RD bit; off by default because most checks ask authoritative servers. */
  recursion?: boolean;
  /** `udp` falls back to TCP when the reply is truncated; `tcp` goes straight to TCP. */
  transport?: Transport;
  /** Wait for one try, in milliseconds. */
  timeoutMs?: number;
  /** Tries after the first (UDP packets get lost under bursts). */
  retries?: number;
  /** Advertise EDNS0 with a 1232-byte UDP buffer (the DNS flag day 2020 size). */
  edns?: boolean;
  /** Sets the DO bit (needs EDNS): the answer carries RRSIGs, and NSEC/NSEC3 records for a denial. */
  dnssecOk?: boolean;
}

export interface DnsReply {
  server: DnsServer;
  rcode: string;
  aa: boolean;
  tc: boolean;
  answers: Answer[];
  authorities: Answer[];
  /** Additional records without the OPT pseudo-record. */
  additionals: Answer[];
  /** From the first send to the accepted reply, retries included. */
  latencyMs: number;
  transport: Transport;
  tries: number;
}

const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_RETRIES = 2;
const MAX_IN_FLIGHT = 60_000;
const TIMED_OUT = Symbol('timed out');

/** Parses `127.0.0.1:5300`, `127.0.0.1`, `[::1]:53`, `::1` (port 53 unless given). */
export function parseServer(text: string, defaultPort = 53): DnsServer {
  const trimmed = text.trim();
  let host = trimmed;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  const v4WithPort = /^([^:]+):(\d+)$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (v4WithPort) {
    host = v4WithPort[1] ?? '';
    port = Number(v4WithPort[2]);
  }
  if (net.isIP(host) === 0)
    throw new Error(`"${text}" is not an IP address with an optional port (write 192.0.2.1:53 or [2001:db8::1]:53)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}" has an invalid port`);
  host = host.toLowerCase();
  const label = net.isIPv6(host) ? (port === 53 ? host : `[${host}]:${port}`) : port === 53 ? host : `${host}:${port}`;
  return { host, port, label };
}

/** One UDP query in flight: its retries, timer and abort hook live here, with no promise per try. */
interface Pending {
  id: number;
  host: string;
  port: number;
  query: QueryWire;
  signal: AbortSignal;
  options: DnsQueryOptions;
  tries: number;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  entry: ServerState;
  /** The source port (socket) it is sent from; its reply must come back on this one. */
  via: PortSocket;
  /** Holds one of the server's window slots (false while queued behind the window). */
  started: boolean;
  sentAt: number;
  /** The send callback, made once per query rather than once per try. */
  onSent: (error: Error | null) => void;
  resolve(outcome: { reply: ParsedReply; tries: number }): void;
  reject(error: Error): void;
}

/** What came back on the UDP sockets that matched nothing in flight (kept for tests and debugging). */
export interface IgnoredCounts {
  short: number;
  unknownId: number;
  wrongSource: number;
  /** The right id from the right server, but on another of our source ports than the query's. */
  wrongPort: number;
  wrongQuestion: number;
}

/**
 * DNS queries over node's own sockets. Each server gets a small pool of
 * connected UDP sockets, each on its own ephemeral source port, shared by
 * every query of this client (so thousands can be in flight without thousands
 * of sockets). Ids are drawn from the system's CSPRNG and each socket serves
 * a few hundred queries (or half a minute) before a fresh one replaces it, as
 * resolvers do: an off-path spoofer must guess 16 bits of id and a source
 * port that keeps moving, not 16 bits alone. Replies are matched by id,
 * source, receiving socket and question. Close it when the prober closes.
 */
export class DnsClient {
  private readonly pending = new Map<number, Pending>();
  private readonly servers = new Map<string, ServerState>();
  /** The same lookup by the server object the kinds parse once, skipping a key string per query. */
  private readonly serversByObject = new WeakMap<DnsServer, ServerState>();
  /** One abort listener per run signal, however many queries wait on it. */
  private readonly abortWaiters = new WeakMap<AbortSignal, Set<Pending>>();
  private readonly random = new RandomPool();
  readonly ignored: IgnoredCounts = { short: 0, unknownId: 0, wrongSource: 0, wrongPort: 0, wrongQuestion: 0 };
  /** One timer callback for every try (the query rides as the timer's argument), not a closure per try. */
  private readonly onTimerOf = (pending: Pending): void => this.onTimer(pending);

  /** `window`: queries in flight per server at first (it adapts afterwards); tests raise it to provoke drops. */
  constructor(
    private readonly options: { clock: Clock; recvBufferSize?: number; sendBufferSize?: number; window?: number },
  ) {}

  async query(options: DnsQueryOptions): Promise<DnsReply> {
    const started = this.options.clock.monotonic();
    if (options.signal.aborted) throw classifyNetworkError(options.signal.reason, options.signal);
    if ((options.transport ?? 'udp') === 'tcp')
      return this.finish(options, await this.tcpQuery(options), started, 'tcp', 1);
    const udp = await this.udpQuery(options);
    if (!udp.reply.tc) return this.finish(options, udp.reply, started, 'udp', udp.tries);
    // A truncated reply holds only part of the answer: ask again over TCP.
    return this.finish(options, await this.tcpQuery(options), started, 'tcp', udp.tries + 1);
  }

  async close(): Promise<void> {
    for (const pending of [...this.pending.values()])
      this.settle(pending, new ProbeFailure('INTERNAL', 'DNS client closed'));
    const ports = [...this.servers.values()].flatMap((entry) => entry.ports);
    this.servers.clear();
    await Promise.all(ports.map((port) => closePort(port)));
  }

  private finish(
    options: DnsQueryOptions,
    reply: ParsedReply,
    started: number,
    transport: Transport,
    tries: number,
  ): DnsReply {
    return {
      server: options.server,
      rcode: reply.rcode,
      aa: reply.aa,
      tc: reply.tc,
      answers: reply.answers,
      authorities: reply.authorities,
      additionals: reply.additionals,
      latencyMs: this.options.clock.monotonic() - started,
      transport,
      tries,
    };
  }

  /** A query id from the CSPRNG, unique among the queries in flight (a reply is matched to its query by it). */
  private allocateId(): number {
    if (this.pending.size >= MAX_IN_FLIGHT)
      throw new ProbeFailure('INTERNAL', `more than ${MAX_IN_FLIGHT} DNS queries in flight`);
    for (;;) {
      const id = this.random.uint16();
      if (!this.pending.has(id)) return id;
    }
  }

  private serverFor(server: DnsServer): ServerState {
    const cached = this.serversByObject.get(server);
    if (cached && this.servers.get(cached.key) === cached) return cached;
    const key = `${server.host}|${server.port}`;
    let entry = this.servers.get(key);
    if (!entry) {
      entry = {
        key,
        host: server.host,
        port: server.port,
        ports: [],
        window: this.options.window ?? START_WINDOW,
        inFlight: 0,
        queue: [],
        outbox: [],
        flushScheduled: false,
        minRttMs: Infinity,
        lastCut: -Infinity,
      };
      this.servers.set(key, entry);
    }
    this.serversByObject.set(server, entry);
    return entry;
  }

  /**
   * The source port for the next query to this server, counted as in use: a
   * random one of the pool's connected sockets that still take queries (a
   * retired one still open when none does). A socket past its quota or
   * lifetime takes no more, closes once its queries have ended, and a fresh
   * one on a new ephemeral port is opened in its place. Undefined while no
   * socket of the pool is connected yet.
   */
  private portFor(entry: ServerState): PortSocket | undefined {
    const now = this.options.clock.monotonic();
    let usable = 0;
    let connected = 0;
    // retire() replaces entry.ports rather than editing it, so this loop walks a stable list.
    for (const port of entry.ports) {
      if (!port.retired && now - port.openedAt > PORT_LIFETIME_MS) this.retire(entry, port);
      if (port.retired) continue;
      usable++;
      if (port.connected) connected++;
    }
    for (; usable < PORTS_PER_SERVER; usable++) this.openPort(entry);
    // The pool never holds closed sockets; retired ones serve only while no fresh one is connected.
    const retiredToo = connected === 0;
    let count = 0;
    for (const port of entry.ports) if (port.connected && (retiredToo || !port.retired)) count++;
    if (count === 0) return undefined;
    let pick = this.random.uint16() % count;
    let chosen: PortSocket | undefined;
    for (const port of entry.ports) if (port.connected && (retiredToo || !port.retired) && pick-- === 0) chosen = port;
    if (!chosen) return undefined;
    chosen.inFlight++;
    if (++chosen.used >= chosen.quota) chosen.retired = true;
    return chosen;
  }

  /**
   * A connected UDP socket: the kernel then delivers only that server's
   * datagrams to it, and each send skips the per-packet address lookup (the
   * main per-query cost at thousands of queries a second). Bound by the
   * kernel to a random port of its ephemeral range (Linux randomizes it),
   * never one another service may want.
   */
  private openPort(entry: ServerState): PortSocket {
    const socket = dgram.createSocket({
      type: net.isIPv6(entry.host) ? 'udp6' : 'udp4',
      // Bursts of replies arrive faster than one event loop turn drains them.
      recvBufferSize: this.options.recvBufferSize ?? 4 * 1024 * 1024,
      sendBufferSize: this.options.sendBufferSize ?? 1024 * 1024,
    });
    // Quotas spread over half to one and a half times the mean, so the pool's sockets are not all replaced at once.
    const quota = Math.round(PORT_QUERIES * (0.5 + this.random.uint16() / 65536));
    const port: PortSocket = {
      socket,
      connected: false,
      ready: Promise.resolve(),
      used: 0,
      quota,
      openedAt: this.options.clock.monotonic(),
      inFlight: 0,
      retired: false,
      closed: false,
    };
    port.ready = new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(entry.port, entry.host, () => {
        socket.off('error', reject);
        port.connected = true;
        resolve();
      });
    });
    port.ready.catch(() => undefined);
    socket.on('message', (message, rinfo) => this.onMessage(message, rinfo, port));
    socket.on('error', (error) => {
      // A socket-level error (an ICMP refusal, say) ends the queries sent from it; the next query opens another socket.
      entry.ports = entry.ports.filter((other) => other !== port);
      void closePort(port);
      for (const pending of [...this.pending.values()])
        if (pending.via === port) this.settle(pending, classifyNetworkError(error));
    });
    socket.unref();
    entry.ports.push(port);
    return port;
  }

  private retire(entry: ServerState, port: PortSocket): void {
    port.retired = true;
    if (port.inFlight === 0) this.drop(entry, port);
  }

  /** A query sent from `port` has ended. */
  private release(entry: ServerState, port: PortSocket): void {
    if (--port.inFlight === 0 && port.retired) this.drop(entry, port);
  }

  private drop(entry: ServerState, port: PortSocket): void {
    entry.ports = entry.ports.filter((other) => other !== port);
    void closePort(port);
  }

  private onMessage(message: Buffer, rinfo: dgram.RemoteInfo, via: PortSocket): void {
    if (message.length < 12) {
      this.ignored.short++;
      return;
    }
    const pending = this.pending.get(message.readUInt16BE(0));
    if (!pending) {
      this.ignored.unknownId++;
      return;
    }
    if (rinfo.port !== pending.port || rinfo.address.toLowerCase() !== pending.host) {
      this.ignored.wrongSource++;
      return;
    }
    if (via !== pending.via) {
      this.ignored.wrongPort++;
      return;
    }
    let reply: ParsedReply;
    try {
      reply = parseReply(message, pending.query);
    } catch (error) {
      this.settle(
        pending,
        new ProbeFailure(
          'PROTOCOL',
          `malformed reply from ${pending.host}:${pending.port}: ${(error as Error).message}`,
        ),
      );
      return;
    }
    if (!reply.answersQuery) {
      this.ignored.wrongQuestion++;
      return;
    }
    this.settle(pending, undefined, reply);
  }

  private udpQuery(options: DnsQueryOptions): Promise<{ reply: ParsedReply; tries: number }> {
    if (options.signal.aborted) return Promise.reject(classifyNetworkError(options.signal.reason, options.signal));
    const entry = this.serverFor(options.server);
    // Not async: once a socket is connected (every query but the first few) no promise is spent on waiting for it.
    const via = this.portFor(entry);
    if (!via) {
      const opening = entry.ports.find((port) => !port.retired) ?? this.openPort(entry);
      return opening.ready.then(
        () => this.udpQuery(options),
        (error: unknown) => Promise.reject(classifyNetworkError(error)),
      );
    }
    let id: number;
    let query: QueryWire;
    try {
      // The id is taken and registered with no await in between: two queries must never hold the same id.
      id = this.allocateId();
      query = encodeQuery(
        options.name,
        options.type,
        id,
        options.recursion ?? false,
        options.edns !== false,
        options.dnssecOk === true,
      );
    } catch (error) {
      this.release(entry, via);
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        id,
        host: options.server.host,
        port: options.server.port,
        query,
        signal: options.signal,
        options,
        tries: 1 + (options.retries ?? DEFAULT_RETRIES),
        attempt: 0,
        timer: undefined,
        entry,
        via,
        started: false,
        sentAt: 0,
        onSent: (error) => {
          if (error) this.settle(pending, classifyNetworkError(error));
        },
        resolve,
        reject,
      };
      this.pending.set(id, pending);
      this.waitersOf(options.signal).add(pending);
      if (entry.inFlight < entry.window) this.start(pending);
      else entry.queue.push(pending);
    });
  }

  private start(pending: Pending): void {
    pending.started = true;
    pending.entry.inFlight++;
    pending.sentAt = this.options.clock.monotonic();
    this.sendTry(pending);
  }

  /** Starts queued queries while the server's window has room; queries that ended while queued are skipped. */
  private pump(entry: ServerState): void {
    while (entry.inFlight < entry.window && entry.queue.length > 0) {
      const next = entry.queue.shift()!;
      if (this.pending.get(next.id) === next) this.start(next);
    }
  }

  /**
   * Arms the next try's timer and queues its datagram for the flush at the end
   * of this event loop turn. A late reply to an earlier try is as good as a
   * reply to this one: same id, same pending entry.
   */
  private sendTry(pending: Pending): void {
    pending.attempt++;
    const timeoutMs = pending.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    pending.timer = setTimeout(this.onTimerOf, retryWait(timeoutMs, pending.attempt), pending);
    const entry = pending.entry;
    entry.outbox.push(pending);
    if (!entry.flushScheduled) {
      entry.flushScheduled = true;
      setImmediate(() => this.flush(entry));
    }
  }

  /**
   * Sends the queued datagrams back to back. On loopback most of a send's cost
   * is waking the server's thread (8 µs a send to a socket nobody reads, 25-80
   * µs to a server that sleeps between packets); the replies to one turn's
   * reads come out as one burst, so the server is woken once per burst rather
   * than once per query. node's dgram has no sendmmsg, so this is the batching
   * available.
   */
  private flush(entry: ServerState): void {
    entry.flushScheduled = false;
    const batch = entry.outbox;
    entry.outbox = [];
    for (const pending of batch) {
      if (this.pending.get(pending.id) !== pending) continue;
      try {
        pending.via.socket.send(pending.query.wire, pending.onSent);
      } catch (error) {
        // A socket closed by an error meanwhile throws here instead of calling back.
        this.settle(pending, classifyNetworkError(error));
      }
    }
  }

  private onTimer(pending: Pending): void {
    pending.timer = undefined;
    if (this.pending.get(pending.id) !== pending) return;
    if (pending.attempt < pending.tries) {
      shrinkWindow(pending.entry, this.options.clock.monotonic(), pending.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      this.sendTry(pending);
      return;
    }
    const { options, tries } = pending;
    this.settle(
      pending,
      new ProbeFailure(
        'TIMEOUT',
        `no answer from ${options.server.label} for ${options.name} ${options.type} after ${tries} ${tries === 1 ? 'try' : 'tries'} (first waited ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS}ms)`,
      ),
    );
  }

  /** Ends a query once: frees its id, timer and abort hook, then resolves or rejects. */
  private settle(pending: Pending, error: Error | undefined, reply?: ParsedReply): void {
    if (this.pending.get(pending.id) !== pending) return;
    this.pending.delete(pending.id);
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = undefined;
    this.abortWaiters.get(pending.signal)?.delete(pending);
    this.release(pending.entry, pending.via);
    if (pending.started) {
      pending.entry.inFlight--;
      if (reply && pending.attempt === 1) growWindow(pending.entry, this.options.clock.monotonic() - pending.sentAt);
      this.pump(pending.entry);
    }
    if (error || !reply) pending.reject(error ?? new ProbeFailure('INTERNAL', 'DNS query ended without a reply'));
    else pending.resolve({ reply, tries: pending.attempt });
  }

  private async tcpQuery(options: DnsQueryOptions): Promise<ParsedReply> {
    const tries = 1 + (options.retries ?? DEFAULT_RETRIES);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let lastError: ProbeFailure | undefined;
    for (let attempt = 1; attempt <= tries; attempt++) {
      const query = encodeQuery(
        options.name,
        options.type,
        this.random.uint16(),
        options.recursion ?? false,
        options.edns !== false,
        options.dnssecOk === true,
      );
      const exchange = tcpExchange(options, query);
      try {
        const outcome = await this.waitFor(exchange.promise, timeoutMs, options.signal);
        if (outcome !== TIMED_OUT) return outcome;
        lastError = new ProbeFailure(
          'TIMEOUT',
          `no answer over TCP from ${options.server.label} for ${options.name} ${options.type} after ${tries} ${tries === 1 ? 'try' : 'tries'} of ${timeoutMs}ms`,
        );
      } catch (error) {
        const failure = classifyNetworkError(error, options.signal);
        // A refused connection or a broken reply will not improve by asking again at once.
        if (options.signal.aborted || failure.code !== 'TIMEOUT') throw failure;
        lastError = failure;
      } finally {
        exchange.cancel();
      }
    }
    throw lastError ?? new ProbeFailure('TIMEOUT', `no answer over TCP from ${options.server.label}`);
  }

  /** Resolves with the value, or TIMED_OUT after ms; rejects when the signal aborts. Cleans up its timer and abort hook. */
  private waitFor<T>(promise: Promise<T>, ms: number, signal: AbortSignal): Promise<T | typeof TIMED_OUT> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(classifyNetworkError(signal.reason, signal));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(classifyNetworkError(signal.reason, signal));
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(TIMED_OUT);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  private waitersOf(signal: AbortSignal): Set<Pending> {
    let waiters = this.abortWaiters.get(signal);
    if (!waiters) {
      const created = new Set<Pending>();
      waiters = created;
      this.abortWaiters.set(signal, created);
      signal.addEventListener(
        'abort',
        () => {
          for (const pending of [...created]) this.settle(pending, classifyNetworkError(signal.reason, signal));
          created.clear();
        },
        { once: true },
      );
    }
    return waiters;
  }
}

/** Queries one source port serves on average before a fresh one replaces it. */
const PORT_QUERIES = 512;
/** Nor does a port live longer than this, however few queries it served. */
const PORT_LIFETIME_MS = 30_000;
/** Sockets (source ports) open per server at once. */
const PORTS_PER_SERVER = 4;

/** One source port: a UDP socket connected to the server. */
interface PortSocket {
  socket: dgram.Socket;
  connected: boolean;
  ready: Promise<void>;
  /** Queries given to it so far, and how many it takes before it is retired. */
  used: number;
  quota: number;
  openedAt: number;
  /** Queries sent from it that have not ended. */
  inFlight: number;
  /** Takes no new queries; closed once `inFlight` is 0. */
  retired: boolean;
  closed: boolean;
}

function closePort(port: PortSocket): Promise<void> {
  if (port.closed) return Promise.resolve();
  port.closed = true;
  return new Promise<void>((resolve) => {
    try {
      port.socket.close(() => resolve());
    } catch {
      resolve(); // already closed by an error
    }
  });
}

/** Random 16-bit values from the CSPRNG, drawn a few thousand at a time (one syscall per 2,048 ids). */
class RandomPool {
  private readonly buffer = Buffer.alloc(4096);
  private offset = this.buffer.length;

  uint16(): number {
    if (this.offset + 2 > this.buffer.length) {
      randomFillSync(this.buffer);
      this.offset = 0;
    }
    const value = this.buffer.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
}

/** A server's pool of source ports and its flow control. */
interface ServerState {
  key: string;
  host: string;
  port: number;
  ports: PortSocket[];
  /** Queries allowed in flight to this server; more wait in `queue`. */
  window: number;
  inFlight: number;
  queue: Pending[];
  /** Tries waiting for the end-of-turn flush. */
  outbox: Pending[];
  flushScheduled: boolean;
  minRttMs: number;
  lastCut: number;
}

/**
 * An adaptive window per server. Past a point, more queries in flight only
 * fill the server's receive buffer: packets are dropped and each drop costs a
 * whole retry wait (rbldnsd drops beyond ~100 queued on a busy host). So the
 * window starts at dnsperf's default of 100, halves on a timeout (once per
 * timeout period), and grows by one per window of replies only while the
 * round trip stays near the fastest seen: a far server with a long round trip
 * gets a large window, a near one that is already queueing does not.
 */
const START_WINDOW = 100;
const MIN_WINDOW = 8;
const MAX_WINDOW = 5000;

function shrinkWindow(entry: ServerState, now: number, timeoutMs: number): void {
  if (now - entry.lastCut < timeoutMs) return;
  entry.lastCut = now;
  entry.window = Math.max(MIN_WINDOW, Math.floor(entry.window / 2));
}

function growWindow(entry: ServerState, rttMs: number): void {
  if (rttMs < entry.minRttMs) entry.minRttMs = rttMs;
  // Queueing (at the server or in our own event loop) shows as round trips well above the fastest one.
  if (rttMs <= entry.minRttMs * 2 + 1 && entry.window < MAX_WINDOW)
    entry.window = Math.min(MAX_WINDOW, entry.window + 1 / entry.window);
}

/**
 * The wait of try `attempt`: the configured timeout first, then longer and
 * jittered, so that packets a server dropped in a burst are not all sent
 * again in the same instant (and dropped again).
 */
function retryWait(timeoutMs: number, attempt: number): number {
  if (attempt === 1) return timeoutMs;
  return Math.round(timeoutMs * 1.5 ** (attempt - 1) * (0.75 + Math.random() * 0.5));
}

/** One query over a fresh TCP connection with the 2-byte length prefix. */
function tcpExchange(options: DnsQueryOptions, query: QueryWire): { promise: Promise<ParsedReply>; cancel(): void } {
  const socket = net.createConnection({ host: options.server.host, port: options.server.port });
  const promise = new Promise<ParsedReply>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const prefix = Buffer.allocUnsafe(2);
    prefix.writeUInt16BE(query.wire.length, 0);
    socket.on('connect', () => socket.write(Buffer.concat([prefix, query.wire])));
    socket.on('error', (error) => reject(classifyNetworkError(error)));
    socket.on('close', () =>
      reject(new ProbeFailure('PROTOCOL', `${options.server.label} closed the TCP connection before a full reply`)),
    );
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const length = buffered.readUInt16BE(0);
      if (buffered.length < 2 + length) return;
      socket.destroy();
      let reply: ParsedReply;
      try {
        reply = parseReply(buffered.subarray(2, 2 + length), query);
      } catch (error) {
        reject(
          new ProbeFailure('PROTOCOL', `malformed TCP reply from ${options.server.label}: ${(error as Error).message}`),
        );
        return;
      }
      if (reply.id !== query.wire.readUInt16BE(0) || !reply.answersQuery) {
        reject(
          new ProbeFailure(
            'PROTOCOL',
            `TCP reply from ${options.server.label} does not match the query (id or question differ)`,
          ),
        );
        return;
      }
      resolve(reply);
    });
  });
  promise.catch(() => undefined);
  return { promise, cancel: () => socket.destroy() };
}
