/**
 * The control API of the fault proxy (docs/proxy-api.md): request bodies as zod schemas, checked by the proxy,
 * and the shapes both sides share. The controller (client.ts) and the proxy (control.ts) import only this.
 */
import { z } from 'zod';
import type { ProxyLine } from '../../ground/history.ts';

const clientHostName = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a client host name: 1-64 of A-Z a-z 0-9 . _ -');
const serverId = z.number().int().positive();
const sessionId = z.string().regex(/^(0x)?[0-9a-fA-F]{1,16}$/, 'a session id: hex, optionally 0x-prefixed');

export const addClientHostSchema = z.strictObject({ name: clientHostName });

/** Which (client host, server) links an action applies to; an absent list means all of them. */
export const linkSelectorSchema = z.strictObject({
  clientHosts: z.array(clientHostName).optional(),
  servers: z.array(serverId).optional(),
});
export type LinkSelector = z.infer<typeof linkSelectorSchema>;

/** to-server: client → server bytes stop; to-client: server → client bytes stop; both: the link is silent. */
export const directionSchema = z.enum(['both', 'to-server', 'to-client']);
export type Direction = z.infer<typeof directionSchema>;

export const partitionSchema = linkSelectorSchema.extend({ direction: directionSchema.default('both') });
export type PartitionRequest = z.input<typeof partitionSchema>;

const delaySchema = z.strictObject({
  delayMs: z.number().min(0).max(60_000),
  jitterMs: z.number().min(0).max(60_000).default(0),
});
export type Delay = z.input<typeof delaySchema>;

/** Sets the delay of each direction of the chosen links; a direction left out gets no delay. */
export const latencySchema = linkSelectorSchema.extend({
  toServer: delaySchema.default({ delayMs: 0, jitterMs: 0 }),
  toClient: delaySchema.default({ delayMs: 0, jitterMs: 0 }),
});
export type LatencyRequest = z.input<typeof latencySchema>;

/**
 * Which request a fault hits: the first one, after arming, that matches every field given. Requests with a
 * negative xid (pings, auth, setWatches) never match: faults aim at client operations.
 */
export const faultFilterSchema = z.strictObject({
  /** Op names as in ZooDefs.OpCode: create, create2, delete, getChildren2, ... */
  ops: z.array(z.string().min(1)).min(1).optional(),
  pathPrefix: z.string().startsWith('/').optional(),
  clientHost: clientHostName.optional(),
  server: serverId.optional(),
  session: sessionId.optional(),
});
export type FaultFilter = z.infer<typeof faultFilterSchema>;

/**
 * lost-reply: forward the request, drop its reply, reset both sides.
 * lost-request: swallow the request, reset both sides.
 * hold-reply: forward the request, hold its reply (and everything after it) until the connection dies or the
 * fault is disarmed (then the held bytes go out intact).
 */
export const faultKindSchema = z.enum(['lost-reply', 'lost-request', 'hold-reply']);
export type FaultKind = z.infer<typeof faultKindSchema>;

export const armSchema = z.strictObject({ kind: faultKindSchema, filter: faultFilterSchema.default({}) });

export interface ClientHostAddresses {
  /** "127.0.0.1:port,..." in server id order: give it to the host's ZooKeeper clients. */
  connectString: string;
  /** server id → the loopback port that leads to it for this host. */
  ports: Record<number, number>;
}

export interface SessionLocation {
  session: string;
  server: number;
  clientHost: string;
}

export interface ConnectionInfo {
  id: number;
  clientHost: string;
  server: number;
  session?: string;
  /** open: bytes flow (or are paused by a partition); waiting: accepted during a partition, not yet connected. */
  state: 'open' | 'waiting';
}

/** What DELETE /faults/:id did: disarmed before matching, released a held reply, or found the fault finished. */
export type DisarmOutcome = 'disarmed' | 'released' | 'finished';

export const PROXY_EVENTS = [
  'connection-opened',
  'connection-closed',
  'session-established',
  'session-expired',
  'malformed-frame',
  'partition-start',
  'partition-stop',
  'latency',
  'reset',
  'armed',
  'disarmed',
  'matched',
  'request-dropped',
  'reply-dropped',
  'reply-held',
  'reply-released',
  'reply-discarded',
  'fault-aborted',
] as const;
export type ProxyEventName = (typeof PROXY_EVENTS)[number];

/** One event of GET /events: a history `proxy` line (src/history.ts) with the proxy's clock instead of run time. */
export interface ProxyEvent extends Omit<ProxyLine, 'kind' | 'time' | 'event'> {
  /** process.hrtime.bigint() of the proxy (CLOCK_MONOTONIC, shared by every process here), decimal. */
  monotonicNs: string;
  event: ProxyEventName;
}

/** The first line the proxy prints on stdout once it listens. */
export interface ReadyLine {
  controlPort: number;
}
