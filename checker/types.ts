/**
 * results.json: the checker's verdict on one run (docs/results-format.md). Plain data, versioned.
 *
 * Every time is in nanoseconds since the run started, on the runner's clock, exactly as in the history
 * (ground/history.ts), so a report can put anomalies, hold windows and faults on one timeline.
 */
import type { AcquireMode, LockAccess, LockChild, NemesisLine, OpFunction, Outcome, ProxyLine, UnreadableLine } from '../ground/history.ts';
import type { CheckerResults } from './registry.ts';
export type { UnreadableLine } from '../ground/history.ts';

export const RESULTS_VERSION = 1;

/** Jepsen's three answers: false beats "unknown" beats true when parts are combined. */
export type Validity = true | false | 'unknown';

/** Nanoseconds since the run started (runner's monotonic clock). */
export type Nanos = number;

export interface Interval {
  start: Nanos;
  end: Nanos;
}

/** Nemesis and proxy lines of the history, verbatim, that happened around an anomaly. */
export type ContextEvent = NemesisLine | ProxyLine;

/** An operation as the checker saw it: its invoke and its completion (or none, if the history ended first). */
export interface OpSummary {
  id: number;
  f: OpFunction;
  client: string;
  worker: string;
  lock: string | null;
  mode: AcquireMode | null;
  /** acquire and release of a read/write lock: the side; null for the exclusive lock and other operations. */
  access: LockAccess | null;
  invokeTime: Nanos;
  completeTime: Nanos | null;
  /** "pending": no completion line before the history ended. */
  outcome: Outcome | 'pending';
  session: string | null;
  error: string | null;
}

/** What a client believed: it held `lock` from its acquire's ok until it invoked release (or to the end). */
export interface HoldWindow {
  lock: string;
  client: string;
  worker: string;
  session: string | null;
  node: string | null;
  token: number | null;
  /** The side of a read/write lock the window holds; null for the exclusive lock. */
  access: LockAccess | null;
  /** Time of the acquire's ok. */
  start: Nanos;
  /** Time the release was invoked; null when the client never released (the window stays open to the end). */
  end: Nanos | null;
  acquireOp: number;
  releaseOp: number | null;
}

/** The session that owns an ephemeral node, and the client that had that session, if the history names one. */
export interface NodeOwner {
  session: string;
  client: string | null;
  worker: string | null;
}

/** A write as the fenced resource saw it (a `resource` line), linked to the fenced-write operation that sent it. */
export interface ResourceWrite {
  time: Nanos;
  resource: string;
  client: string;
  value: number;
  accepted: boolean;
  token: number | null;
  /**
   * When `token` is null (the recipe gives none): the start of the writer's hold window (its acquire ok time),
   * which stands in for a token; null if the writer held no window when it wrote.
   */
  implicitToken: Nanos | null;
  /** The fenced-write operation that sent it; null if none matches (client and value). */
  op: number | null;
}

/** What every anomaly has, whatever check found it. */
export interface AnomalyBase {
  /** Its kind, e.g. "double-holder": unique across the checks. */
  type: string;
  /** One or two sentences a person can read without the rest of the file. */
  explanation: string;
  /** Where the anomaly sits on the timeline. */
  span: Interval;
  /** Ids of every operation involved. */
  ops: number[];
  /** Nemesis and proxy lines around `span` (and faults in force during it), in time order. */
  events: ContextEvent[];
}

export interface DoubleHolderAnomaly extends AnomalyBase {
  type: 'double-holder';
  lock: string;
  /** The earlier window first. */
  windows: [HoldWindow, HoldWindow];
  /** Both clients believed they held the lock throughout this interval (end = end of history if both stayed open). */
  overlap: Interval;
}

export interface LeakedNodeAnomaly extends AnomalyBase {
  type: 'leaked-node';
  lock: string;
  node: LockChild;
  owner: NodeOwner;
  /** The GUID in the node's name (kazoo's uuid prefix, Curator's protected-mode `_c_<uuid>-`), if any. */
  guid: string | null;
  /**
   * The operation that created the node, and how it was found:
   * `node-path`: the owner's latest acquire of the lock answered ok with exactly this node;
   * `dropped-delete`: the owner's acquire in progress when the proxy acted on a delete of exactly this path;
   * `latest-acquire`: the owner client's latest acquire of this lock (a best guess).
   */
  createdBy: (OpSummary & { attribution: 'node-path' | 'dropped-delete' | 'latest-acquire' }) | null;
  /** The proxy line that dropped a delete of exactly this path, if any. */
  droppedDelete: ProxyLine | null;
  /** Snapshots that showed the node unclaimed: first and last time, and whether the final snapshot was one. */
  seen: { first: Nanos; last: Nanos; final: boolean };
}

export interface StuckAcquireAnomaly extends AnomalyBase {
  type: 'stuck-acquire';
  lock: string;
  /**
   * `waited-while-free`: a blocking acquire stayed pending (or gave up) while no client held the lock for longer
   * than the bound. `reader-waited-without-writer`: a blocking read acquire did the same while no write window
   * was open on the lock and no write acquire pending (readers share the lock, so nothing held it up).
   * `lowest-node-unclaimed`: in the final snapshot the lowest node of the lock belongs to a client that neither
   * holds nor waits for it, so every future acquire queues behind it.
   */
  cause: 'waited-while-free' | 'reader-waited-without-writer' | 'lowest-node-unclaimed';
  /** The waiting acquire (waited-while-free), or the one pending at the end if any (lowest-node-unclaimed). */
  acquire: OpSummary | null;
  /** The stretch, while the acquire waited, with no hold window open on the lock (readers: no writer holding or waiting). */
  freeSpan: Interval | null;
  /** The part of `freeSpan` with no server fault in force (kill, pause, partition of servers): what exceeded the bound. */
  unfaultedNs: Nanos | null;
  boundNs: Nanos | null;
  /** The lowest child of the lock in the latest snapshot, and who owns it (null if no snapshot showed one). */
  blockingNode: LockChild | null;
  blockingOwner: NodeOwner | null;
}

export interface StaleWriteAnomaly extends AnomalyBase {
  type: 'stale-write';
  resource: string;
  /** The write accepted with an older token... */
  write: ResourceWrite;
  /** ...after this write with a newer token had been accepted. */
  newer: ResourceWrite;
  /** `fence`: real tokens compared; `implicit`: tokens were null, hold-window starts compared. */
  tokenKind: 'fence' | 'implicit';
}

export interface LostUpdateAnomaly extends AnomalyBase {
  type: 'lost-update';
  resource: string;
  /** The acknowledged fenced-write (an increment) whose effect is gone. */
  op: OpSummary;
  value: number;
  /** The write as the resource saw it; null if the resource never recorded it. */
  write: ResourceWrite | null;
  /**
   * `overwritten`: a later accepted write set the counter to this value or lower;
   * `missing-from-final`: the final counter is below this value, or the resource never accepted the write.
   */
  cause: 'overwritten' | 'missing-from-final';
  overwrittenBy: ResourceWrite | null;
  finalValue: number | null;
}

/**
 * What a client believed about an election (workload leader): it led `election` from its `leadership` event with
 * leading true (the runner's time of receipt) until it invoked resign, a `leadership` event said it no longer led,
 * or its worker died.
 */
export interface LeaderWindow {
  election: string;
  client: string;
  worker: string;
  session: string | null;
  node: string | null;
  token: number | null;
  start: Nanos;
  /** null: still open at the end of the history. */
  end: Nanos | null;
  endedBy: 'resign' | 'deposed' | 'worker-died' | null;
  /** The campaign of the candidacy that led. */
  campaignOp: number;
  resignOp: number | null;
}

export interface DoubleLeaderAnomaly extends AnomalyBase {
  type: 'double-leader';
  election: string;
  /** The earlier window first. */
  windows: [LeaderWindow, LeaderWindow];
  /** Both clients believed they led throughout this interval. */
  overlap: Interval;
}

export interface NoLeaderAnomaly extends AnomalyBase {
  type: 'no-leader';
  election: string;
  /**
   * Longer than the bound, nobody led the election while at least one candidate could have: its campaign answered
   * ok and not resigned, its session the one it campaigned with and connected, its worker neither paused, cut off
   * nor dead, and the ensemble had a quorum.
   */
  leaderless: Interval;
  boundNs: Nanos;
  /** The clients that were such candidates at some moment of the stretch. */
  candidates: string[];
  /** The lowest candidate node of the election in the latest snapshot, and its owner (null without one). */
  blockingNode: LockChild | null;
  blockingOwner: NodeOwner | null;
}

export interface OverPermitsAnomaly extends AnomalyBase {
  type: 'over-permits';
  lock: string;
  permits: number;
  /** Every window open on the semaphore when one too many opened, earliest first: permits + 1 of them or more. */
  windows: HoldWindow[];
  /** All of them believed they held a lease throughout this interval. */
  overlap: Interval;
}

/** Every anomaly any registered check can report. */
export type Anomaly = CheckerResults[keyof CheckerResults]['anomalies'][number];
export type AnomalyType = Anomaly['type'];

/** One check's answer, Jepsen-style. */
export interface CheckResult<A extends AnomalyBase> {
  valid: Validity;
  anomalies: A[];
  /** Why the answer is "unknown" (or, with valid true, what the check could not look at). */
  reason?: string;
  /** Why anomalies present do not make this check invalid (the verdict rules in docs/results-format.md). */
  tolerated?: string;
}

export interface MutexResult extends CheckResult<DoubleHolderAnomaly> {
  windows: number;
}

export interface LeaksResult extends CheckResult<LeakedNodeAnomaly> {
  snapshots: number;
}

export interface LivenessResult extends CheckResult<StuckAcquireAnomaly> {
  boundNs: Nanos;
  /** Where the bound came from: the `livenessBoundNs` option, or 2 × sessionTimeoutMs + holdMs of the config. */
  boundSource: 'option' | 'config' | 'default';
}

export interface ResourceSummary {
  accepted: number;
  rejected: number;
  /** fenced-write operations answered ok. */
  acknowledged: number;
  /** The counter in the final snapshot (null without one). */
  finalValue: number | null;
}

export interface LeaderResult extends CheckResult<DoubleLeaderAnomaly | NoLeaderAnomaly> {
  /** Leadership windows seen. */
  windows: number;
  elections: number;
  /** How long an election may go without a leader while a candidate could lead (the liveness bound). */
  boundNs: Nanos;
}

export interface SemaphoreResult extends CheckResult<OverPermitsAnomaly> {
  /** Lease windows seen on semaphores. */
  windows: number;
  semaphores: number;
}

export interface FencingResult extends CheckResult<StaleWriteAnomaly | LostUpdateAnomaly> {
  resources: Record<string, ResourceSummary>;
}

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface FaultWindow {
  id: number;
  f: string;
  description: string;
  value: Record<string, unknown>;
  start: Nanos;
  /** null: never healed in the history. */
  end: Nanos | null;
}

export interface Stats {
  /** Operations per function and outcome ("pending": never completed). */
  counts: Partial<Record<OpFunction, Record<Outcome | 'pending', number>>>;
  /** Latency from invoke to completion, per function, over completed operations (all outcomes). */
  latency: Partial<Record<OpFunction, LatencySummary>>;
  /** Completions per time bucket: bucket i covers [i × bucketNs, (i + 1) × bucketNs). */
  throughput: { bucketNs: Nanos; ok: number[]; fail: number[]; info: number[] };
  faults: FaultWindow[];
  /** Time of the last line of the history. */
  durationNs: Nanos;
}

export interface RunInfo {
  runId: string | null;
  startedAt: string | null;
  recipe: string | null;
  workload: string | null;
  nemesis: string | null;
  seed: number | string | null;
  fencing: boolean | null;
  sessionTimeoutMs: number | null;
  holdMs: number | null;
  timeLimitS: number | null;
  /** The header's config, verbatim. */
  config: Record<string, unknown>;
}

export interface HistoryInfo {
  /** History format version from the header; null without a header. */
  version: number | null;
  lines: number;
  /** Lines that could not be read (at most 100 listed; `unreadableCount` has them all). */
  unreadable: UnreadableLine[];
  unreadableCount: number;
  /** The `end` line's reason; null if the history has none (the run was cut short). */
  end: 'completed' | 'interrupted' | 'crashed' | null;
  finalSnapshot: boolean;
}

export interface Results {
  version: typeof RESULTS_VERSION;
  /** Worst of the checkers: false beats "unknown" beats true. */
  valid: Validity;
  /** One result per registered check (registry.ts), under its name: mutex, leaks, liveness, fencing, leader, semaphore (the last two since results revision 1.2: absent in results.json written before). */
  checkers: CheckerResults;
  stats: Stats;
  run: RunInfo;
  history: HistoryInfo;
}
