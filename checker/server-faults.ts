/**
 * Server faults as the checks see them: which nemeses act on the ensemble's servers, and how much of a stretch of
 * time at least one of them was in force. While a server is killed, paused or cut off, a client connected to it
 * can do nothing until it notices and moves, and one with a node at the head of a queue holds everyone behind it:
 * no recipe owes progress then. Progress checks measure their bound over the time with no server fault in force.
 */
import type { NemesisLine } from '../ground/history.ts';
import type { Interval, Nanos } from './types.ts';

/** Nemeses that take servers down: their `value.nodes`. */
const SERVER_DOWN = new Set(['kill', 'pause', 'kill-mid-create']);
/** The nemesis that cuts links between servers: its `value.grudge`. */
const SERVER_PARTITION = 'partition';

export const isServerFault = (line: NemesisLine): boolean => SERVER_DOWN.has(line.f) || line.f === SERVER_PARTITION;

/**
 * The stretches with at least one server fault in force, merged, with running totals, so that the faulted time
 * within any interval is two binary searches. Lines come in history order; a fault never healed stays in force.
 */
export class ServerFaultTime {
  private readonly inForce = new Set<number>();
  private openSince: Nanos | null = null;
  private readonly stretches: Interval[] = [];
  /** Faulted time before each closed stretch. */
  private readonly totalBefore: Nanos[] = [];

  line(line: NemesisLine): void {
    if (!isServerFault(line)) return;
    if (line.type === 'start') {
      this.inForce.add(line.id);
      this.openSince ??= line.time;
    } else if (this.inForce.delete(line.id) && this.inForce.size === 0 && this.openSince !== null) {
      const last = this.stretches.length - 1;
      this.totalBefore.push(last < 0 ? 0 : this.totalBefore[last]! + this.stretches[last]!.end - this.stretches[last]!.start);
      this.stretches.push({ start: this.openSince, end: Math.max(line.time, this.openSince) });
      this.openSince = null;
    }
  }

  /** How much of [start, end] some server fault was in force. */
  within(start: Nanos, end: Nanos): Nanos {
    return end <= start ? 0 : this.until(end) - this.until(start);
  }

  /** Faulted time from the beginning of the history to `time`. */
  private until(time: Nanos): Nanos {
    let low = 0;
    let high = this.stretches.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.stretches[middle]!.start < time) low = middle + 1;
      else high = middle;
    }
    let total = 0;
    if (low > 0) {
      const stretch = this.stretches[low - 1]!;
      total = this.totalBefore[low - 1]! + Math.min(time, stretch.end) - stretch.start;
    }
    if (this.openSince !== null && time > this.openSince) total += time - this.openSince;
    return total;
  }
}
