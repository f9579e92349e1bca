/**
 * The history: plain data, one JSON object per line in results/<run>/history.jsonl (docs/history-format.md).
 *
 * Time is the runner's monotonic clock (CLOCK_MONOTONIC, shared by every process on the machine), in
 * nanoseconds since the run started, stamped when the runner sends a request and when it receives the answer.
 * A worker frozen with SIGSTOP answers late, and that lateness is what makes a stale holder visible, so no
 * worker's own clock ever orders anything.
 */
export const HISTORY_VERSION = 1;

export type OpFunction = 'acquire' | 'release' | 'read' | 'fenced-write' | 'campaign' | 'resign';
export type Outcome = 'ok' | 'fail' | 'info';
export type AcquireMode = 'try' | 'blocking';
/** The side of a read/write lock (workload rwlock); an op without it is about the exclusive lock. */
export type LockAccess = 'read' | 'write';

/**
 * One client operation: an `invoke` line, then exactly one completion line (`ok`, `fail` or `info`) with the
 * same `id`, unless the run ended first (then the operation stays open, as an `info` would).
 * - `ok`: it happened. `fail`: it definitely did not happen. `info`: unknown; it may or may not have happened.
 * - An acquire answered `info` does not make its client believe it holds the lock.
 */
export interface OpLine {
  kind: 'op';
  id: number;
  type: 'invoke' | Outcome;
  time: number;
  f: OpFunction;
  /** The client (one ZooKeeper session at a time) that performed it, e.g. "c3". */
  client: string;
  /** The client host: the worker process that hosts the client, e.g. "w1". */
  worker: string;
  lock?: string;
  /** campaign and resign, and a leader's fenced-write and read: the election (workload leader). */
  election?: string;
  /** acquire of a semaphore (workload semaphore): how many clients may hold `lock` at once. */
  permits?: number;
  mode?: AcquireMode;
  /** acquire and release of a read/write lock: which side. Absent: the exclusive lock. */
  access?: LockAccess;
  timeoutMs?: number;
  /** fenced-write: the value written; read: the value read (on ok). */
  value?: number;
  /** The fence token: czxid of the client's lock node. null when the recipe gives none. */
  token?: number | null;
  /** Full path of the client's lock node (acquire ok). */
  node?: string;
  /** ZooKeeper session id as "0x" + lowercase hex, no padding. */
  session?: string;
  error?: string;
}

/** A fault of the nemesis: `start` when it takes effect, `stop` when it is healed. Same `id` for both. */
export interface NemesisLine {
  kind: 'nemesis';
  id: number;
  type: 'start' | 'stop';
  time: number;
  /** The nemesis that did it: kill, pause, partition, partition-clients, pause-holder, kill-mid-create, lost-reply, lost-delete. */
  f: string;
  /** One line a person can read: "SIGKILL zk2 (leader)". */
  description: string;
  /** What it hit, resolved: nodes, sides, leader, workers, clients, grudge, the frame. */
  value: Record<string, unknown>;
  /** The scheduled fault it carries out (revision 1.2; absent in older runs): the run's schedule.json, entry `index`. */
  plan?: NemesisPlan;
}

/** A fault as the schedule planned it: when, for how long, aimed at what (nemesis/types.ts FaultPlan). */
export interface NemesisPlan {
  index: number;
  /** Planned start, ms after the schedule started. */
  atMs: number;
  durationMs: number;
  target: Record<string, unknown>;
  /** start lines: when the nemesis began to apply it, ms after the schedule started (the line's time: when it took effect). */
  offsetMs?: number;
}

/** What the fault proxy did to a connection or a frame (docs/proxy-api.md lists the events). */
export interface ProxyLine {
  kind: 'proxy';
  time: number;
  event: string;
  clientHost?: string;
  server?: number;
  session?: string;
  xid?: number;
  op?: string;
  path?: string;
  /** zxid of a dropped reply, "0x" + hex. */
  zxid?: string;
  err?: number;
  detail?: string;
  /** The armed fault this event belongs to (armed, matched, dropped, held, released). */
  faultId?: number;
}

/**
 * A worker's own report: session state changes of its clients, a client starting or stopping to lead an election
 * (`leadership`), or the worker itself crashing or exiting.
 */
export interface WorkerLine {
  kind: 'worker';
  time: number;
  worker: string;
  client?: string;
  event: 'connected' | 'disconnected' | 'expired' | 'leadership' | 'crashed' | 'exited' | 'stderr';
  session?: string;
  detail?: string;
  /** leadership: the election, whether the client now leads it, and (leading) its token and candidate node. */
  election?: string;
  leading?: boolean;
  token?: number | null;
  node?: string;
}

/** A write as it arrived at the fenced resource, in arrival order (what the resource actually saw). */
export interface ResourceLine {
  kind: 'resource';
  time: number;
  resource: string;
  client: string;
  token: number | null;
  value: number;
  accepted: boolean;
}

export interface LockChild {
  name: string;
  path: string;
  czxid: number;
  /** Session owning the ephemeral node, "0x" + hex; "0x0" for a persistent node. */
  ephemeralOwner: string;
}

/** The state of ZooKeeper and of the resources at one moment: every lock's children and every live session. */
export interface SnapshotLine {
  kind: 'snapshot';
  time: number;
  final: boolean;
  locks: Record<string, LockChild[]>;
  /** Workload leader: every election's candidate nodes, as `locks` lists a lock's (absent in other workloads). */
  elections?: Record<string, LockChild[]>;
  sessions: string[];
  resources: Record<string, { value: number; highestToken: number | null }>;
}

export interface HeaderLine {
  kind: 'header';
  version: typeof HISTORY_VERSION;
  runId: string;
  /** Wall-clock start, ISO 8601; only for people. */
  startedAt: string;
  config: Record<string, unknown>;
}

export interface EndLine {
  kind: 'end';
  time: number;
  reason: 'completed' | 'interrupted' | 'crashed';
  detail?: string;
}

export type HistoryLine = HeaderLine | OpLine | NemesisLine | ProxyLine | WorkerLine | ResourceLine | SnapshotLine | EndLine;

/** A line of history.jsonl that could not be used: not JSON, or not a history line. */
export interface UnreadableLine {
  /** 1-based line number in history.jsonl. */
  line: number;
  reason: string;
}

/** Session ids are compared as strings, so every producer normalises them the same way. */
export function formatSessionId(id: bigint | number | string): string {
  const value = typeof id === 'string' ? BigInt(id.startsWith('0x') ? id : `0x${id}`) : BigInt(id);
  return `0x${value.toString(16)}`;
}
