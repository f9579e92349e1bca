/**
 * mutex: two clients must never both believe they hold one lock. A window is [acquire ok, release invoked] of
 * one client on one lock (the tracker keeps them); an acquire answered info opens none. Each time a window
 * opens, it is compared with the windows still open on that lock: O(1) per operation plus O(1) per overlap.
 * Read/write locks: readers share, so two read windows never conflict, and a client's own windows never do (a
 * downgrade holds both sides for a moment); a write window conflicts with any other client's window.
 */
import { judge, type Check, type CheckEnd, type RunningCheck } from './check.ts';
import { at, duration, holder } from './describe.ts';
import type { TrackedLock } from './tracker.ts';
import type { DoubleHolderAnomaly, HoldWindow, MutexResult, Nanos } from './types.ts';

/**
 * In fenced-counter with fencing on, double holders are expected whenever a holder outlives its session: they
 * are listed but do not count, and the fencing check decides whether the resource stayed safe.
 */
const TOLERATED_UNDER_FENCING =
  'fenced-counter with fencing on: double holders are expected when a holder outlives its session; the fencing check decides whether the resource stayed safe';

export const mutexCheck: Check<'mutex', MutexResult> = {
  name: 'mutex',
  create: ({ run }) => new MutexCheck(run.workload === 'fenced-counter' && run.fencing === true),
};

class MutexCheck implements RunningCheck<MutexResult> {
  private windows = 0;
  private readonly overlapping: Array<[earlier: HoldWindow, later: HoldWindow]> = [];

  constructor(private readonly fenced: boolean) {}

  windowOpened(window: HoldWindow, lock: TrackedLock): void {
    // A semaphore's leases may overlap up to its permits: the semaphore check judges them.
    if (lock.permits !== undefined) return;
    this.windows++;
    const reading = window.access === 'read';
    for (const other of lock.windows) {
      if (other.client === window.client || (reading && other.access === 'read')) continue;
      this.overlapping.push([other, window]);
    }
  }

  /** Windows still open at the end stay open to the end of the history. */
  result(end: CheckEnd): MutexResult {
    const anomalies = this.overlapping.map(([earlier, later]) => doubleHolder(earlier, later, end.endTime));
    const judged = this.fenced ? judge(anomalies, 0, end.historyDoubts, TOLERATED_UNDER_FENCING) : judge(anomalies, anomalies.length, end.historyDoubts);
    return { ...judged, windows: this.windows };
  }
}

function doubleHolder(earlier: HoldWindow, later: HoldWindow, endTime: Nanos): DoubleHolderAnomaly {
  const overlap = { start: later.start, end: Math.min(earlier.end ?? endTime, later.end ?? endTime) };
  const stillOpen = earlier.end === null && later.end === null ? ' (neither ever released it)' : '';
  return {
    type: 'double-holder',
    lock: earlier.lock,
    windows: [{ ...earlier }, { ...later }],
    overlap,
    span: overlap,
    ops: [earlier.acquireOp, later.acquireOp, earlier.releaseOp, later.releaseOp].filter((id): id is number => id !== null),
    events: [],
    explanation:
      `${holder(earlier)} and ${holder(later)} both believed they held ${earlier.lock} for ${duration(overlap.end - overlap.start)}, ` +
      `from ${at(overlap.start)} to ${at(overlap.end)}${stillOpen}; ${earlier.client} had acquired it at ${at(earlier.start)}.`,
  };
}
