/**
 * The fault proxy itself: one loopback listener per (client host, server) link, a pair of pipes per connection,
 * and the faults. Bytes pass as the chunks they arrive in; only frame heads are read (codec.ts). Every fault
 * and every connection's life is reported through `emit`.
 *
 * Partitions pause reading from the silenced side, so bytes wait in the kernel's buffers and flow again,
 * intact, at healing: nothing is ever dropped from the middle of a live stream. A connection accepted while its
 * link is partitioned is never connected to the server; healing resets it (a lost SYN, as the client sees it).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatSessionId } from '../../ground/history.ts';
import type {
  ClientHostAddresses,
  ConnectionInfo,
  Delay,
  Direction,
  DisarmOutcome,
  FaultFilter,
  FaultKind,
  LinkSelector,
  ProxyEvent,
  SessionLocation,
} from './api.ts';
import {
  FrameScanner,
  formatHex,
  isTruncatedReply,
  isTruncatedRequest,
  opName,
  parseConnectRequest,
  parseConnectResponse,
  parseReplyHeader,
  replyXid,
  requestPath,
  requestType,
  requestXid,
  type Cut,
  type FrameHead,
  type FrameVerdict,
  type ReplyHeader,
} from './codec.ts';

export type EventFields = Omit<ProxyEvent, 'monotonicNs'>;

export interface ServerTarget {
  host: string;
  port: number;
}

export interface ProxyOptions {
  servers: ReadonlyMap<number, ServerTarget>;
  maxFrameBytes: number;
  emit(event: EventFields): void;
  log(message: string): void;
}

/** A pipe holding a reply keeps at most this many frames' worth of bytes; past it, the connection is reset. */
const HELD_BYTES_FACTOR = 2;
/** After one side of a connection closes, how long the other may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** Thrown for a request the caller got wrong (unknown host, unknown fault): the control API answers 4xx. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 404 = 400,
  ) {
    super(message);
  }
}

interface RequiredDelay {
  delayMs: number;
  jitterMs: number;
}
const NO_DELAY: RequiredDelay = { delayMs: 0, jitterMs: 0 };

/** One client host's path to one server: its listener, its faults in force, its connections. */
class Link {
  blockedToServer = false;
  blockedToClient = false;
  delayToServer = NO_DELAY;
  delayToClient = NO_DELAY;
  readonly connections = new Set<Connection>();

  constructor(
    readonly clientHost: string,
    readonly server: number,
    readonly listener: net.Server,
    readonly port: number,
  ) {}

  get partitioned(): boolean {
    return this.blockedToServer || this.blockedToClient;
  }

  get delayed(): boolean {
    return [this.delayToServer, this.delayToClient].some((delay) => delay.delayMs > 0 || delay.jitterMs > 0);
  }
}

interface Fault {
  id: number;
  kind: FaultKind;
  filter: FaultFilter;
  ops: ReadonlySet<string> | undefined;
  session: string | undefined;
  state: 'armed' | 'matched' | 'held' | 'finished';
  connection?: Connection;
  xid?: number;
  op?: string;
  path?: string;
  /** The reply the fault dropped or holds. */
  reply?: ReplyHeader;
}

/** What to do with a stream from a cut frame on: reset the connection (a fault, or a broken frame), or hold it. */
type CutAction = { kind: 'reset' | 'malformed'; reason: string } | { kind: 'hold'; fault: Fault };

/** One direction of a connection: scanning, delaying, holding, and flow control of its source. */
class Pipe {
  private readonly scanner: FrameScanner;
  /** Delayed bytes in delivery order; the due times never decrease, so order is kept under jitter. */
  private readonly delayed: { dueMs: number; bytes: Buffer }[] = [];
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private backpressured = false;
  private sourceEnded = false;
  /** Bytes from a held reply on, while a hold-reply fault keeps them. */
  held: Buffer[] | undefined;
  private heldBytes = 0;

  constructor(
    private readonly connection: Connection,
    private readonly source: net.Socket,
    private readonly sink: net.Socket,
    readonly towardServer: boolean,
    maxFrameBytes: number,
    decide: (head: FrameHead, frameIndex: number) => FrameVerdict,
  ) {
    this.scanner = new FrameScanner(maxFrameBytes, decide, (bytes) => this.send(bytes));
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => this.onSourceEnd());
  }

  onData(chunk: Buffer): void {
    if (this.held !== undefined) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > HELD_BYTES_FACTOR * this.connection.proxy.maxFrameBytes) {
        this.connection.close(`held bytes passed ${this.heldBytes}`, true);
      }
      return;
    }
    const cut = this.scanner.push(chunk);
    if (cut !== undefined) this.connection.onCut(this, cut);
  }

  hold(rest: Buffer[]): void {
    this.held = rest;
    this.heldBytes = rest.reduce((sum, bytes) => sum + bytes.length, 0);
  }

  /** Lets held bytes go, as if they had just arrived: the stream resumes exactly where it was cut. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    for (const chunk of held) this.onData(chunk);
    this.endIfDrained();
  }

  private send(bytes: Buffer): void {
    const delay = this.towardServer ? this.connection.link.delayToServer : this.connection.link.delayToClient;
    if (this.delayed.length === 0 && delay.delayMs === 0 && delay.jitterMs === 0) {
      this.write(bytes);
      return;
    }
    const dueMs = Math.max(performance.now() + delay.delayMs + Math.random() * delay.jitterMs, this.lastDueMs);
    this.lastDueMs = dueMs;
    this.delayed.push({ dueMs, bytes });
    if (this.timer === undefined) this.scheduleDelivery();
  }

  private scheduleDelivery(): void {
    const next = this.delayed[0];
    if (next === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.delayed[0] !== undefined && this.delayed[0].dueMs <= now) this.write(this.delayed.shift()!.bytes);
      this.scheduleDelivery();
      this.endIfDrained();
    }, Math.max(0, next.dueMs - performance.now()));
  }

  private write(bytes: Buffer): void {
    if (this.sink.destroyed || this.sink.writableEnded) return; // the peer is gone; so are these bytes
    if (!this.sink.write(bytes) && !this.backpressured) {
      this.backpressured = true;
      this.updateFlow();
      this.sink.once('drain', () => {
        this.backpressured = false;
        this.updateFlow();
      });
    }
  }

  /** Reading stops while the link is silenced in this direction or the sink cannot keep up. */
  updateFlow(): void {
    const link = this.connection.link;
    const silenced = this.towardServer ? link.blockedToServer : link.blockedToClient;
    if (silenced || this.backpressured) this.source.pause();
    else this.source.resume();
  }

  private onSourceEnd(): void {
    this.sourceEnded = true;
    const side = this.towardServer ? 'client' : 'server';
    if (this.held !== undefined) {
      this.connection.close(`${side} closed while a reply was held`, true);
    } else if (this.scanner.midFrame) {
      this.connection.reportMalformed(this, `${side} closed its stream in the middle of a frame`);
      this.connection.close(`${side} closed mid-frame`, true);
    } else {
      this.endIfDrained();
    }
  }

  private endIfDrained(): void {
    if (this.sourceEnded && this.delayed.length === 0 && this.held === undefined && !this.sink.destroyed) this.sink.end();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.delayed.length = 0;
    this.held = undefined;
  }
}

/** A client's TCP connection and, unless it waits on a partition, the proxy's own connection to the server. */
class Connection {
  session: string | undefined;
  private requestedSession = 0n;
  private upstream: net.Socket | undefined;
  private pipes: Pipe[] = [];
  /** Faults that matched a request here and wait for its reply. */
  readonly awaiting: Fault[] = [];
  heldFault: Fault | undefined;
  /** Set by a frame decision right before it answers 'cut'. */
  private cutAction: CutAction | undefined;
  private closed = false;
  private closeReason: string | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly proxy: FaultProxyServer,
    readonly link: Link,
    readonly client: net.Socket,
  ) {
    client.setNoDelay(true);
    client.on('error', (error) => this.close(`client: ${error.message}`, true));
    client.on('close', () => this.onSocketClosed('client closed'));
  }

  get state(): ConnectionInfo['state'] {
    return this.upstream === undefined ? 'waiting' : 'open';
  }

  /** Accepted while the link is partitioned: read and discard what the client sends until healing resets it. */
  wait(): void {
    this.client.on('data', () => {});
  }

  open(target: ServerTarget): void {
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    this.upstream = upstream;
    upstream.on('error', (error) => this.close(`server: ${error.message}`, true));
    upstream.on('close', () => this.onSocketClosed('server closed'));
    const maxFrameBytes = this.proxy.maxFrameBytes;
    this.pipes = [
      new Pipe(this, this.client, upstream, true, maxFrameBytes, (head, index) => this.decideRequest(head, index)),
      new Pipe(this, upstream, this.client, false, maxFrameBytes, (head, index) => this.decideReply(head, index)),
    ];
    this.updateFlow();
  }

  updateFlow(): void {
    for (const pipe of this.pipes) pipe.updateFlow();
  }

  describe(): Omit<EventFields, 'event'> {
    return { clientHost: this.link.clientHost, server: this.link.server, ...(this.session === undefined ? {} : { session: this.session }) };
  }

  private decideRequest(head: FrameHead, frameIndex: number): FrameVerdict {
    if (frameIndex === 0) {
      const request = parseConnectRequest(head);
      if (request === undefined) return this.cut({ kind: 'malformed', reason: 'connect request too short' });
      this.requestedSession = request.sessionId;
      return 'pass';
    }
    if (isTruncatedRequest(head)) return this.cut({ kind: 'malformed', reason: 'request shorter than its header' });
    if (!this.proxy.hasArmedFaults()) return 'pass';
    const xid = requestXid(head);
    if (xid < 0) return 'pass';
    const action = this.proxy.matchRequest(this, head, xid);
    return action === undefined ? 'pass' : this.cut(action);
  }

  private decideReply(head: FrameHead, frameIndex: number): FrameVerdict {
    if (frameIndex === 0) {
      const response = parseConnectResponse(head);
      if (response === undefined) return this.cut({ kind: 'malformed', reason: 'connect response too short' });
      this.onHandshake(response.timeoutMs, response.sessionId);
      return 'pass';
    }
    if (isTruncatedReply(head)) return this.cut({ kind: 'malformed', reason: 'reply shorter than its header' });
    if (this.awaiting.length === 0) return 'pass';
    const xid = replyXid(head);
    const index = this.awaiting.findIndex((fault) => fault.xid === xid);
    if (index < 0) return 'pass';
    const [fault] = this.awaiting.splice(index, 1);
    return this.cut(this.proxy.onAwaitedReply(fault!, parseReplyHeader(head)));
  }

  private cut(action: CutAction): FrameVerdict {
    this.cutAction = action;
    return 'cut';
  }

  private onHandshake(timeoutMs: number, sessionId: bigint): void {
    if (timeoutMs <= 0) {
      this.proxy.emit({ event: 'session-expired', ...this.describe(), session: formatHex(this.requestedSession) });
      return;
    }
    this.session = formatHex(sessionId);
    this.proxy.onSessionEstablished(this);
    const kind = this.requestedSession === 0n ? 'new' : 'resumed';
    this.proxy.emit({ event: 'session-established', ...this.describe(), detail: `${kind}, timeout ${timeoutMs} ms` });
  }

  onCut(pipe: Pipe, cut: Cut): void {
    const action: CutAction = cut.malformed === undefined ? this.cutAction! : { kind: 'malformed', reason: cut.malformed };
    this.cutAction = undefined;
    if (action.kind === 'hold') {
      this.heldFault = action.fault;
      pipe.hold(cut.rest);
      return;
    }
    if (action.kind === 'malformed') this.reportMalformed(pipe, action.reason);
    this.close(action.reason, true);
  }

  reportMalformed(pipe: Pipe, reason: string): void {
    this.proxy.emit({ event: 'malformed-frame', ...this.describe(), detail: `${pipe.towardServer ? 'from client' : 'from server'}: ${reason}` });
  }

  releaseHeld(): void {
    this.heldFault = undefined;
    this.pipes.find((pipe) => pipe.held !== undefined)?.release();
  }

  private onSocketClosed(reason: string): void {
    this.closeReason ??= reason;
    if (this.client.destroyed && (this.upstream === undefined || this.upstream.destroyed)) {
      this.close(this.closeReason, false);
    } else if (this.graceTimer === undefined) {
      this.graceTimer = setTimeout(() => this.close(this.closeReason ?? reason, false), CLOSE_GRACE_MS);
    }
  }

  /** Closes both sides (with an RST when `reset`), once; reports the connection and its unfinished faults. */
  close(reason: string, reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    for (const pipe of this.pipes) pipe.stop();
    for (const socket of [this.client, this.upstream]) {
      if (socket === undefined || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.proxy.onConnectionClosed(this, this.closeReason ?? reason);
  }
}

/** The proxy's state and verbs; control.ts maps HTTP requests onto these methods. */
export class FaultProxyServer {
  readonly maxFrameBytes: number;
  private readonly servers: ReadonlyMap<number, ServerTarget>;
  private readonly links = new Map<string, Map<number, Link>>();
  private readonly connections = new Set<Connection>();
  private readonly sessions = new Map<string, Connection>();
  private readonly faults = new Map<number, Fault>();
  /** Armed faults in arming order: the first that matches a request takes it. */
  private armed: Fault[] = [];
  private nextConnectionId = 1;
  private nextFaultId = 1;

  constructor(private readonly options: ProxyOptions) {
    this.servers = options.servers;
    this.maxFrameBytes = options.maxFrameBytes;
  }

  emit(event: EventFields): void {
    this.options.emit(event);
  }

  async addClientHost(name: string): Promise<ClientHostAddresses> {
    let links = this.links.get(name);
    if (links === undefined) {
      links = new Map();
      this.links.set(name, links);
      for (const server of [...this.servers.keys()].sort((a, b) => a - b)) {
        links.set(server, await this.listen(name, server));
      }
    }
    const ports = Object.fromEntries([...links].map(([server, link]) => [server, link.port]));
    const connectString = [...links.values()].map((link) => `127.0.0.1:${link.port}`).join(',');
    return { connectString, ports };
  }

  private async listen(clientHost: string, server: number): Promise<Link> {
    const listener = net.createServer({ noDelay: true });
    listener.on('error', (error) => this.options.log(`listener ${clientHost}→${server}: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(0, '127.0.0.1', () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const link = new Link(clientHost, server, listener, (listener.address() as net.AddressInfo).port);
    listener.on('connection', (socket) => this.accept(link, socket));
    return link;
  }

  private accept(link: Link, socket: net.Socket): void {
    const connection = new Connection(this.nextConnectionId++, this, link, socket);
    this.connections.add(connection);
    link.connections.add(connection);
    if (link.partitioned) {
      connection.wait();
      this.emit({ event: 'connection-opened', ...connection.describe(), detail: 'waiting: link partitioned' });
    } else {
      connection.open(this.servers.get(link.server)!);
      this.emit({ event: 'connection-opened', ...connection.describe() });
    }
  }

  onSessionEstablished(connection: Connection): void {
    this.sessions.set(connection.session!, connection);
  }

  onConnectionClosed(connection: Connection, reason: string): void {
    this.connections.delete(connection);
    connection.link.connections.delete(connection);
    if (connection.session !== undefined && this.sessions.get(connection.session) === connection) {
      this.sessions.delete(connection.session);
    }
    for (const fault of connection.awaiting.splice(0)) {
      fault.state = 'finished';
      this.emit({ event: 'fault-aborted', ...this.faultFields(fault), detail: `connection closed before the reply: ${reason}` });
    }
    if (connection.heldFault !== undefined) {
      const fault = connection.heldFault;
      fault.state = 'finished';
      this.emit({ event: 'reply-discarded', ...this.faultFields(fault), detail: `held reply died with the connection: ${reason}` });
    }
    this.emit({ event: 'connection-closed', ...connection.describe(), detail: reason });
  }

  private selectLinks(selector: LinkSelector): Link[] {
    for (const name of selector.clientHosts ?? []) {
      if (!this.links.has(name)) throw new RequestError(`unknown client host '${name}'`);
    }
    for (const server of selector.servers ?? []) {
      if (!this.servers.has(server)) throw new RequestError(`unknown server ${server}`);
    }
    const hosts = selector.clientHosts ?? [...this.links.keys()];
    const servers = selector.servers === undefined ? undefined : new Set(selector.servers);
    return hosts.flatMap((host) => [...this.links.get(host)!.values()].filter((link) => servers?.has(link.server) ?? true));
  }

  /** Silences the chosen links in the given direction (replacing any direction in force); returns how many. */
  partition(selector: LinkSelector, direction: Direction): number {
    const links = this.selectLinks(selector);
    for (const link of links) {
      link.blockedToServer = direction !== 'to-client';
      link.blockedToClient = direction !== 'to-server';
      for (const connection of link.connections) connection.updateFlow();
      this.emit({ event: 'partition-start', clientHost: link.clientHost, server: link.server, detail: direction });
    }
    return links.length;
  }

  /** Lifts partitions of the chosen links: held bytes flow on, connections that waited are reset. */
  heal(selector: LinkSelector): number {
    const links = this.selectLinks(selector).filter((link) => link.partitioned);
    for (const link of links) {
      link.blockedToServer = false;
      link.blockedToClient = false;
      for (const connection of [...link.connections]) {
        if (connection.state === 'waiting') connection.close('reset at healing: accepted during the partition', true);
        else connection.updateFlow();
      }
      this.emit({ event: 'partition-stop', clientHost: link.clientHost, server: link.server });
    }
    return links.length;
  }

  setLatency(selector: LinkSelector, toServer: Required<Delay>, toClient: Required<Delay>): number {
    const links = this.selectLinks(selector);
    for (const link of links) {
      link.delayToServer = toServer;
      link.delayToClient = toClient;
      this.emit({
        event: 'latency',
        clientHost: link.clientHost,
        server: link.server,
        detail: `to-server ${toServer.delayMs}±${toServer.jitterMs} ms, to-client ${toClient.delayMs}±${toClient.jitterMs} ms`,
      });
    }
    return links.length;
  }

  /** Resets every connection of the chosen links now; returns how many. */
  reset(selector: LinkSelector): number {
    const connections = this.selectLinks(selector).flatMap((link) => [...link.connections]);
    for (const connection of connections) {
      this.emit({ event: 'reset', ...connection.describe() });
      connection.close('reset by the nemesis', true);
    }
    return connections.length;
  }

  arm(kind: FaultKind, filter: FaultFilter): number {
    if (filter.clientHost !== undefined && !this.links.has(filter.clientHost)) {
      throw new RequestError(`unknown client host '${filter.clientHost}'`);
    }
    if (filter.server !== undefined && !this.servers.has(filter.server)) throw new RequestError(`unknown server ${filter.server}`);
    const fault: Fault = {
      id: this.nextFaultId++,
      kind,
      filter,
      ops: filter.ops === undefined ? undefined : new Set(filter.ops),
      session: filter.session === undefined ? undefined : formatSessionId(filter.session.toLowerCase()),
      state: 'armed',
    };
    this.faults.set(fault.id, fault);
    this.armed.push(fault);
    this.emit({ event: 'armed', faultId: fault.id, detail: `${kind} ${JSON.stringify(filter)}` });
    return fault.id;
  }

  disarm(id: number): DisarmOutcome {
    const fault = this.faults.get(id);
    if (fault === undefined) throw new RequestError(`no fault ${id}`, 404);
    this.faults.delete(id);
    switch (fault.state) {
      case 'finished':
        return 'finished';
      case 'held':
        fault.state = 'finished';
        this.emit({ event: 'reply-released', ...this.faultFields(fault) });
        fault.connection!.releaseHeld();
        return 'released';
      case 'matched': {
        const awaiting = fault.connection!.awaiting;
        awaiting.splice(awaiting.indexOf(fault), 1);
        break;
      }
      case 'armed':
        this.armed = this.armed.filter((other) => other !== fault);
        break;
    }
    fault.state = 'finished';
    this.emit({ event: 'disarmed', ...this.faultFields(fault) });
    return 'disarmed';
  }

  /** Ends every fault in force: partitions, latency, armed or pending faults, held replies (released). */
  healAll(): { links: number; faults: number } {
    const links = this.heal({});
    const delayed = [...this.links.values()].flatMap((byServer) => [...byServer.values()])
      .filter((link) => link.delayed);
    for (const link of delayed) this.setLatency({ clientHosts: [link.clientHost], servers: [link.server] }, NO_DELAY, NO_DELAY);
    const unfinished = [...this.faults.values()].filter((fault) => fault.state !== 'finished');
    for (const fault of unfinished) this.disarm(fault.id);
    return { links: links + delayed.length, faults: unfinished.length };
  }

  hasArmedFaults(): boolean {
    return this.armed.length > 0;
  }

  /** Gives a client request to the first armed fault it matches; a cut action when the request goes no further. */
  matchRequest(connection: Connection, head: FrameHead, xid: number): CutAction | undefined {
    const op = opName(requestType(head));
    let path: string | undefined;
    let pathRead = false;
    const readPath = (): string | undefined => {
      if (!pathRead) path = requestPath(head);
      pathRead = true;
      return path;
    };
    const fault = this.armed.find(({ filter, ops, session }) =>
      (ops === undefined || ops.has(op)) &&
      (filter.clientHost === undefined || filter.clientHost === connection.link.clientHost) &&
      (filter.server === undefined || filter.server === connection.link.server) &&
      (session === undefined || session === connection.session) &&
      (filter.pathPrefix === undefined || (readPath()?.startsWith(filter.pathPrefix) ?? false)),
    );
    if (fault === undefined) return undefined;
    this.armed = this.armed.filter((other) => other !== fault);
    Object.assign(fault, { state: 'matched', connection, xid, op, path: readPath() });
    this.emit({ event: 'matched', ...this.faultFields(fault) });
    if (fault.kind === 'lost-request') {
      fault.state = 'finished';
      this.emit({ event: 'request-dropped', ...this.faultFields(fault) });
      return { kind: 'reset', reason: `request dropped by fault ${fault.id}` };
    }
    connection.awaiting.push(fault);
    return undefined;
  }

  /** The reply a lost-reply or hold-reply fault waited for has arrived: drop it or hold it. */
  onAwaitedReply(fault: Fault, reply: ReplyHeader): CutAction {
    fault.reply = reply;
    const fields = this.faultFields(fault);
    if (fault.kind === 'hold-reply') {
      fault.state = 'held';
      this.emit({ event: 'reply-held', ...fields });
      return { kind: 'hold', fault };
    }
    fault.state = 'finished';
    this.emit({ event: 'reply-dropped', ...fields });
    return { kind: 'reset', reason: `reply dropped by fault ${fault.id}` };
  }

  private faultFields(fault: Fault): Omit<EventFields, 'event'> {
    return {
      faultId: fault.id,
      ...(fault.connection?.describe() ?? {}),
      ...(fault.xid === undefined ? {} : { xid: fault.xid }),
      ...(fault.op === undefined ? {} : { op: fault.op }),
      ...(fault.path === undefined ? {} : { path: fault.path }),
      ...(fault.reply === undefined ? {} : { zxid: formatHex(fault.reply.zxid), err: fault.reply.err }),
    };
  }

  sessionServer(session: string): SessionLocation | undefined {
    const connection = this.sessions.get(formatSessionId(session.toLowerCase()));
    if (connection === undefined) return undefined;
    return { session: connection.session!, server: connection.link.server, clientHost: connection.link.clientHost };
  }

  listConnections(): ConnectionInfo[] {
    return [...this.connections].map((connection) => ({
      id: connection.id,
      clientHost: connection.link.clientHost,
      server: connection.link.server,
      ...(connection.session === undefined ? {} : { session: connection.session }),
      state: connection.state,
    }));
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const connection of [...this.connections]) connection.close('proxy shutting down', false);
    const listeners = [...this.links.values()].flatMap((links) => [...links.values()].map((link) => link.listener));
    await Promise.all(listeners.map((listener) => new Promise<void>((resolve) => listener.close(() => resolve()))));
  }
}
