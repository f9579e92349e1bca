/**
 * The worker protocol (docs/worker-protocol.md): newline-delimited JSON on stdin/stdout, logs on stderr.
 * Every request carries an `id` and gets exactly one answer with `in_reply_to` = that id.
 * Answers are definite (`ok`: it happened; `fail`: it definitely did not) or indefinite (`info`: unknown).
 * A worker never gives a definite answer under indefinite conditions (timeout, connection loss).
 */
import { z } from 'zod';
import type { LockAccess as HistoryLockAccess } from '../ground/history.ts';

export const WORKER_PROTOCOL_VERSION = 1;

/**
 * Which side of a read/write lock a request is about (revision 1.1, additive). Absent: the exclusive lock. A client
 * may hold the read and the write side of one lock at once (downgrading: write, then read, then release write).
 */
export const LockAccess = z.enum(['read', 'write'] as const satisfies readonly HistoryLockAccess[]);
export type LockAccess = z.infer<typeof LockAccess>;

/**
 * What a worker announces in `init_ok` beyond the exclusive lock. The runner sends `access` only to a worker that
 * announced `read-write`, and downgrades only with one that announced `downgrade`.
 */
export const WORKER_FEATURES = {
  /** acquire and release take `access`: the read and the write side of a shared lock. */
  readWrite: 'read-write',
  /** A client holding the write side may acquire the read side, then release the write side (Curator's downgrade). */
  downgrade: 'downgrade',
} as const;

/** A client holds at most one hold per lock and side; this names it (the exclusive lock: the lock's name). */
export const holdKey = (lock: string, access: LockAccess | undefined): string => (access === undefined ? lock : `${lock}\u0000${access}`);

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
  access: LockAccess.optional(),
});

export const ReleaseRequest = z.object({ ...base, type: z.literal('release'), client: z.string(), lock: z.string(), access: LockAccess.optional() });

/** While holding `lock`: POST {client, token, value} to `resource` with the client's own fence token. */
export const FencedWriteRequest = z.object({
  ...base,
  type: z.literal('fenced-write'),
  client: z.string(),
  lock: z.string(),
  resource: z.string().url(),
  value: z.number().int(),
});

/**
 * GET `resource` and answer its value. With `lock` (revision 1.2, additive) the GET carries the fence token of the
 * client's hold on that lock (`?client=<c>&token=<t>`; no token when it holds none), so that the resource fences
 * off older holders from the read on, not only from the next write.
 */
export const ReadRequest = z.object({ ...base, type: z.literal('read'), client: z.string(), resource: z.string().url(), lock: z.string().optional() });

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
  /** init_ok: the WORKER_FEATURES the worker supports (absent: the exclusive lock only). */
  features: z.array(z.string()).optional(),
});
export type WorkerAnswer = z.infer<typeof WorkerAnswer>;

/** What an `ok` must carry, by request type: an acquire ok names its token, node and session; a read ok its value. */
export const OK_ANSWER_BY_REQUEST = {
  acquire: WorkerAnswer.extend({ type: z.literal('ok'), token: z.number().nullable(), node: z.string(), session: z.string() }),
  read: WorkerAnswer.extend({ type: z.literal('ok'), value: z.number() }),
} as const;

/**
 * `error` strings with a fixed meaning (docs/worker-protocol.md, "Errors"). Any other error text is free-form and
 * only for people; the definite/indefinite meaning is always carried by the answer's type, never by its error.
 */
export const ANSWER_ERRORS = {
  /** acquire try, fail: another client holds the lock; our contender node is gone. */
  held: 'held',
  /** acquire blocking, fail: timeoutMs passed; our contender node is gone. */
  timeout: 'timeout',
  /** acquire, fail: the client's session ended during the acquire, taking any contender node with it. */
  sessionExpired: 'session expired',
  /** release or fenced-write, fail: the client's lock node went away with its session before this request. */
  lost: 'lost',
  /** release or fenced-write, fail: the client does not hold this lock. */
  notHeld: 'not held',
  /** acquire, fail: the client already holds this lock (the protocol has no re-entrant locks). */
  alreadyHeld: 'already held',
  /** any, fail: the client already has a request in progress. */
  busy: 'busy',
  /** fenced-write, fail: the resource rejected the token. */
  rejected: 'rejected',
  /** any, info: the worker process died before answering (set by the runner, never sent by a worker). */
  workerCrashed: 'worker crashed',
  /** any, info: the runner stopped the worker before it answered (set by the runner). */
  workerStopped: 'worker stopped',
} as const;

export const WorkerEvent = z.object({
  type: z.literal('event'),
  client: z.string(),
  event: z.enum(['connected', 'disconnected', 'expired']),
  session: z.string().optional(),
});
export type WorkerEvent = z.infer<typeof WorkerEvent>;

export const WorkerMessage = z.union([WorkerAnswer, WorkerEvent]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;
