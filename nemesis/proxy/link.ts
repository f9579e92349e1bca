/**
 * One client connection through a proxy: the client's socket, the proxy's own connection to the upstream, and a
 * pipe each way (upstream: client → server, downstream: server → client). A pipe reads ZooKeeper frames where they
 * arrive (codec.ts: only frame heads, no copies) for the zk_* faults and the session events, then passes the bytes
 * through its chain of toxic stages (toxics/toxic.ts) to the destination socket. With no toxic, bytes go from
 * one socket to the other as the chunks they arrived in.
 *
 * Frames are decoded only while something needs them (the fast path): each way the handshake (for the session),
 * requests while the proxy has a zk_* toxic (to match them), replies while a fault on this connection waits for
 * one. The rest of the time the pipes only count frame lengths, so that decoding can start at the next frame
 * boundary the moment a zk_* toxic is added to an open connection.
 *
 * A connection whose client does not open a ZooKeeper session (a four-letter word such as `ruok`, any other
 * protocol), or whose frames stop making sense, is passed through unparsed from then on: the proxy never resets a
 * connection because it does not understand it.
 */
import net from 'node:net';
import {
  FrameScanner,
  formatHex,
  isTruncatedReply,
  isTruncatedRequest,
  parseConnectRequest,
  parseConnectResponse,
  parseReplyHeader,
  replyXid,
  requestXid,
  sessionStart,
  type Cut,
  type FrameHead,
  type FrameVerdict,
} from './codec.ts';
import type { ConnectionJson } from './api.ts';
import type { EventFields, Fault, FaultConnection, FaultCut, FrameToxicEntry, ZkFaults } from './faults.ts';
import { passThrough, type Stage, type StageContext, type StageOutput, type StreamName, type StreamToxic } from './toxics/toxic.ts';

/** A Toxiproxy toxic on one proxy. */
export interface StreamToxicEntry {
  readonly name: string;
  readonly type: StreamToxic<object>;
  readonly stream: StreamName;
  toxicity: number;
  attributes: object;
}
export type ToxicEntry = StreamToxicEntry | FrameToxicEntry;

export function isFrameToxic(entry: ToxicEntry): entry is FrameToxicEntry {
  return entry.type.kind === 'frame';
}

/** What a connection needs of the proxy it belongs to. */
export interface LinkOwner {
  readonly name: string;
  readonly maxFrameBytes: number;
  readonly faults: ZkFaults;
  streamToxics(stream: StreamName): readonly StreamToxicEntry[];
  frameToxics(): readonly FrameToxicEntry[];
  random(): number;
  emit(event: EventFields): void;
  onSession(connection: Connection): void;
  onConnectionClosed(connection: Connection, reason: string): void;
}

/** A pipe holding a reply keeps at most this many frames' worth of bytes; past it, the connection is reset. */
const HELD_BYTES_FACTOR = 2;
/** Toxic stages holding more than this (latency, bandwidth) stop the pipe reading its source until they drain. */
const CHAIN_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** After one side of a connection closes, how long the other may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2_000;
/** How many of a client's first bytes a passthrough event quotes. */
const QUOTED_BYTES = 4;

type CutAction = FaultCut | { kind: 'malformed'; reason: string };

/** One toxic's place in one pipe's chain. */
class Slot implements StageOutput {
  stage!: Stage;

  constructor(
    readonly entry: StreamToxicEntry,
    public next: StageOutput,
  ) {}

  write(bytes: Buffer): void {
    this.stage.write(bytes);
  }

  end(): void {
    this.stage.end();
  }
}

/** One direction of a connection: frame reading, the toxic chain, holding, and flow control of its source. */
class Pipe {
  scanner: FrameScanner | undefined;
  /** Bytes from a held reply on, while a zk_hold_reply fault keeps them. */
  held: Buffer[] | undefined;
  private heldBytes = 0;
  private readonly slots: Slot[] = [];
  private readonly sink: StageOutput;
  private head: StageOutput;
  private readonly states = new Map<StreamToxicEntry, unknown>();
  private backpressured = false;
  private sinkEnded = false;
  /** The source has sent its FIN: the end is on its way through the chain. */
  sourceEnded = false;

  constructor(
    private readonly connection: Connection,
    private readonly source: net.Socket,
    private readonly destination: net.Socket,
    readonly stream: StreamName,
    toxics: readonly StreamToxicEntry[],
  ) {
    this.sink = { write: (bytes) => this.writeDestination(bytes), end: () => this.endDestination() };
    this.head = this.sink;
    for (const entry of toxics) this.addToxic(entry);
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => this.onSourceEnd());
  }

  startScanning(decide: (head: FrameHead, frameIndex: number) => FrameVerdict): void {
    this.scanner = new FrameScanner(this.connection.owner.maxFrameBytes, decide, (bytes) => this.enter(bytes));
  }

  /** Stops reading frames: what the scanner kept back goes on, and so does everything after it. */
  stopScanning(): void {
    const stash = this.scanner?.takeStash();
    this.scanner = undefined;
    if (stash !== undefined) this.enter(stash);
  }

  onData(chunk: Buffer): void {
    if (this.held !== undefined) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > HELD_BYTES_FACTOR * this.connection.owner.maxFrameBytes) {
        this.connection.close(`held bytes passed ${this.heldBytes}`, true);
      }
    } else if (this.connection.mode === 'detecting') {
      this.connection.detect(this, chunk);
    } else if (this.scanner !== undefined) {
      const cut = this.scanner.push(chunk);
      if (cut !== undefined) this.connection.onCut(this, cut);
    } else {
      this.enter(chunk);
    }
  }

  /** Bytes past the frame reader: into the chain. */
  enter(bytes: Buffer): void {
    this.head.write(bytes);
    if (this.slots.length > 0) this.updateFlow();
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
  }

  addToxic(entry: StreamToxicEntry): void {
    const slot = new Slot(entry, this.sink);
    slot.stage = this.stageFor(slot);
    const last = this.slots.at(-1);
    if (last === undefined) this.head = slot;
    else last.next = slot;
    this.slots.push(slot);
  }

  /** The toxic leaves: what it held goes on, in order (a timeout closes the stream instead), and the chain closes up. */
  removeToxic(entry: StreamToxicEntry): void {
    const index = this.slots.findIndex((slot) => slot.entry === entry);
    if (index < 0) return;
    const slot = this.slots[index]!;
    slot.stage.flush();
    if (entry.type.closesOnRemoval === true) slot.next.end();
    if (index === 0) this.head = slot.next;
    else this.slots[index - 1]!.next = slot.next;
    slot.stage.destroy();
    this.slots.splice(index, 1);
    this.states.delete(entry);
    this.updateFlow();
  }

  /** New attributes or toxicity: a new stage takes the old one's place (its held bytes go on first). */
  updateToxic(entry: StreamToxicEntry): void {
    const slot = this.slots.find((candidate) => candidate.entry === entry);
    if (slot === undefined) return;
    slot.stage.flush();
    slot.stage.destroy();
    slot.stage = this.stageFor(slot);
    this.updateFlow();
  }

  /** The toxic's stage, or a pass-through when this connection's draw against its toxicity spared it. */
  private stageFor(slot: Slot): Stage {
    const { entry } = slot;
    const owner = this.connection.owner;
    const context: StageContext = {
      get output() {
        return slot.next;
      },
      reset: (reason) => this.connection.reset(`${entry.name}: ${reason}`),
      random: () => owner.random(),
      released: () => this.updateFlow(),
    };
    let state = this.states.get(entry);
    if (state === undefined && entry.type.newState !== undefined) {
      state = entry.type.newState();
      this.states.set(entry, state);
    }
    return owner.random() < entry.toxicity ? entry.type.stage(entry.attributes, context, state) : passThrough(context);
  }

  private writeDestination(bytes: Buffer): void {
    if (this.destination.destroyed || this.destination.writableEnded) return; // the peer is gone; so are these bytes
    if (!this.destination.write(bytes) && !this.backpressured) {
      this.backpressured = true;
      this.updateFlow();
      this.destination.once('drain', () => {
        this.backpressured = false;
        this.updateFlow();
      });
    }
  }

  private endDestination(): void {
    if (this.sinkEnded) return;
    this.sinkEnded = true;
    if (!this.destination.destroyed) this.destination.end();
  }

  /** Reading stops while the destination cannot keep up or the chain holds too much. */
  updateFlow(): void {
    if (this.source.destroyed) return;
    const full = this.backpressured || this.slots.reduce((sum, slot) => sum + slot.stage.held(), 0) > CHAIN_HIGH_WATER_BYTES;
    if (full) this.source.pause();
    else this.source.resume();
  }

  private onSourceEnd(): void {
    this.sourceEnded = true;
    if (this.held !== undefined) {
      this.connection.close(`${this.stream === 'upstream' ? 'client' : 'server'} closed while a reply was held`, true);
      return;
    }
    this.connection.onSourceEnd(this);
    this.stopScanning();
    this.head.end();
  }

  stop(): void {
    for (const slot of this.slots) slot.stage.destroy();
    this.held = undefined;
  }
}

export class Connection implements FaultConnection {
  /** detecting: waiting for the client's first bytes; raw: passed through unparsed. */
  mode: 'detecting' | 'zookeeper' | 'raw' = 'detecting';
  session: string | undefined;
  readonly awaiting: Fault[] = [];
  heldFault: Fault | undefined;
  private requestedSession = 0n;
  /** The handshake's frames have been read: the connect request, the connect response. */
  private connectRequestRead = false;
  private connectResponseRead = false;
  private pending: Buffer | undefined;
  private readonly upstreamSocket: net.Socket;
  private readonly pipes: Record<StreamName, Pipe>;
  /** zk_* toxics this connection's draw against their toxicity spared. */
  private readonly spared = new Set<FrameToxicEntry>();
  /** Set by a frame decision right before it answers 'cut'. */
  private cutAction: CutAction | undefined;
  private closed = false;
  private closeReason: string | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly owner: LinkOwner,
    readonly client: net.Socket,
    upstream: { host: string; port: number },
  ) {
    client.setNoDelay(true);
    this.upstreamSocket = net.connect({ host: upstream.host, port: upstream.port, noDelay: true, allowHalfOpen: true });
    for (const [socket, side] of [[client, 'client'], [this.upstreamSocket, 'upstream']] as const) {
      socket.on('error', (error) => this.close(`${side}: ${error.message}`, side === 'client'));
      socket.on('close', () => this.onSocketClosed(`${side} closed`));
    }
    this.pipes = {
      upstream: new Pipe(this, client, this.upstreamSocket, 'upstream', owner.streamToxics('upstream')),
      downstream: new Pipe(this, this.upstreamSocket, client, 'downstream', owner.streamToxics('downstream')),
    };
    for (const entry of owner.frameToxics()) this.rollFrameToxic(entry);
  }

  describe(): Omit<EventFields, 'event'> {
    return { proxy: this.owner.name, ...(this.session === undefined ? {} : { session: this.session }) };
  }

  toJson(): ConnectionJson {
    return { id: this.id, proxy: this.owner.name, ...(this.session === undefined ? {} : { session: this.session }), state: this.graceTimer === undefined ? 'open' : 'closing' };
  }

  addToxic(entry: ToxicEntry): void {
    if (isFrameToxic(entry)) {
      this.rollFrameToxic(entry);
      this.updateDecoding();
    } else {
      this.pipes[entry.stream].addToxic(entry);
    }
  }

  removeToxic(entry: ToxicEntry): void {
    if (isFrameToxic(entry)) {
      this.spared.delete(entry);
      this.updateDecoding();
    } else {
      this.pipes[entry.stream].removeToxic(entry);
    }
  }

  updateToxic(entry: ToxicEntry): void {
    if (isFrameToxic(entry)) this.rollFrameToxic(entry);
    else this.pipes[entry.stream].updateToxic(entry);
  }

  private rollFrameToxic(entry: FrameToxicEntry): void {
    if (this.owner.random() < entry.toxicity) this.spared.delete(entry);
    else this.spared.add(entry);
  }

  /**
   * Which pipes decode frames, and which only count them (the fast path): requests are decoded until the connect
   * request has been read and while the proxy has a zk_* toxic; replies until the connect response has been read
   * and while a fault on this connection waits for its reply (which comes after its request, so after this).
   */
  private updateDecoding(): void {
    if (this.mode !== 'zookeeper') return;
    this.pipes.upstream.scanner?.setDecoding(!this.connectRequestRead || this.owner.frameToxics().length > 0);
    this.pipes.downstream.scanner?.setDecoding(!this.connectResponseRead || this.awaiting.length > 0);
  }

  /** The first bytes tell a ZooKeeper session (a ConnectRequest's length) from anything else. */
  detect(pipe: Pipe, chunk: Buffer): void {
    if (pipe.stream === 'downstream') {
      this.passUnparsed('the server spoke first');
      pipe.onData(chunk);
      return;
    }
    const pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    const verdict = sessionStart(pending, this.owner.maxFrameBytes);
    if (verdict === 'undecided') {
      this.pending = pending;
      return;
    }
    this.pending = undefined;
    if (verdict === 'session') {
      this.mode = 'zookeeper';
      this.pipes.upstream.startScanning((head, index) => this.decideRequest(head, index));
      this.pipes.downstream.startScanning((head, index) => this.decideReply(head, index));
    } else {
      this.passUnparsed(`not a ZooKeeper session: it starts with ${JSON.stringify(pending.subarray(0, QUOTED_BYTES).toString('latin1'))}`);
    }
    pipe.onData(pending);
  }

  /** From now on both directions pass unparsed; faults waiting for a reply here can no longer see it. */
  private passUnparsed(reason: string): void {
    this.mode = 'raw';
    this.owner.emit({ event: 'passthrough', ...this.describe(), detail: reason });
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) this.pipes.upstream.enter(pending);
    for (const pipe of Object.values(this.pipes)) pipe.stopScanning();
    this.owner.faults.abortAwaiting(this, `the connection is no longer parsed: ${reason}`);
  }

  private decideRequest(head: FrameHead, frameIndex: number): FrameVerdict {
    if (frameIndex === 0) {
      const request = parseConnectRequest(head);
      if (request === undefined) return this.cut({ kind: 'malformed', reason: 'connect request too short' });
      this.requestedSession = request.sessionId;
      this.connectRequestRead = true;
      this.updateDecoding();
      return 'pass';
    }
    if (isTruncatedRequest(head)) return this.cut({ kind: 'malformed', reason: 'request shorter than its header' });
    const toxics = this.owner.frameToxics();
    if (toxics.length === 0) return 'pass';
    const xid = requestXid(head);
    if (xid < 0) return 'pass'; // pings, auth, setWatches: faults aim at client operations
    const eligible = this.spared.size === 0 ? toxics : toxics.filter((entry) => !this.spared.has(entry));
    const action = this.owner.faults.matchRequest(this, eligible, this.session, head, xid);
    if (this.awaiting.length > 0) this.updateDecoding();
    return action === undefined ? 'pass' : this.cut(action);
  }

  private decideReply(head: FrameHead, frameIndex: number): FrameVerdict {
    if (frameIndex === 0) {
      const response = parseConnectResponse(head);
      if (response === undefined) return this.cut({ kind: 'malformed', reason: 'connect response too short' });
      this.onHandshake(response.timeoutMs, response.sessionId);
      this.connectResponseRead = true;
      this.updateDecoding();
      return 'pass';
    }
    if (isTruncatedReply(head)) return this.cut({ kind: 'malformed', reason: 'reply shorter than its header' });
    if (this.awaiting.length === 0) return 'pass';
    const xid = replyXid(head);
    const index = this.awaiting.findIndex((fault) => fault.xid === xid);
    if (index < 0) return 'pass';
    const [fault] = this.awaiting.splice(index, 1);
    this.updateDecoding();
    return this.cut(this.owner.faults.onAwaitedReply(fault!, parseReplyHeader(head)));
  }

  private cut(action: CutAction): FrameVerdict {
    this.cutAction = action;
    return 'cut';
  }

  private onHandshake(timeoutMs: number, sessionId: bigint): void {
    if (timeoutMs <= 0) {
      this.owner.emit({ event: 'session-expired', ...this.describe(), session: formatHex(this.requestedSession) });
      return;
    }
    this.session = formatHex(sessionId);
    this.owner.onSession(this);
    const kind = this.requestedSession === 0n ? 'new' : 'resumed';
    this.owner.emit({ event: 'session-established', ...this.describe(), detail: `${kind}, timeout ${timeoutMs} ms` });
  }

  onCut(pipe: Pipe, cut: Cut): void {
    const action: CutAction = cut.malformed === undefined ? this.cutAction! : { kind: 'malformed', reason: cut.malformed };
    this.cutAction = undefined;
    if (action.kind === 'hold') {
      pipe.hold(cut.rest);
    } else if (action.kind === 'reset') {
      this.close(action.reason, true);
    } else {
      const from = pipe.stream === 'upstream' ? 'from client' : 'from server';
      this.owner.emit({ event: 'malformed-frame', ...this.describe(), detail: `${from}: ${action.reason}; passed through unparsed from here` });
      this.passUnparsed(`malformed frame ${from}`);
      for (const bytes of cut.rest) pipe.enter(bytes);
    }
  }

  /** One side closed its stream: the other may still send for a moment, then the connection closes. */
  onSourceEnd(pipe: Pipe): void {
    if (this.mode === 'detecting' && pipe.stream === 'upstream' && this.pending !== undefined) this.passUnparsed('the client closed within its first bytes');
    this.closeAfterGrace(`${pipe.stream === 'upstream' ? 'client' : 'upstream'} closed`);
  }

  releaseHeld(): void {
    this.heldFault = undefined;
    Object.values(this.pipes).find((pipe) => pipe.held !== undefined)?.release();
  }

  /** Resets both sides now (reset_peer). */
  reset(reason: string): void {
    if (this.closed) return;
    this.owner.emit({ event: 'reset', ...this.describe(), detail: reason });
    this.close(reason, true);
  }

  private onSocketClosed(reason: string): void {
    if (this.client.destroyed && this.upstreamSocket.destroyed) this.close(this.closeReason ?? reason, false);
    else this.closeAfterGrace(reason);
  }

  /**
   * A side that does not close within the grace after the other did is closed for it, as Toxiproxy closes both
   * sockets once one direction ends. Once both sides have closed, the chains pass the ends on in their own time
   * (a slow_close may hold one) and the sockets close when the ends arrive.
   */
  private closeAfterGrace(reason: string): void {
    this.closeReason ??= reason;
    this.graceTimer ??= setTimeout(() => {
      if (!Object.values(this.pipes).every((pipe) => pipe.sourceEnded)) this.close(this.closeReason ?? reason, false);
    }, CLOSE_GRACE_MS);
  }

  /** Closes both sides (with an RST when `reset`), once; reports the connection and its unfinished faults. */
  close(reason: string, reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.graceTimer);
    for (const pipe of Object.values(this.pipes)) pipe.stop();
    for (const socket of [this.client, this.upstreamSocket]) {
      if (socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
    const why = this.closeReason ?? reason;
    this.owner.faults.onConnectionClosed(this, why);
    this.owner.onConnectionClosed(this, why);
  }
}
