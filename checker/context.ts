/**
 * Nemesis and proxy lines, kept in arrival order so that any anomaly can be shown beside the faults around it.
 * They grow with the number of faults, not with the number of operations.
 */
import type { NemesisLine, ProxyLine } from '../ground/history.ts';
import type { ContextEvent, FaultWindow, Interval, Nanos } from './types.ts';

export class FaultContext {
  private readonly events: ContextEvent[] = [];
  private readonly faults: FaultWindow[] = [];
  private readonly openFaults = new Map<number, FaultWindow>();
  /** Nemesis start lines by fault, so "faults in force" can quote the line itself. */
  private readonly startLines = new Map<FaultWindow, NemesisLine>();

  constructor(
    private readonly marginNs: Nanos,
    private readonly maxEventsPerAnomaly: number,
  ) {}

  addNemesis(line: NemesisLine): void {
    this.events.push(line);
    if (line.type === 'start') {
      const window: FaultWindow = { id: line.id, f: line.f, description: line.description, value: line.value, start: line.time, end: null };
      this.faults.push(window);
      this.openFaults.set(line.id, window);
      this.startLines.set(window, line);
      return;
    }
    const open = this.openFaults.get(line.id);
    if (open !== undefined) {
      open.end = line.time;
      this.openFaults.delete(line.id);
    }
  }

  addProxy(line: ProxyLine): void {
    this.events.push(line);
  }

  faultWindows(): FaultWindow[] {
    return this.faults;
  }

  /**
   * The faults in force when `span` began (their start lines), then every event from a margin before `span` to a
   * margin after it, in time order, at most `maxEventsPerAnomaly` (the earliest kept: they explain the cause).
   */
  around(span: Interval): ContextEvent[] {
    const from = span.start - this.marginNs;
    const to = span.end + this.marginNs;
    const inForce: ContextEvent[] = [];
    for (const fault of this.faults) {
      if (fault.start >= from) break;
      if (fault.end === null || fault.end >= span.start) inForce.push(this.startLines.get(fault)!);
    }
    const nearby: ContextEvent[] = [];
    for (let i = firstIndexAtOrAfter(this.events, from); i < this.events.length; i++) {
      const event = this.events[i]!;
      if (event.time > to || inForce.length + nearby.length >= this.maxEventsPerAnomaly) break;
      nearby.push(event);
    }
    return [...inForce.slice(0, this.maxEventsPerAnomaly), ...nearby].slice(0, this.maxEventsPerAnomaly);
  }
}

/** Binary search: events arrive in time order (the runner writes them as they happen). */
function firstIndexAtOrAfter(events: ContextEvent[], time: Nanos): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (events[middle]!.time < time) low = middle + 1;
    else high = middle;
  }
  return low;
}
