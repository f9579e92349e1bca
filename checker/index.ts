/**
 * The checker: pure functions from a history (src/history.ts) to a verdict (checker/types.ts, documented in
 * docs/results-format.md). One pass, streaming: `check(lines)` for a history in hand, `createChecker()` to feed
 * lines one by one while reading a file. Six checks, each `{ valid, anomalies }`, plus stats; the verdict is
 * the worst of them (false beats "unknown" beats true).
 */
import { HISTORY_VERSION, type HeaderLine, type HistoryLine } from '../ground/history.ts';
import { FaultContext } from './context.ts';
import { FencingCheck } from './fencing.ts';
import { LeaderCheck } from './leader.ts';
import { LeaksCheck } from './leaks.ts';
import { LivenessCheck } from './liveness.ts';
import { MutexCheck } from './mutex.ts';
import { SemaphoreCheck } from './semaphore.ts';
import { StatsCollector } from './stats.ts';
import { Tracker } from './tracker.ts';
import {
  RESULTS_VERSION,
  type Anomaly,
  type CheckResult,
  type HistoryInfo,
  type LivenessResult,
  type Nanos,
  type Results,
  type RunInfo,
  type UnreadableLine,
  type Validity,
} from './types.ts';

export * from './types.ts';

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

export interface StreamingChecker {
  /** Lines in history order; `lineNumber` (1-based, in the file) makes problems easy to find. */
  add(line: HistoryLine, lineNumber?: number): void;
  /** A line the reader could not parse: every check that finds nothing answers "unknown". */
  unreadable(line: UnreadableLine): void;
  /** Once, after the last line. */
  finish(): Results;
}

const SECOND_NS = 1e9;
const MS_NS = 1e6;
const LISTED_UNREADABLE = 100;

/** Checks a whole history in hand. */
export function check(history: Iterable<HistoryLine>, options: CheckOptions = {}): Results {
  const checker = createChecker(options);
  let lineNumber = 0;
  for (const line of history) checker.add(line, ++lineNumber);
  return checker.finish();
}

export function createChecker(options: CheckOptions = {}): StreamingChecker {
  return new Checker(options);
}

/** The checks, built once the header (or its absence) says how the run was configured. */
interface Parts {
  run: RunInfo;
  tracker: Tracker;
  context: FaultContext;
  mutex: MutexCheck;
  leaks: LeaksCheck;
  liveness: LivenessCheck;
  livenessBoundSource: LivenessResult['boundSource'];
  fencing: FencingCheck;
  leader: LeaderCheck;
  semaphore: SemaphoreCheck;
  stats: StatsCollector;
}

class Checker implements StreamingChecker {
  private header: HeaderLine | null = null;
  private parts: Parts | null = null;
  private lines = 0;
  private lastLineNumber = 0;
  private readonly unreadableLines: UnreadableLine[] = [];
  private unreadableCount = 0;
  private end: HistoryInfo['end'] = null;
  private finalSnapshot = false;

  constructor(private readonly options: CheckOptions) {}

  add(line: HistoryLine, lineNumber = this.lastLineNumber + 1): void {
    this.lines++;
    this.lastLineNumber = lineNumber;
    if (line.kind === 'header') {
      if (this.header !== null || this.parts !== null) this.unreadable({ line: lineNumber, reason: 'a header line that is not the first line' });
      else if (line.version !== HISTORY_VERSION) this.unreadable({ line: lineNumber, reason: `history version ${String(line.version)} is not supported (this checker reads version ${HISTORY_VERSION})` });
      else this.header = line;
      return;
    }
    const parts = (this.parts ??= this.build());
    parts.tracker.observeTime(line.time);
    switch (line.kind) {
      case 'op': {
        parts.semaphore.op(line);
        parts.leader.op(line);
        const problem = parts.tracker.op(line);
        if (problem !== null) this.unreadable({ line: lineNumber, reason: problem });
        return;
      }
      case 'resource': {
        const op = parts.tracker.fencedWriteOf(line);
        parts.fencing.write(line, op, op !== null && parts.tracker.isPending(op.id));
        return;
      }
      case 'snapshot':
        if (line.final) this.finalSnapshot = true;
        parts.leaks.snapshot(line);
        parts.liveness.snapshot(parts.semaphore.withoutSemaphores(line));
        parts.fencing.snapshot(line);
        parts.leader.snapshot(line);
        return;
      case 'nemesis':
        parts.context.addNemesis(line);
        parts.leader.nemesis(line);
        return;
      case 'proxy':
        parts.context.addProxy(line);
        parts.tracker.proxy(line);
        return;
      case 'worker':
        parts.tracker.worker(line);
        parts.leader.worker(line);
        return;
      case 'end':
        this.end = line.reason;
        return;
    }
  }

  unreadable(line: UnreadableLine): void {
    this.unreadableCount++;
    if (this.unreadableLines.length < LISTED_UNREADABLE) this.unreadableLines.push(line);
  }

  finish(): Results {
    const parts = (this.parts ??= this.build());
    const endTime = parts.tracker.lastTime;
    const historyDoubt = this.historyDoubt();
    const withoutFinal = this.finalSnapshot ? [] : ['the history has no final snapshot'];

    const doubleHolders = parts.mutex.anomalies(endTime);
    const leaked = parts.leaks.anomalies();
    const stuck = parts.liveness.anomalies(endTime);
    const fencingAnomalies = parts.fencing.anomalies();
    const leaderAnomalies = parts.leader.anomalies(endTime);
    const overPermits = parts.semaphore.anomalies(endTime);
    for (const anomaly of [...doubleHolders, ...leaked, ...stuck, ...fencingAnomalies, ...leaderAnomalies, ...overPermits] as Anomaly[]) anomaly.events = parts.context.around(anomaly.span);

    const fencedCounterFenced = parts.run.workload === 'fenced-counter' && parts.run.fencing === true;
    // Leaders write the fenced resource as fenced-counter's holders do: with fencing on, the resource decides.
    const leadersFenced = parts.run.workload === 'leader' && parts.run.fencing === true;
    const countedLeaderAnomalies = leaderAnomalies.filter((anomaly) => anomaly.type === 'no-leader' || !leadersFenced).length;
    const lastingLeaks = leaked.filter((leak) => leak.seen.final).length;
    const fencingNeedsFinal = parts.fencing.fencedWrites > 0 ? withoutFinal : [];

    const checkers: Results['checkers'] = {
      mutex: {
        ...judge(doubleHolders, fencedCounterFenced ? 0 : doubleHolders.length, historyDoubt,
          fencedCounterFenced ? 'fenced-counter with fencing on: double holders are expected when a holder outlives its session; the fencing check decides whether the resource stayed safe' : undefined),
        windows: parts.mutex.windows,
      },
      leaks: {
        ...judge(leaked, lastingLeaks, [...historyDoubt, ...withoutFinal],
          leaked.length > lastingLeaks && this.finalSnapshot ? `${leaked.length - lastingLeaks} node(s) orphaned in mid-run snapshots were gone by the final one` : undefined),
        snapshots: parts.leaks.snapshots,
      },
      liveness: {
        ...judge(stuck, stuck.length, [...historyDoubt, ...withoutFinal]),
        boundNs: parts.liveness.boundNs,
        boundSource: parts.livenessBoundSource,
      },
      fencing: {
        ...judge(fencingAnomalies, fencingAnomalies.length, [...historyDoubt, ...fencingNeedsFinal]),
        resources: parts.fencing.summaries(),
      },
      leader: {
        ...judge(leaderAnomalies, countedLeaderAnomalies, historyDoubt,
          leadersFenced ? 'leader with fencing on: double leaders are expected when a leader outlives its session; the fencing check decides whether the resource stayed safe' : undefined),
        windows: parts.leader.windows,
        elections: parts.leader.electionCount,
        boundNs: parts.leader.boundNs,
      },
      semaphore: {
        ...judge(overPermits, overPermits.length, historyDoubt),
        windows: parts.semaphore.windows,
        semaphores: parts.semaphore.semaphores,
      },
    };
    return {
      version: RESULTS_VERSION,
      valid: worst(Object.values(checkers).map((result) => result.valid)),
      checkers,
      stats: parts.stats.finish(endTime, parts.context.faultWindows()),
      run: parts.run,
      history: {
        version: this.header?.version ?? null,
        lines: this.lines + this.unreadableCount,
        unreadable: this.unreadableLines,
        unreadableCount: this.unreadableCount,
        end: this.end,
        finalSnapshot: this.finalSnapshot,
      },
    };
  }

  /** Reasons that put every check in doubt: lines missing or unreadable, or no header to say what the run was. */
  private historyDoubt(): string[] {
    const reasons: string[] = [];
    if (this.unreadableCount > 0) reasons.push(`${this.unreadableCount} line(s) of the history could not be used (first: line ${this.unreadableLines[0]!.line}, ${this.unreadableLines[0]!.reason})`);
    if (this.header === null) reasons.push('the history has no header, so the run configuration is unknown');
    return reasons;
  }

  private build(): Parts {
    const run = runInfo(this.header);
    const sessionTimeoutNs = run.sessionTimeoutMs === null ? null : run.sessionTimeoutMs * MS_NS;
    const configBound = sessionTimeoutNs === null ? null : 2 * sessionTimeoutNs + (run.holdMs ?? 0) * MS_NS;
    const boundNs = this.options.livenessBoundNs ?? configBound ?? 10 * SECOND_NS;
    // The checks need the tracker and the tracker tells the checks: its listener calls them once they exist.
    const tracker = new Tracker({
      opInvoked(op) {
        parts.stats.opInvoked(op);
        parts.liveness.opInvoked(op);
        parts.fencing.opInvoked(op);
      },
      opCompleted(op) {
        parts.stats.opCompleted(op);
        parts.liveness.opCompleted(op);
        parts.fencing.opCompleted(op);
      },
      windowOpened(window, lock) {
        // A semaphore's windows may overlap up to its permits: the semaphore check judges them, not the mutex.
        if (parts.semaphore.isSemaphore(lock.name)) parts.semaphore.windowOpened(window, lock);
        else parts.mutex.windowOpened(window, lock);
        parts.liveness.windowOpened(window, lock);
      },
      windowClosed(window, lock) {
        parts.liveness.windowClosed(window, lock);
      },
    });
    const parts: Parts = {
      run,
      tracker,
      context: new FaultContext(this.options.contextMarginNs ?? sessionTimeoutNs ?? SECOND_NS, this.options.maxEventsPerAnomaly ?? 40),
      mutex: new MutexCheck(),
      leaks: new LeaksCheck(tracker, this.options.snapshotGraceNs ?? SECOND_NS),
      liveness: new LivenessCheck(tracker, boundNs),
      livenessBoundSource: this.options.livenessBoundNs !== undefined ? 'option' : configBound !== null ? 'config' : 'default',
      fencing: new FencingCheck(),
      leader: new LeaderCheck(boundNs, typeof run.config.nodes === 'number' ? run.config.nodes : null),
      semaphore: new SemaphoreCheck(),
      stats: new StatsCollector(this.options.throughputBucketNs ?? SECOND_NS),
    };
    return parts;
  }
}

/** Jepsen's rule for one check: counted anomalies make it false; otherwise any doubt makes it unknown. */
function judge<A extends Anomaly>(anomalies: A[], counted: number, doubts: string[], tolerated?: string): CheckResult<A> {
  const valid: Validity = counted > 0 ? false : doubts.length > 0 ? 'unknown' : true;
  return {
    valid,
    anomalies,
    ...(doubts.length > 0 ? { reason: doubts.join('; ') } : {}),
    ...(tolerated !== undefined && anomalies.length > 0 ? { tolerated } : {}),
  };
}

/** false beats "unknown" beats true. */
export function worst(parts: Validity[]): Validity {
  if (parts.includes(false)) return false;
  if (parts.includes('unknown')) return 'unknown';
  return true;
}

function runInfo(header: HeaderLine | null): RunInfo {
  const config = header?.config ?? {};
  const text = (key: string): string | null => {
    const value = config[key];
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.join(',');
    return null;
  };
  const number = (key: string): number | null => (typeof config[key] === 'number' ? config[key] : null);
  const seed = config.seed;
  const fencing = config.fencing;
  return {
    runId: header?.runId ?? null,
    startedAt: header?.startedAt ?? null,
    recipe: text('recipe'),
    workload: text('workload'),
    nemesis: text('nemesis'),
    seed: typeof seed === 'number' || typeof seed === 'string' ? seed : null,
    fencing: fencing === true || fencing === 'on' ? true : fencing === false || fencing === 'off' ? false : null,
    sessionTimeoutMs: number('sessionTimeoutMs'),
    holdMs: number('holdMs'),
    timeLimitS: number('timeLimitS'),
    config,
  };
}
