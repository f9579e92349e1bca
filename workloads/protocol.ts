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
  /** campaign and resign requests, leadership events, and fenced-write / read with `election` (revision 1.3). */
  leader: 'leader',
  /** acquire takes `permits`: the lock is a counting semaphore of that many leases (revision 1.3). */
  semaphore: 'semaphore',
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
  /** Feature `semaphore`: `lock` is a semaphore of this many permits, and the acquire takes one lease of it. */
  permits: z.number().int().positive().optional(),
});

export const ReleaseRequest = z.object({ ...base, type: z.literal('release'), client: z.string(), lock: z.string(), access: LockAccess.optional() });

/**
 * Feature `leader`: join the election `<lockRoot>/<election>` as a candidate. `ok` once the candidacy is in place;
 * the worker then reports, by `leadership` events, when the client starts and stops leading.
 */
export const CampaignRequest = z.object({ ...base, type: z.literal('campaign'), client: z.string(), election: z.string() });

/** Feature `leader`: withdraw from the election, leading or not. After any answer the client neither leads nor campaigns. */
export const ResignRequest = z.object({ ...base, type: z.literal('resign'), client: z.string(), election: z.string() });

/**
 * While holding `lock` (or, feature `leader`, while leading `election`): POST {client, token, value} to `resource`
 * with the client's own fence token. Exactly one of `lock` and `election`.
 */
export const FencedWriteRequest = z.object({
  ...base,
  type: z.literal('fenced-write'),
  client: z.string(),
  lock: z.string().optional(),
  election: z.string().optional(),
  resource: z.string().url(),
  value: z.number().int(),
}).refine((request) => (request.lock === undefined) !== (request.election === undefined), { message: 'fenced-write names exactly one of lock and election' });

/**
 * GET `resource` and answer its value. With `lock` (revision 1.2, additive) the GET carries the fence token of the
 * client's hold on that lock (`?client=<c>&token=<t>`; no token when it holds none), so that the resource fences
 * off older holders from the read on, not only from the next write.
 */
export const ReadRequest = z.object({
  ...base, type: z.literal('read'), client: z.string(), resource: z.string().url(), lock: z.string().optional(),
  /** Feature `leader`: the token is the client's leadership token for this election (none when it does not lead). */
  election: z.string().optional(),
});

export const WorkerRequest = z.discriminatedUnion('type', [InitRequest, AcquireRequest, ReleaseRequest, FencedWriteRequest, ReadRequest, CampaignRequest, ResignRequest]);
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
  campaign: WorkerAnswer.extend({ type: z.literal('ok'), session: z.string() }),
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
  /** release, resign or fenced-write, fail: the client's node went away with its session before this request. */
  lost: 'lost',
  /** release or fenced-write, fail: the client does not hold this lock. */
  notHeld: 'not held',
  /** acquire, fail: the client already holds this lock (the protocol has no re-entrant locks). */
  alreadyHeld: 'already held',
  /** any, fail: the client already has a request in progress. */
  busy: 'busy',
  /** fenced-write, fail: the resource rejected the token. */
  rejected: 'rejected',
  /** campaign, fail: the client is a candidate in this election already. */
  alreadyCampaigning: 'already campaigning',
  /** resign, fail: the client is no candidate in this election; fenced-write with election, fail: it does not lead. */
  notCampaigning: 'not campaigning',
  /** any, info: the worker process died before answering (set by the runner, never sent by a worker). */
  workerCrashed: 'worker crashed',
  /** any, info: the runner stopped the worker before it answered (set by the runner). */
  workerStopped: 'worker stopped',
} as const;

/** A session of the client changed state. */
export const SessionEvent = z.object({
  type: z.literal('event'),
  client: z.string(),
  event: z.enum(['connected', 'disconnected', 'expired']),
  session: z.string().optional(),
});

/**
 * Feature `leader`: the library says the client now leads `election` (`leading: true`, with the token, the czxid of
 * its candidate node, that node and its session) or no longer leads it (`leading: false`), without a resign. Only for
 * a candidacy whose campaign was answered `ok` and that was not resigned.
 */
export const LeadershipEvent = z.object({
  type: z.literal('event'),
  client: z.string(),
  event: z.literal('leadership'),
  election: z.string(),
  leading: z.boolean(),
  token: z.number().nullable().optional(),
  node: z.string().optional(),
  session: z.string().optional(),
}).refine((event) => !event.leading || (event.token !== undefined && event.node !== undefined && event.session !== undefined),
  { message: 'a leadership event with leading: true carries token, node and session' });

export const WorkerEvent = z.union([SessionEvent, LeadershipEvent]);
export type WorkerEvent = z.infer<typeof WorkerEvent>;
export type LeadershipEvent = z.infer<typeof LeadershipEvent>;

export const WorkerMessage = z.union([WorkerAnswer, WorkerEvent]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;
