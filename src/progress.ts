/** The live progress line: elapsed of limit, ops/s, ok/fail/info, faults in force. */
import type { Outcome } from '../ground/history.ts';

export class Progress {
  private readonly counts: Record<Outcome, number> = { ok: 0, fail: 0, info: 0 };
  private completedAtLastTick = 0;
  private lastTickMs = Date.now();
  private opsPerSecond = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly faults = new Map<number, string>();
  /** On a terminal the line is redrawn in place; in CI logs a line every few seconds is enough. */
  private readonly interactive = process.stderr.isTTY === true;

  private startedMs = Date.now();

  constructor(private readonly timeLimitS: number) {}

  completed(outcome: Outcome): void {
    this.counts[outcome] += 1;
  }

  faultStarted(id: number, description: string): void {
    this.faults.set(id, description);
  }

  faultHealed(id: number): void {
    this.faults.delete(id);
  }

  start(): void {
    this.startedMs = Date.now();
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
    const elapsed = Math.min((Date.now() - this.startedMs) / 1000, this.timeLimitS).toFixed(0);
    const faults = this.faults.size === 0 ? 'no faults' : `faults: ${[...this.faults.values()].join('; ')}`;
    return `${elapsed}/${this.timeLimitS}s  ${this.opsPerSecond.toFixed(0)} ops/s  ${total} ops: ${this.counts.ok} ok, ${this.counts.fail} fail, ${this.counts.info} info  ${faults}`;
  }

  private tick(): void {
    const now = Date.now();
    const total = this.counts.ok + this.counts.fail + this.counts.info;
    this.opsPerSecond = ((total - this.completedAtLastTick) * 1000) / Math.max(1, now - this.lastTickMs);
    this.completedAtLastTick = total;
    this.lastTickMs = now;
    process.stderr.write(this.interactive ? `\r\x1b[2K${this.line()}` : `${this.line()}\n`);
  }
}
