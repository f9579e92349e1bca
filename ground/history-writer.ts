/**
 * Streams the history to results/<run>/history.jsonl as things happen. Each line goes to the kernel at once
 * (writeSync), so a crash or SIGKILL of the runner keeps everything recorded up to then.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { HistoryLine } from './history.ts';

export class HistoryWriter {
  private fd: number | undefined;
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
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
