/**
 * semaphore: a lock whose acquires carry `permits` (workload semaphore) is a counting semaphore: at most that many
 * clients may believe they hold a lease of it at once. Lease windows are the tracker's hold windows (acquire ok to
 * release invoked); each window that opens is counted with the windows open on its semaphore, and one past the
 * permits is an `over-permits`, listing every window open at that moment. Windows of a semaphore are not the
 * mutex's business (several holders are the point), and its nodes not the lowest-node rule's (a lease node at the
 * head of a semaphore blocks nobody while permits are left): the tracker marks the lock with its permits
 * (`TrackedLock.permits`), and mutex and liveness leave such locks to this check.
 */
import { judge, type Check, type CheckEnd, type RunningCheck } from './check.ts';
import { at, duration, holder } from './describe.ts';
import type { TrackedLock } from './tracker.ts';
import type { HoldWindow, Nanos, OverPermitsAnomaly, SemaphoreResult } from './types.ts';

export const semaphoreCheck: Check<'semaphore', SemaphoreResult> = {
  name: 'semaphore',
  create: () => new SemaphoreCheck(),
};

class SemaphoreCheck implements RunningCheck<SemaphoreResult> {
  private windows = 0;
  private readonly semaphores = new Set<string>();
  private readonly found: Array<{ lock: string; permits: number; windows: HoldWindow[] }> = [];

  windowOpened(_window: HoldWindow, lock: TrackedLock): void {
    if (lock.permits === undefined) return;
    this.windows++;
    this.semaphores.add(lock.name);
    if (lock.windows.length > lock.permits) this.found.push({ lock: lock.name, permits: lock.permits, windows: [...lock.windows] });
  }

  /** Windows still open at the end stay open to the end of the history. */
  result(end: CheckEnd): SemaphoreResult {
    const anomalies = this.found.map(({ lock, permits, windows }) => overPermits(lock, permits, windows, end.endTime));
    return { ...judge(anomalies, anomalies.length, end.historyDoubts), windows: this.windows, semaphores: this.semaphores.size };
  }
}

function overPermits(lock: string, permits: number, windows: HoldWindow[], endTime: Nanos): OverPermitsAnomaly {
  const latest = windows[windows.length - 1]!;
  const overlap = { start: latest.start, end: Math.min(...windows.map((window) => window.end ?? endTime)) };
  return {
    type: 'over-permits',
    lock,
    permits,
    windows: windows.map((window) => ({ ...window })),
    overlap,
    span: overlap,
    ops: windows.flatMap((window) => [window.acquireOp, window.releaseOp]).filter((id): id is number => id !== null),
    events: [],
    explanation:
      `${windows.length} clients believed they held a lease of ${lock}, which has ${permits} permit${permits === 1 ? '' : 's'}, for ${duration(overlap.end - overlap.start)} ` +
      `(${at(overlap.start)} to ${at(overlap.end)}): ${windows.map(holder).join(', ')}; the last, ${latest.client}, was let in at ${at(latest.start)}.`,
  };
}
