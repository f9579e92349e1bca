/**
 * mutex: two clients must never both believe they hold one lock. A window is [acquire ok, release invoked] of
 * one client on one lock (the tracker keeps them); an acquire answered info opens none. Each time a window
 * opens, it is compared with the windows still open on that lock: O(1) per operation plus O(1) per overlap.
 * Read/write locks: readers share, so two read windows never conflict, and a client's own windows never do (a
 * downgrade holds both sides for a moment); a write window conflicts with any other client's window.
 */
import { at, duration, holder } from './describe.ts';
import type { TrackedLock, TrackerListener } from './tracker.ts';
import type { DoubleHolderAnomaly, HoldWindow, Nanos } from './types.ts';

export class MutexCheck implements Partial<TrackerListener> {
  windows = 0;
  private readonly overlapping: Array<[earlier: HoldWindow, later: HoldWindow]> = [];

  windowOpened(window: HoldWindow, lock: TrackedLock): void {
    this.windows++;
    const reading = window.access === 'read';
    for (const other of lock.windows) {
      if (other.client === window.client || (reading && other.access === 'read')) continue;
      this.overlapping.push([other, window]);
    }
  }

  /** Windows still open at the end stay open to `endTime`. */
  anomalies(endTime: Nanos): DoubleHolderAnomaly[] {
    return this.overlapping.map(([earlier, later]) => doubleHolder(earlier, later, endTime));
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
