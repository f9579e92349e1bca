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
 * While not decoding (the fast path: nothing on the connection needs a frame's contents), it only counts: it reads
 * each frame's length where it lies and skips its body. A frame whose first bytes are all a chunk ends with (no
 * more than its length and one byte) waits for the bytes after them, in both modes, and goes out with them in one
 * piece: the ZooKeeper C client writes a frame's length and its body separately, and forwarding the length alone
 * cost a write of its own. Switching to decoding takes effect at the next frame whose first byte has not gone out:
 * a frame begun already is counted to its end. A length out of bounds is malformed in either mode, so the stream
 * is never read out of step.
 */
export class FrameScanner {
  /** Frames whose head has been decided or counted, counting from the handshake (frame 0). */
  framesSeen = 0;
  /** Bytes of the current frame still to pass through untouched. */
  private bodyLeft = 0;
  /** The first bytes of the next frame, when a chunk ended before its head was complete (a copy). */
  private stash: Buffer | undefined;
  private decodingFrames = true;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly decide: (head: FrameHead, frameIndex: number) => FrameVerdict,
    private readonly forward: (bytes: Buffer) => void,
  ) {}

  get decoding(): boolean {
    return this.decodingFrames;
  }

  /** From the next frame whose first byte has not gone out: decided (decoding), or only counted. */
  setDecoding(decoding: boolean): void {
    this.decodingFrames = decoding;
  }

  /** The bytes it kept back (the start of a frame whose head is not complete yet), to pass on unparsed. */
  takeStash(): Buffer | undefined {
    const stash = this.stash;
    this.stash = undefined;
    return stash;
  }

  push(chunk: Buffer): Cut | undefined {
    let position = 0;
    let head: Buffer | undefined;
    if (this.stash !== undefined) {
      const completed = this.completeStash(chunk);
      if (completed === undefined) return undefined; // the whole chunk went into the stash
      head = completed.head;
      const cut = this.decideHead(head);
      if (cut !== undefined) return { ...cut, rest: [head, chunk.subarray(completed.used)] };
      this.bodyLeft -= head.length;
      position = completed.used;
    }
    const passFrom = position;
    while (position < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - position);
        this.bodyLeft -= take;
        position += take;
        continue;
      }
      const available = chunk.length - position;
      const bodyLength = available < LENGTH_BYTES ? 0 : chunk.readInt32BE(position);
      if (available < (available < LENGTH_BYTES ? LENGTH_BYTES : this.headBytes(bodyLength))) {
        this.stash = Buffer.from(chunk.subarray(position));
        break;
      }
      if (!this.decodingFrames && this.lengthInBounds(bodyLength)) {
        this.framesSeen += 1;
        this.bodyLeft = LENGTH_BYTES + bodyLength;
        continue;
      }
      const cut = this.decideHead(chunk.subarray(position, position + this.headBytes(bodyLength)));
      if (cut !== undefined) {
        this.forwardPassed(head, chunk, passFrom, position);
        return { ...cut, rest: [chunk.subarray(position)] };
      }
      // decideHead set bodyLeft to the whole frame: the loop skips it, head included.
    }
    this.forwardPassed(head, chunk, passFrom, this.stash === undefined ? chunk.length : position);
    return undefined;
  }

  /** What passed of a chunk, after the completed head it began with (if any), in one piece. */
  private forwardPassed(head: Buffer | undefined, chunk: Buffer, from: number, to: number): void {
    const passed = from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
    if (head === undefined) {
      if (passed.length > 0) this.forward(passed);
    } else {
      this.forward(passed.length === 0 ? head : Buffer.concat([head, passed]));
    }
  }

  private lengthInBounds(bodyLength: number): boolean {
    return bodyLength >= 0 && bodyLength <= this.maxFrameBytes;
  }

  /**
   * Bytes of a frame of this body length to have before it may pass: decoding, its head (a malformed length: just
   * the prefix); counting, its length and the byte after it.
   */
  private headBytes(bodyLength: number): number {
    if (!this.lengthInBounds(bodyLength)) return LENGTH_BYTES;
    return Math.min(LENGTH_BYTES + bodyLength, this.decodingFrames ? INSPECT_BYTES : LENGTH_BYTES + 1);
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
    if (!this.lengthInBounds(bodyLength)) return { malformed: `frame length ${bodyLength} outside 0..${this.maxFrameBytes}` };
    if (this.decodingFrames && this.decide(head, this.framesSeen) === 'cut') return {};
    this.framesSeen += 1;
    this.bodyLeft = LENGTH_BYTES + bodyLength;
    return undefined;
  }
}
