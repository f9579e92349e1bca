/**
 * This project's extension toxics: ZooKeeper-aware faults on one request (docs/proxy-api.md, "Extensions"). They
 * read frames where the proxy reads them, before any chain, and act on the whole connection:
 *
 * - zk_lost_request: the matching request is swallowed (the server never sees it); both sides are reset.
 * - zk_lost_reply: the request is forwarded and applied; its reply is dropped and both sides are reset.
 * - zk_hold_reply: the request is forwarded; its reply, and everything after it on that connection, is held until
 *   the toxic is removed (then it flows on, intact) or the connection dies.
 *
 * Each fires once. Toxics that share a `fault_id` (on any proxies) are one fault: the first matching request on any
 * of them takes it. A toxic added without one gets a fresh id, which its answer shows. A Toxiproxy server answers
 * 400 "invalid toxic type" to all three.
 */
import { z } from 'zod';
import { int64 } from './toxic.ts';

export type FaultAction = 'lost-request' | 'lost-reply' | 'hold-reply';

export interface ZkFaultAttributes {
  /** Op names as in ZooDefs.OpCode (create, create2, delete, ...); empty: any op. */
  ops: string[];
  /** Only requests whose path (a multi's: its first op's) starts with this; empty: any. */
  path_prefix: string;
  /** Only this session ("0x" + hex); empty: any. */
  session: string;
  /** The fault this toxic is part of; 0 on creation: a new one. */
  fault_id: number;
}

export interface FrameToxic {
  readonly kind: 'frame';
  readonly type: string;
  readonly action: FaultAction;
  readonly attributes: z.ZodType<Partial<ZkFaultAttributes>>;
  readonly defaults: ZkFaultAttributes;
}

const attributes = z.object({
  ops: z.array(z.string().min(1).max(64)).max(64),
  path_prefix: z.string().max(4096),
  session: z.string().regex(/^((0x)?[0-9a-fA-F]{1,16})?$/, 'a session id: hex, optionally 0x-prefixed'),
  fault_id: int64().min(0),
}).partial();

function zkFault(type: string, action: FaultAction): FrameToxic {
  return { kind: 'frame', type, action, attributes, defaults: { ops: [], path_prefix: '', session: '', fault_id: 0 } };
}

export const zkLostRequest = zkFault('zk_lost_request', 'lost-request');
export const zkLostReply = zkFault('zk_lost_reply', 'lost-reply');
export const zkHoldReply = zkFault('zk_hold_reply', 'hold-reply');
