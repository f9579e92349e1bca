/**
 * semaphore: a lock whose acquires carry `permits` (workload semaphore) is a counting semaphore: at most that many
 * clients may believe they hold a lease of it at once. Lease windows are the tracker's hold windows (acquire ok to
 * release invoked); each window that opens is counted with the windows open on its semaphore, and one past the
 * permits is an `over-permits`, listing every window open at that moment. Windows of a semaphore are not the
 * mutex's business (several holders are the point), and its nodes not the lowest-node rule's (a lease node at the
 * head of a semaphore blocks nobody while permits are left): index.ts routes them here.
 */
import type { OpLine, SnapshotLine } from '../ground/history.ts';
import { at, duration, holder } from './describe.ts';
import type { TrackedLock, TrackerListener } from './tracker.ts';
import type { HoldWindow, Nanos, OverPermitsAnomaly } from './types.ts';

export class SemaphoreCheck implements Partial<TrackerListener> {
  windows = 0;
  /** Semaphore → its permits, from the acquires that named them. */
  private readonly permits = new Map<string, number>();
  private readonly found: Array<{ lock: string; permits: number; windows: HoldWindow[] }> = [];

  get semaphores(): number {
    return this.permits.size;
  }

  /** Every op line, before the tracker sees it: an acquire with `permits` makes its lock a semaphore. */
  op(line: OpLine): void {
    if (line.f === 'acquire' && line.type === 'invoke' && line.permits !== undefined && line.lock !== undefined) this.permits.set(line.lock, line.permits);
  }

  isSemaphore(lock: string): boolean {
    return this.permits.has(lock);
  }

  windowOpened(_window: HoldWindow, lock: TrackedLock): void {
    const permits = this.permits.get(lock.name);
    if (permits === undefined) return;
    this.windows++;
    if (lock.windows.length > permits) this.found.push({ lock: lock.name, permits, windows: [...lock.windows] });
  }

  /** The snapshot without the semaphores' nodes, for checks that read every lock's children as one queue. */
  withoutSemaphores(line: SnapshotLine): SnapshotLine {
    if (this.permits.size === 0) return line;
    return { ...line, locks: Object.fromEntries(Object.entries(line.locks).filter(([lock]) => !this.permits.has(lock))) };
  }

  /** Windows still open at the end stay open to `endTime`. */
  anomalies(endTime: Nanos): OverPermitsAnomaly[] {
    return this.found.map(({ lock, permits, windows }) => overPermits(lock, permits, windows, endTime));
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
