/**
 * The slice of ZooKeeper's wire protocol the proxy needs (zookeeper-jute/src/main/resources/zookeeper.jute):
 * frame boundaries, the connect handshake, request headers with their path, reply headers. Frames are a 4-byte
 * big-endian length and a body. The first frame each way is the handshake (ConnectRequest, ConnectResponse);
 * after it, requests are RequestHeader (xid int, type int) + body and replies ReplyHeader (xid int, zxid long,
 * err int) + body. Nothing here copies a frame's body: the scanner reads headers where they lie.
 */

/** Op type → name, as in ZooDefs.OpCode. */
const OP_NAMES = new Map<number, string>([
  [0, 'notification'], [1, 'create'], [2, 'delete'], [3, 'exists'], [4, 'getData'], [5, 'setData'],
  [6, 'getACL'], [7, 'setACL'], [8, 'getChildren'], [9, 'sync'], [11, 'ping'], [12, 'getChildren2'],
  [13, 'check'], [14, 'multi'], [15, 'create2'], [16, 'reconfig'], [17, 'checkWatches'], [18, 'removeWatches'],
  [19, 'createContainer'], [20, 'deleteContainer'], [21, 'createTTL'], [22, 'multiRead'], [100, 'auth'],
  [101, 'setWatches'], [102, 'sasl'], [103, 'getEphemerals'], [104, 'getAllChildrenNumber'],
  [105, 'setWatches2'], [106, 'addWatch'], [107, 'whoAmI'], [-10, 'createSession'], [-11, 'closeSession'],
  [-1, 'error'],
]);

export const KNOWN_OP_NAMES: readonly string[] = [...OP_NAMES.values()];

/** Requests whose body starts with the path (a ustring). */
const PATH_FIRST_OPS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 17, 18, 19, 20, 21, 103, 104, 106]);
/** multi and multiRead: MultiHeader (type int, done boolean, err int), then the first op's request, path first. */
const MULTI_OPS = new Set([14, 22]);
const MULTI_HEADER_BYTES = 9;

export function opName(type: number): string {
  return OP_NAMES.get(type) ?? `op${type}`;
}

const LENGTH_BYTES = 4;
const REQUEST_HEADER_BYTES = 8;
const REPLY_HEADER_BYTES = 16;
/** ConnectRequest up to and including sessionId: protocolVersion, lastZxidSeen, timeOut, sessionId. */
const CONNECT_REQUEST_MIN_BYTES = 24;
/** ConnectResponse up to and including sessionId: protocolVersion, timeOut, sessionId. */
const CONNECT_RESPONSE_MIN_BYTES = 16;
/**
 * How much of a frame the scanner shows before the frame may pass: enough for every header and any sane
 * path. A longer frame (a big setData) is inspected on its first bytes only.
 */
export const INSPECT_BYTES = LENGTH_BYTES + REQUEST_HEADER_BYTES + MULTI_HEADER_BYTES + 4 + 1024;

/** ZooKeeper's jute.maxbuffer is 1 MiB for requests; replies with many children run larger. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

export function formatHex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * Whether a client's first bytes can start a ZooKeeper session, whose first four are the length of a
 * ConnectRequest: 'undecided' until they could still be one. A four-letter word (`ruok` is 0x72756f6b) or any
 * other protocol is told apart by its first byte, which no sane frame length has.
 */
export function sessionStart(firstBytes: Buffer, maxFrameBytes: number): 'session' | 'not-session' | 'undecided' {
  const known = Math.min(firstBytes.length, LENGTH_BYTES);
  let smallest = 0;
  for (let index = 0; index < LENGTH_BYTES; index += 1) smallest = smallest * 256 + (index < known ? firstBytes[index]! : 0);
  const largest = smallest + 256 ** (LENGTH_BYTES - known) - 1;
  // Read as signed: a first byte of 0x80 or more is a negative length.
  if (firstBytes[0]! >= 0x80 || largest < CONNECT_REQUEST_MIN_BYTES || smallest > maxFrameBytes) return 'not-session';
  return known === LENGTH_BYTES ? 'session' : 'undecided';
}

/** A frame head: the whole frame, or its first INSPECT_BYTES; offset 0 is the length prefix. */
export type FrameHead = Buffer;

export function frameBodyLength(head: FrameHead): number {
  return head.readInt32BE(0);
}

export interface ConnectRequest {
  lastZxidSeen: bigint;
  timeoutMs: number;
  /** 0n: a new session; otherwise the session the client tries to resume. */
  sessionId: bigint;
}

export function parseConnectRequest(head: FrameHead): ConnectRequest | undefined {
  if (frameBodyLength(head) < CONNECT_REQUEST_MIN_BYTES || head.length < LENGTH_BYTES + CONNECT_REQUEST_MIN_BYTES) {
    return undefined;
  }
  return {
    lastZxidSeen: head.readBigInt64BE(8),
    timeoutMs: head.readInt32BE(16),
    sessionId: head.readBigInt64BE(20),
  };
}

export interface ConnectResponse {
  /** 0 when the server refuses the session (expired or unknown). */
  timeoutMs: number;
  sessionId: bigint;
}

export function parseConnectResponse(head: FrameHead): ConnectResponse | undefined {
  if (frameBodyLength(head) < CONNECT_RESPONSE_MIN_BYTES || head.length < LENGTH_BYTES + CONNECT_RESPONSE_MIN_BYTES) {
    return undefined;
  }
  return { timeoutMs: head.readInt32BE(8), sessionId: head.readBigInt64BE(12) };
}

/** True when the frame is too short to carry the header its direction requires. */
export function isTruncatedRequest(head: FrameHead): boolean {
  return frameBodyLength(head) < REQUEST_HEADER_BYTES;
}

export function isTruncatedReply(head: FrameHead): boolean {
  return frameBodyLength(head) < REPLY_HEADER_BYTES;
}

export function requestXid(head: FrameHead): number {
  return head.readInt32BE(4);
}

export function requestType(head: FrameHead): number {
  return head.readInt32BE(8);
}

/** The request's path (the first op's for multi), when it has one and it lies within the head. */
export function requestPath(head: FrameHead): string | undefined {
  const type = requestType(head);
  let offset = LENGTH_BYTES + REQUEST_HEADER_BYTES;
  if (MULTI_OPS.has(type)) {
    if (head.length < offset + MULTI_HEADER_BYTES || head.readUInt8(offset + 4) !== 0) return undefined; // done: empty multi
    offset += MULTI_HEADER_BYTES;
  } else if (!PATH_FIRST_OPS.has(type)) {
    return undefined;
  }
  if (head.length < offset + 4) return undefined;
  const pathLength = head.readInt32BE(offset);
  const end = offset + 4 + pathLength;
  if (pathLength < 0 || end > head.length || end > LENGTH_BYTES + frameBodyLength(head)) return undefined;
  return head.toString('utf8', offset + 4, end);
}

export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}

export function replyXid(head: FrameHead): number {
  return head.readInt32BE(4);
}

export function parseReplyHeader(head: FrameHead): ReplyHeader {
  return { xid: head.readInt32BE(4), zxid: head.readBigInt64BE(8), err: head.readInt32BE(16) };
}

/** What the scanner's owner says about one frame: let it through, or stop the stream at its first byte. */
export type FrameVerdict = 'pass' | 'cut';

export interface Cut {
  /** Bytes from the first byte of the cut frame on, in order (they were not forwarded). */
  rest: Buffer[];
  /** Set when the stream itself is broken (bad length); the cut frame is not a frame then. */
  malformed?: string;
}

/**
 * Finds frame boundaries in one direction of a stream. While `decoding`, it asks `decide` about each frame once
 * its head is complete; passing bytes go to `forward` as slices of the input chunks (no copy), except the few head
 * bytes of a frame that straddles two chunks. After a cut the scanner stands at the cut frame's first byte, so
 * feeding the rest back in later (a held reply released) resumes the stream exactly.
 *
 * While not decoding (the fast path: nothing on the connection needs a frame's contents), it only counts: it
 * reads each frame's length, skips its body and forwards every chunk whole as it arrives. Switching to decoding
 * takes effect at the next frame boundary: a frame whose first byte was forwarded already is counted to its end,
 * and the first frame that starts after the switch is decided. A length out of bounds is reported as malformed in
 * either mode, so the stream never goes on being read out of step.
 */
export class FrameScanner {
  /** Frames whose head has been decided or counted, counting from the handshake (frame 0). */
  framesSeen = 0;
  /** Bytes of the current frame still to pass through untouched. */
  private bodyLeft = 0;
  /** The first bytes of the next frame, when a chunk ended before its head was complete (a copy; decoding only). */
  private stash: Buffer | undefined;
  /** Counting: how many bytes of the current frame's length have gone by, and their value so far. */
  private lengthBytes = 0;
  private lengthSoFar = 0;
  private decodingFrames = true;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly decide: (head: FrameHead, frameIndex: number) => FrameVerdict,
    private readonly forward: (bytes: Buffer) => void,
  ) {}

  get decoding(): boolean {
    return this.decodingFrames;
  }

  /**
   * Decoding on: from the next frame that starts. Off: from now; a head kept back so far is forwarded and the
   * frame it starts is counted.
   */
  setDecoding(decoding: boolean): void {
    if (decoding === this.decodingFrames) return;
    this.decodingFrames = decoding;
    if (decoding) return;
    const stash = this.takeStash();
    if (stash === undefined) return;
    if (stash.length < LENGTH_BYTES) {
      this.lengthBytes = stash.length;
      this.lengthSoFar = stash.reduce((value, byte) => value * 256 + byte, 0);
    } else {
      // A head is only kept back once its length has been read and found in bounds.
      this.framesSeen += 1;
      this.bodyLeft = LENGTH_BYTES + stash.readInt32BE(0) - stash.length;
    }
    this.forward(stash);
  }

  /** The bytes it kept back (the start of a frame whose head is not complete yet), to pass on unparsed. */
  takeStash(): Buffer | undefined {
    const stash = this.stash;
    this.stash = undefined;
    return stash;
  }

  push(chunk: Buffer): Cut | undefined {
    let position = 0;
    if (this.stash !== undefined) {
      const completed = this.completeStash(chunk);
      if (completed === undefined) return undefined; // the whole chunk went into the stash
      const { head, used } = completed;
      const cut = this.decideHead(head);
      if (cut !== undefined) return { ...cut, rest: [head, chunk.subarray(used)] };
      this.forward(head);
      this.bodyLeft -= head.length;
      position = used;
    }
    let passFrom = position;
    while (position < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - position);
        this.bodyLeft -= take;
        position += take;
        continue;
      }
      if (!this.decodingFrames || this.lengthBytes > 0) {
        const frameStart = position - this.lengthBytes;
        while (this.lengthBytes < LENGTH_BYTES && position < chunk.length) {
          this.lengthSoFar = this.lengthSoFar * 256 + chunk[position]!;
          this.lengthBytes += 1;
          position += 1;
        }
        if (this.lengthBytes < LENGTH_BYTES) break;
        // Read as signed, as readInt32BE would.
        const bodyLength = this.lengthSoFar >= 2 ** 31 ? this.lengthSoFar - 2 ** 32 : this.lengthSoFar;
        this.lengthBytes = 0;
        this.lengthSoFar = 0;
        if (bodyLength < 0 || bodyLength > this.maxFrameBytes) {
          const start = Math.max(frameStart, passFrom);
          if (start > passFrom) this.forward(chunk.subarray(passFrom, start));
          return { malformed: `frame length ${bodyLength} outside 0..${this.maxFrameBytes}`, rest: [chunk.subarray(start)] };
        }
        this.framesSeen += 1;
        this.bodyLeft = bodyLength;
        continue;
      }
      const available = chunk.length - position;
      const need = available < LENGTH_BYTES ? LENGTH_BYTES : this.headBytes(chunk.readInt32BE(position));
      if (available < need) {
        this.stash = Buffer.from(chunk.subarray(position));
        break;
      }
      const head = chunk.subarray(position, position + need);
      const cut = this.decideHead(head);
      if (cut !== undefined) {
        if (position > passFrom) this.forward(chunk.subarray(passFrom, position));
        return { ...cut, rest: [chunk.subarray(position)] };
      }
      // decideHead set bodyLeft to the whole frame: the loop skips it, head included.
    }
    const passEnd = this.stash === undefined ? chunk.length : position;
    if (passEnd > passFrom) this.forward(passFrom === 0 && passEnd === chunk.length ? chunk : chunk.subarray(passFrom, passEnd));
    return undefined;
  }

  /** Bytes of a frame of this body length the owner sees before deciding (a malformed length: just the prefix). */
  private headBytes(bodyLength: number): number {
    if (bodyLength < 0 || bodyLength > this.maxFrameBytes) return LENGTH_BYTES;
    return Math.min(LENGTH_BYTES + bodyLength, INSPECT_BYTES);
  }

  /** Tops the stash up from the chunk; returns the complete head and how much of the chunk it took. */
  private completeStash(chunk: Buffer): { head: Buffer; used: number } | undefined {
    let stash = this.stash!;
    let used = 0;
    for (;;) {
      const need = stash.length < LENGTH_BYTES ? LENGTH_BYTES : this.headBytes(stash.readInt32BE(0));
      if (stash.length >= need) break;
      const take = Math.min(need - stash.length, chunk.length - used);
      stash = Buffer.concat([stash, chunk.subarray(used, used + take)]);
      used += take;
      if (stash.length < need) {
        this.stash = stash;
        return undefined;
      }
    }
    this.stash = undefined;
    return { head: stash, used };
  }

  /** Undefined when the frame passes (bodyLeft then covers all of it); a cut otherwise. */
  private decideHead(head: Buffer): Omit<Cut, 'rest'> | undefined {
    const bodyLength = head.readInt32BE(0);
    if (bodyLength < 0 || bodyLength > this.maxFrameBytes) {
      return { malformed: `frame length ${bodyLength} outside 0..${this.maxFrameBytes}` };
    }
    if (this.decide(head, this.framesSeen) === 'cut') return {};
    this.framesSeen += 1;
    this.bodyLeft = LENGTH_BYTES + bodyLength;
    return undefined;
  }
}
