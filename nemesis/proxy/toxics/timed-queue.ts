/**
 * Bytes (and the end of the stream) released in order, each at its due time: what latency, bandwidth, slicer and
 * slow_close have in common. Due times never go backwards, so order is kept whatever each item's delay.
 */
import { performance } from 'node:perf_hooks';
import type { Stage, StageContext } from './toxic.ts';

interface Item {
  dueMs: number;
  /** undefined: the end of the stream. */
  bytes: Buffer | undefined;
}

export class TimedQueue implements Stage {
  private readonly items: Item[] = [];
  private heldBytes = 0;
  private lastDueMs = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Releasing is stopped: items wait until flushed (bandwidth with rate 0). */
  private readonly stopped: boolean;

  constructor(
    private readonly context: StageContext,
    /** When a chunk arriving now may leave, given the due time of the one before it; pieces if it is split. */
    private readonly schedule: (chunk: Buffer, nowMs: number, lastDueMs: number) => { dueMs: number; bytes: Buffer }[],
    /** How long after the last byte the end may follow. */
    private readonly endDelayMs = 0,
    options: { stopped?: boolean } = {},
  ) {
    this.stopped = options.stopped ?? false;
  }

  write(chunk: Buffer): void {
    for (const piece of this.schedule(chunk, performance.now(), this.lastDueMs)) this.push(piece.dueMs, piece.bytes);
  }

  end(): void {
    this.push(Math.max(performance.now() + this.endDelayMs, this.lastDueMs), undefined);
  }

  held(): number {
    return this.heldBytes;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const item of this.items.splice(0)) this.emit(item);
    this.heldBytes = 0;
  }

  destroy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.items.length = 0;
    this.heldBytes = 0;
  }

  private push(dueMs: number, bytes: Buffer | undefined): void {
    const due = Math.max(dueMs, this.lastDueMs);
    this.lastDueMs = due;
    if (this.items.length === 0 && !this.stopped && due <= performance.now()) {
      this.emit({ dueMs: due, bytes });
      return;
    }
    this.items.push({ dueMs: due, bytes });
    this.heldBytes += bytes?.length ?? 0;
    if (this.timer === undefined && !this.stopped) this.arm();
  }

  private arm(): void {
    const next = this.items[0];
    if (next === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      let released = false;
      while (this.items[0] !== undefined && this.items[0].dueMs <= now) {
        const item = this.items.shift()!;
        this.heldBytes -= item.bytes?.length ?? 0;
        this.emit(item);
        released = true;
      }
      this.arm();
      if (released) this.context.released();
    }, Math.max(0, next.dueMs - performance.now()));
  }

  private emit(item: Item): void {
    if (item.bytes === undefined) this.context.output.end();
    else this.context.output.write(item.bytes);
  }
}
