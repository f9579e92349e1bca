/**
 * What a check is, as Jepsen's `check` and Porcupine's struct of functions: a name, and `create`, which gets
 * the run's context once and returns the check's running state. That state hears what it asks for (the
 * tracker's events, snapshots, resource writes: optional methods) and answers once, at the end, with its
 * `CheckResult`. The registry (registry.ts) lists the checks; index.ts composes whatever is registered, and
 * results.json has one entry per check under its name, in registry order.
 */
import type { HeaderLine, HistoryLine, ResourceLine, SnapshotLine } from '../ground/history.ts';
import type { TrackerListener, Tracker } from './tracker.ts';
import type { AnomalyBase, CheckResult, Nanos, RunInfo, Validity } from './types.ts';

export interface CheckOptions {
  /** How long a blocking acquire may wait while its lock is free. Default: 2 × sessionTimeoutMs + holdMs of the header config, else 10 s. */
  livenessBoundNs?: Nanos;
  /** How far before and after an anomaly nemesis and proxy lines are quoted. Default: the session timeout, else 1 s. */
  contextMarginNs?: Nanos;
  /** At most this many context events per anomaly. Default 40. */
  maxEventsPerAnomaly?: number;
  /** In a snapshot, a client that finished an operation on a lock this recently still accounts for its node. Default 1 s. */
  snapshotGraceNs?: Nanos;
  /** Width of a throughput bucket. Default 1 s. */
  throughputBucketNs?: Nanos;
}

/** What a check is given when the run's header (or its absence) has been read. */
export interface CheckContext {
  run: RunInfo;
  /** Shared bookkeeping: operations, hold windows, sessions; a check may ask it anything. */
  tracker: Tracker;
  options: CheckOptions;
}

/** What every check is told at the end. */
export interface CheckEnd {
  /** Time of the last line. */
  endTime: Nanos;
  /** Reasons that put every check in doubt (lines that could not be used, no header). */
  historyDoubts: readonly string[];
  finalSnapshot: boolean;
}

/** A check's state during one pass over a history: every method but `result` is optional. */
export interface RunningCheck<R extends CheckResult<AnomalyBase>> extends Partial<TrackerListener> {
  /** Every line after the header, before the tracker hears it: for checks that follow what the tracker does not (elections). */
  line?(line: Exclude<HistoryLine, HeaderLine>): void;
  snapshot?(line: SnapshotLine): void;
  /** A write as the fenced resource saw it. */
  resource?(line: ResourceLine): void;
  /** Once, after the last line. The anomalies' `events` are filled in by the composition. */
  result(end: CheckEnd): R;
}

export interface Check<Name extends string = string, R extends CheckResult<AnomalyBase> = CheckResult<AnomalyBase>> {
  /** The key of its result in results.json's `checkers`. */
  name: Name;
  create(context: CheckContext): RunningCheck<R>;
}

export const NO_FINAL_SNAPSHOT = 'the history has no final snapshot';

const SECOND_NS = 1e9;
const MS_NS = 1e6;

/**
 * How long something that should happen (a waiter getting a free lock, an election getting a leader) may take: the
 * option, or twice the session timeout plus a hold (long enough for an orphan's session to expire and a holder to
 * finish), or 10 s when the run's config is unknown.
 */
export function progressBound({ run, options }: CheckContext): { boundNs: Nanos; source: 'option' | 'config' | 'default' } {
  if (options.livenessBoundNs !== undefined) return { boundNs: options.livenessBoundNs, source: 'option' };
  if (run.sessionTimeoutMs === null) return { boundNs: 10 * SECOND_NS, source: 'default' };
  return { boundNs: 2 * run.sessionTimeoutMs * MS_NS + (run.holdMs ?? 0) * MS_NS, source: 'config' };
}

/** The history's doubts, plus the missing final snapshot: for checks that need it. */
export function doubtsWithFinal(end: CheckEnd): string[] {
  return end.finalSnapshot ? [...end.historyDoubts] : [...end.historyDoubts, NO_FINAL_SNAPSHOT];
}

/**
 * Jepsen's rule for one check: anomalies that count make it false; otherwise any doubt makes it unknown.
 * `counted` says how many of `anomalies` count; `tolerated` says why the others do not.
 */
export function judge<A extends AnomalyBase>(anomalies: A[], counted: number, doubts: readonly string[], tolerated?: string): CheckResult<A> {
  const valid: Validity = counted > 0 ? false : doubts.length > 0 ? 'unknown' : true;
  return {
    valid,
    anomalies,
    ...(doubts.length > 0 ? { reason: doubts.join('; ') } : {}),
    ...(tolerated !== undefined && anomalies.length > 0 ? { tolerated } : {}),
  };
}
