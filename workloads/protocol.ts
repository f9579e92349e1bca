/**
 * The worker protocol (docs/worker-protocol.md): newline-delimited JSON on stdin/stdout, logs on stderr.
 * Every request carries an `id` and gets exactly one answer with `in_reply_to` = that id.
 * Answers are definite (`ok`: it happened; `fail`: it definitely did not) or indefinite (`info`: unknown).
 * A worker never gives a definite answer under indefinite conditions (timeout, connection loss).
 */
import { z } from 'zod';

export const WORKER_PROTOCOL_VERSION = 1;

const base = { id: z.number().int().nonnegative() };

export const InitRequest = z.object({
  ...base,
  type: z.literal('init'),
  protocolVersion: z.literal(WORKER_PROTOCOL_VERSION),
  /** ZooKeeper connect string this worker must use (through the fault proxy). */
  connect: z.string(),
  sessionTimeoutMs: z.number().int().positive(),
  /** Client ids this worker hosts: one ZooKeeper session each. */
  clients: z.array(z.string()).min(1),
  /** Parent of every lock: lock L lives at <lockRoot>/L. */
  lockRoot: z.string().startsWith('/'),
  options: z.record(z.string(), z.unknown()).default({}),
});

export const AcquireRequest = z.object({
  ...base,
  type: z.literal('acquire'),
  client: z.string(),
  lock: z.string(),
  mode: z.enum(['try', 'blocking']),
  /** blocking only: give up after this long (answer fail when the recipe says it did not get the lock). */
  timeoutMs: z.number().int().positive().optional(),
});

export const ReleaseRequest = z.object({ ...base, type: z.literal('release'), client: z.string(), lock: z.string() });

/** While holding `lock`: POST {client, token, value} to `resource` with the client's own fence token. */
export const FencedWriteRequest = z.object({
  ...base,
  type: z.literal('fenced-write'),
  client: z.string(),
  lock: z.string(),
  resource: z.string().url(),
  value: z.number().int(),
});

/** GET `resource` and answer its value. */
export const ReadRequest = z.object({ ...base, type: z.literal('read'), client: z.string(), resource: z.string().url() });

export const WorkerRequest = z.discriminatedUnion('type', [InitRequest, AcquireRequest, ReleaseRequest, FencedWriteRequest, ReadRequest]);
export type WorkerRequest = z.infer<typeof WorkerRequest>;
export type InitRequest = z.infer<typeof InitRequest>;

export const WorkerAnswer = z.object({
  in_reply_to: z.number().int().nullable(),
  type: z.enum(['init_ok', 'ok', 'fail', 'info', 'error']),
  /** acquire ok: czxid of the lock node, or null if the recipe gives no token. */
  token: z.number().nullable().optional(),
  /** acquire ok: full path of the client's lock node. */
  node: z.string().optional(),
  /** acquire ok (and any answer that knows it): "0x" + lowercase hex. */
  session: z.string().optional(),
  /** read ok: the value. */
  value: z.number().optional(),
  error: z.string().optional(),
});
export type WorkerAnswer = z.infer<typeof WorkerAnswer>;

export const WorkerEvent = z.object({
  type: z.literal('event'),
  client: z.string(),
  event: z.enum(['connected', 'disconnected', 'expired']),
  session: z.string().optional(),
});
export type WorkerEvent = z.infer<typeof WorkerEvent>;

export const WorkerMessage = z.union([WorkerAnswer, WorkerEvent]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;
