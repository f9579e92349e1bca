/**
 * The ZooKeeper-aware faults behind the zk_* toxics (toxics/zk.ts): which request each one takes, and its life,
 * reported as events. A fault is every toxic that carries its `fault_id`, on any proxy; it fires once.
 *
 * A fault's life: `armed` (its first toxic added), then `disarmed` (its toxics removed before it applied), or
 * `matched` followed by `request-dropped`, `reply-dropped`, `reply-held` (then `reply-released` when its toxic is
 * removed, or `reply-discarded` when the connection dies), or `fault-aborted` (the connection closed before the
 * reply came). Every fault ends with exactly one of disarmed, request-dropped, reply-dropped, reply-released,
 * reply-discarded, fault-aborted.
 */
import { formatSessionId } from '../../ground/history.ts';
import { ERRORS, ApiError, type ServerEvent } from './api.ts';
import { formatHex, opName, requestPath, requestType, type FrameHead, type ReplyHeader } from './codec.ts';
import type { FaultAction, FrameToxic, ZkFaultAttributes } from './toxics/zk.ts';
import type { StreamName } from './toxics/toxic.ts';

export type EventFields = Omit<ServerEvent, 'monotonicNs'>;

/** A zk_* toxic on one proxy. */
export interface FrameToxicEntry {
  readonly name: string;
  readonly type: FrameToxic;
  readonly stream: StreamName;
  toxicity: number;
  attributes: ZkFaultAttributes;
}

/** What a fault needs of the connection it matched on. */
export interface FaultConnection {
  readonly awaiting: Fault[];
  heldFault: Fault | undefined;
  describe(): Omit<EventFields, 'event'>;
  releaseHeld(): void;
}

export interface Fault {
  readonly id: number;
  readonly action: FaultAction;
  state: 'armed' | 'matched' | 'held' | 'finished';
  readonly toxics: Set<FrameToxicEntry>;
  matchedBy?: FrameToxicEntry;
  connection?: FaultConnection;
  xid?: number;
  op?: string;
  path?: string;
  /** The reply the fault dropped or holds. */
  reply?: ReplyHeader;
}

/** What becomes of a stream from a frame on: the connection is reset (a fault), or the stream is held. */
export type FaultCut = { kind: 'reset'; reason: string } | { kind: 'hold'; fault: Fault };

export class ZkFaults {
  private readonly faults = new Map<number, Fault>();
  private nextId = 1;

  constructor(private readonly emit: (event: EventFields) => void) {}

  /** A zk_* toxic joins its fault (a new one when fault_id is 0: the id is written into its attributes). */
  attach(entry: FrameToxicEntry): void {
    let id = entry.attributes.fault_id;
    if (id === 0) id = this.nextId;
    const existing = this.faults.get(id);
    if (existing !== undefined && existing.action !== entry.type.action) {
      throw ApiError.joined(ERRORS.badRequestBody, `fault_id ${id} belongs to ${existing.action} toxics, not ${entry.type.type}`);
    }
    this.nextId = Math.max(this.nextId, id + 1);
    entry.attributes.fault_id = id;
    if (existing !== undefined) {
      existing.toxics.add(entry);
      return;
    }
    this.faults.set(id, { id, action: entry.type.action, state: 'armed', toxics: new Set([entry]) });
    const { ops, path_prefix: pathPrefix, session } = entry.attributes;
    this.emit({ event: 'armed', faultId: id, detail: `${entry.type.type} ${JSON.stringify({ ops, path_prefix: pathPrefix, session })}` });
  }

  /** A zk_* toxic is removed: a fault left without toxics is disarmed; a held reply it took is released. */
  detach(entry: FrameToxicEntry): void {
    const fault = this.faults.get(entry.attributes.fault_id);
    if (fault === undefined) return;
    fault.toxics.delete(entry);
    if (fault.state === 'held' && fault.matchedBy === entry) {
      fault.state = 'finished';
      this.emit({ event: 'reply-released', ...this.fields(fault) });
      fault.connection!.releaseHeld();
    } else if (fault.state === 'matched' && fault.matchedBy === entry) {
      const awaiting = fault.connection!.awaiting;
      awaiting.splice(awaiting.indexOf(fault), 1);
      fault.state = 'finished';
      this.emit({ event: 'disarmed', ...this.fields(fault) });
    } else if (fault.state === 'armed' && fault.toxics.size === 0) {
      fault.state = 'finished';
      this.emit({ event: 'disarmed', ...this.fields(fault) });
    }
    if (fault.toxics.size === 0 && fault.state === 'finished') this.faults.delete(fault.id);
  }

  /** A client request: the first armed fault among `entries` that it matches takes it. */
  matchRequest(connection: FaultConnection, entries: readonly FrameToxicEntry[], session: string | undefined, head: FrameHead, xid: number): FaultCut | undefined {
    const op = opName(requestType(head));
    let path: string | undefined;
    let pathRead = false;
    const readPath = (): string | undefined => {
      if (!pathRead) path = requestPath(head);
      pathRead = true;
      return path;
    };
    const entry = entries.find(({ attributes }) =>
      this.faults.get(attributes.fault_id)?.state === 'armed' &&
      (attributes.ops.length === 0 || attributes.ops.includes(op)) &&
      (attributes.session === '' || formatSessionId(attributes.session.toLowerCase()) === session) &&
      (attributes.path_prefix === '' || (readPath()?.startsWith(attributes.path_prefix) ?? false)),
    );
    if (entry === undefined) return undefined;
    const fault = this.faults.get(entry.attributes.fault_id)!;
    Object.assign(fault, { state: 'matched', matchedBy: entry, connection, xid, op, path: readPath() });
    this.emit({ event: 'matched', ...this.fields(fault) });
    if (fault.action === 'lost-request') {
      fault.state = 'finished';
      this.emit({ event: 'request-dropped', ...this.fields(fault) });
      return { kind: 'reset', reason: `request dropped by fault ${fault.id}` };
    }
    connection.awaiting.push(fault);
    return undefined;
  }

  /** The reply a zk_lost_reply or zk_hold_reply fault waited for has come: drop it or hold it. */
  onAwaitedReply(fault: Fault, reply: ReplyHeader): FaultCut {
    fault.reply = reply;
    if (fault.action === 'hold-reply') {
      fault.state = 'held';
      fault.connection!.heldFault = fault;
      this.emit({ event: 'reply-held', ...this.fields(fault) });
      return { kind: 'hold', fault };
    }
    fault.state = 'finished';
    this.emit({ event: 'reply-dropped', ...this.fields(fault) });
    return { kind: 'reset', reason: `reply dropped by fault ${fault.id}` };
  }

  /** Replies on this connection can no longer be told apart: faults waiting for one are aborted. */
  abortAwaiting(connection: FaultConnection, reason: string): void {
    for (const fault of connection.awaiting.splice(0)) this.finish(fault, 'fault-aborted', reason);
  }

  /** The connection is gone: faults waiting for a reply on it are aborted, a reply it held is discarded. */
  onConnectionClosed(connection: FaultConnection, reason: string): void {
    this.abortAwaiting(connection, `connection closed before the reply: ${reason}`);
    if (connection.heldFault !== undefined) {
      const fault = connection.heldFault;
      connection.heldFault = undefined;
      if (fault.state === 'held') this.finish(fault, 'reply-discarded', `held reply died with the connection: ${reason}`);
    }
  }

  private finish(fault: Fault, event: 'fault-aborted' | 'reply-discarded', detail: string): void {
    fault.state = 'finished';
    this.emit({ event, ...this.fields(fault), detail });
    if (fault.toxics.size === 0) this.faults.delete(fault.id);
  }

  private fields(fault: Fault): Omit<EventFields, 'event'> {
    return {
      faultId: fault.id,
      ...(fault.connection?.describe() ?? {}),
      ...(fault.xid === undefined ? {} : { xid: fault.xid }),
      ...(fault.op === undefined ? {} : { op: fault.op }),
      ...(fault.path === undefined ? {} : { path: fault.path }),
      ...(fault.reply === undefined ? {} : { zxid: formatHex(fault.reply.zxid), err: fault.reply.err }),
    };
  }
}
