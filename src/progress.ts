/**
 * The live progress line: elapsed of limit, ops/s, ok/fail/info, and every fault in force, client-side ones
 * included: a fault being applied (a one-shot proxy fault armed and waiting for its request), a fault that stays
 * (a partition, a frozen holder), and the one-shot faults that already hit (how many, the last one how long ago).
 */
import type { Outcome } from '../ground/history.ts';

interface Momentary {
  count: number;
  lastMs: number;
}

export class Progress {
  private readonly counts: Record<Outcome, number> = { ok: 0, fail: 0, info: 0 };
  private completedAtLastTick = 0;
  private lastTickMs: number;
  private opsPerSecond = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Faults being applied, by schedule index: their nemesis. */
  private readonly applying = new Map<number, string>();
  /** Faults in force until healed, by schedule index: their description. */
  private readonly inForce = new Map<number, string>();
  /** Faults over as soon as they hit (lost-reply, lost-delete), by nemesis. */
  private readonly momentary = new Map<string, Momentary>();
  /** On a terminal the line is redrawn in place; in CI logs a line every few seconds is enough. */
  private readonly interactive = process.stderr.isTTY === true;
  private startedMs: number;

  constructor(private readonly timeLimitS: number, private readonly now: () => number = Date.now) {
    this.startedMs = now();
    this.lastTickMs = this.startedMs;
  }

  completed(outcome: Outcome): void {
    this.counts[outcome] += 1;
  }

  faultApplying(index: number, nemesis: string): void {
    this.applying.set(index, nemesis);
  }

  /** A fault took effect; one that stays no time (durationMs 0) is counted as a hit rather than kept in force. */
  faultStarted(index: number, nemesis: string, description: string, durationMs: number): void {
    this.applying.delete(index);
    if (durationMs > 0) {
      this.inForce.set(index, description);
      return;
    }
    const hits = this.momentary.get(nemesis) ?? { count: 0, lastMs: 0 };
    this.momentary.set(nemesis, { count: hits.count + 1, lastMs: this.now() });
  }

  /** Healed, skipped (nothing to hit) or failed: no longer applying nor in force. */
  faultEnded(index: number): void {
    this.applying.delete(index);
    this.inForce.delete(index);
  }

  start(): void {
    this.startedMs = this.now();
    this.lastTickMs = this.startedMs;
    const tickMs = this.interactive ? 1000 : 5000;
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.interactive) process.stderr.write('\n');
  }

  line(): string {
    const total = this.counts.ok + this.counts.fail + this.counts.info;
    const elapsed = Math.min((this.now() - this.startedMs) / 1000, this.timeLimitS).toFixed(0);
    return `${elapsed}/${this.timeLimitS}s  ${this.opsPerSecond.toFixed(0)} ops/s  ${total} ops: ${this.counts.ok} ok, ${this.counts.fail} fail, ${this.counts.info} info  ${this.faults()}`;
  }

  private faults(): string {
    const parts = [
      ...this.inForce.values(),
      ...[...this.applying.values()].map((nemesis) => `${nemesis} armed`),
      ...[...this.momentary].map(([nemesis, { count, lastMs }]) => `${nemesis} hit ${count}× (last ${((this.now() - lastMs) / 1000).toFixed(0)} s ago)`),
    ];
    return parts.length === 0 ? 'no faults' : `faults: ${parts.join('; ')}`;
  }

  private tick(): void {
    const now = this.now();
    const total = this.counts.ok + this.counts.fail + this.counts.info;
    this.opsPerSecond = ((total - this.completedAtLastTick) * 1000) / Math.max(1, now - this.lastTickMs);
    this.completedAtLastTick = total;
    this.lastTickMs = now;
    process.stderr.write(this.interactive ? `\r\x1b[2K${this.line()}` : `${this.line()}\n`);
  }
}
