/**
 * The checker: pure functions from a history (ground/history.ts) to a verdict (checker/types.ts, documented in
 * docs/results-format.md). One pass, streaming: `check(lines)` for a history in hand, `createChecker()` to feed
 * lines one by one while reading a file. It composes the registered checks (registry.ts), each `{ valid,
 * anomalies }` under its name, plus stats; the verdict is the worst of them (false beats "unknown" beats true).
 */
import { HISTORY_VERSION, type HeaderLine, type HistoryLine } from '../ground/history.ts';
import type { CheckEnd, CheckOptions, RunningCheck } from './check.ts';
import { FaultContext } from './context.ts';
import { CHECKS } from './registry.ts';
import { StatsCollector } from './stats.ts';
import { Tracker } from './tracker.ts';
import {
  RESULTS_VERSION,
  type AnomalyBase,
  type CheckResult,
  type HistoryInfo,
  type Results,
  type RunInfo,
  type UnreadableLine,
  type Validity,
} from './types.ts';

export * from './types.ts';
export type { CheckOptions } from './check.ts';

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

type Running = RunningCheck<CheckResult<AnomalyBase>>;

/** The checks, built once the header (or its absence) says how the run was configured. */
interface Parts {
  run: RunInfo;
  tracker: Tracker;
  context: FaultContext;
  stats: StatsCollector;
  /** In registry order. */
  checks: Array<{ name: string; running: Running }>;
  /** Those that hear snapshot lines, and resource lines. */
  snapshotChecks: Array<Running & Pick<Required<Running>, 'snapshot'>>;
  /** Those that hear every line. */
  lineChecks: Array<Running & Pick<Required<Running>, 'line'>>;
  resourceChecks: Array<Running & Pick<Required<Running>, 'resource'>>;
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
    for (const running of parts.lineChecks) running.line(line);
    switch (line.kind) {
      case 'op': {
        const problem = parts.tracker.op(line);
        if (problem !== null) this.unreadable({ line: lineNumber, reason: problem });
        return;
      }
      case 'resource':
        for (const running of parts.resourceChecks) running.resource(line);
        return;
      case 'snapshot':
        if (line.final) this.finalSnapshot = true;
        for (const running of parts.snapshotChecks) running.snapshot(line);
        return;
      case 'nemesis':
        parts.context.addNemesis(line);
        return;
      case 'proxy':
        parts.context.addProxy(line);
        parts.tracker.proxy(line);
        return;
      case 'worker':
        parts.tracker.worker(line);
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
    const end: CheckEnd = { endTime: parts.tracker.lastTime, historyDoubts: this.historyDoubts(), finalSnapshot: this.finalSnapshot };
    const checkers: Record<string, CheckResult<AnomalyBase>> = {};
    for (const { name, running } of parts.checks) {
      const result = running.result(end);
      for (const anomaly of result.anomalies) anomaly.events = parts.context.around(anomaly.span);
      checkers[name] = result;
    }
    return {
      version: RESULTS_VERSION,
      valid: worst(Object.values(checkers).map((result) => result.valid)),
      // Each registered check's result under its name: the shape registry.ts gives Results['checkers'].
      checkers: checkers as unknown as Results['checkers'],
      stats: parts.stats.finish(end.endTime, parts.context.faultWindows()),
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
  private historyDoubts(): string[] {
    const reasons: string[] = [];
    if (this.unreadableCount > 0) reasons.push(`${this.unreadableCount} line(s) of the history could not be used (first: line ${this.unreadableLines[0]!.line}, ${this.unreadableLines[0]!.reason})`);
    if (this.header === null) reasons.push('the history has no header, so the run configuration is unknown');
    return reasons;
  }

  private build(): Parts {
    const run = runInfo(this.header);
    const tracker = new Tracker();
    const stats = new StatsCollector(this.options.throughputBucketNs ?? SECOND_NS);
    tracker.listen(stats);
    const checks = CHECKS.map((check) => {
      const running: Running = check.create({ run, tracker, options: this.options });
      tracker.listen(running);
      return { name: check.name, running };
    });
    const runnings = checks.map(({ running }) => running);
    const sessionTimeoutNs = run.sessionTimeoutMs === null ? null : run.sessionTimeoutMs * MS_NS;
    return {
      run,
      tracker,
      context: new FaultContext(this.options.contextMarginNs ?? sessionTimeoutNs ?? SECOND_NS, this.options.maxEventsPerAnomaly ?? 40),
      stats,
      checks,
      snapshotChecks: runnings.filter((running): running is Running & Pick<Required<Running>, 'snapshot'> => running.snapshot !== undefined),
      lineChecks: runnings.filter((running): running is Running & Pick<Required<Running>, 'line'> => running.line !== undefined),
      resourceChecks: runnings.filter((running): running is Running & Pick<Required<Running>, 'resource'> => running.resource !== undefined),
    };
  }
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
