/**
 * Streams the history to results/<run>/history.jsonl as things happen. Lines written in one turn of the event loop
 * reach the kernel together, at the end of that turn (or as soon as 64 KiB are waiting), in one write: a SIGKILL of
 * the runner loses at most the lines of the turn in progress, never a line of an earlier turn, and a crash, a signal
 * or the end of the run flushes through close(). One write per turn instead of one per line: the per-line write was
 * the runner's largest cost (docs/history-format.md, "Durability").
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { HistoryLine } from './history.ts';

/** Waiting text beyond this is written at once, so a burst never holds much in memory. */
const FLUSH_BYTES = 64 * 1024;

export class HistoryWriter {
  private fd: number | undefined;
  private pending = '';
  private flushScheduled = false;
  /** CLOCK_MONOTONIC at the start of the run: time 0 of the history. */
  readonly startNs: bigint;

  constructor(path: string, startNs: bigint = process.hrtime.bigint()) {
    this.fd = openSync(path, 'a');
    this.startNs = startNs;
  }

  /** Nanoseconds since the run started, on the runner's monotonic clock. */
  now(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }

  /** Converts a CLOCK_MONOTONIC reading of another process on this machine (the proxy's) to history time. */
  fromMonotonic(monotonicNs: bigint | string): number {
    return Number(BigInt(monotonicNs) - this.startNs);
  }

  write(line: HistoryLine): void {
    if (this.fd === undefined) return; // closed: a late answer after the end is not part of the run
    this.pending += `${JSON.stringify(line)}\n`;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Hands every waiting line to the kernel now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.fd === undefined || this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }
}
