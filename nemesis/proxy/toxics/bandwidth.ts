/**
 * bandwidth: at most `rate` KB/s (1 KB = 1000 bytes), chunks larger than 100 ms' worth leave in 100 ms pieces;
 * rate 0 (or less) lets nothing through until the toxic is removed.
 */
import { z } from 'zod';
import { TimedQueue } from './timed-queue.ts';
import { int64, type StreamToxic } from './toxic.ts';

const PIECE_MS = 100;

export const bandwidth: StreamToxic<{ rate: number }> = {
  kind: 'stream',
  type: 'bandwidth',
  attributes: z.object({ rate: int64() }).partial(),
  defaults: { rate: 0 },
  stage: ({ rate }, context) => new TimedQueue(context, (chunk, nowMs, lastDueMs) => {
    if (rate <= 0) return [{ dueMs: Infinity, bytes: chunk }];
    const pieceBytes = rate * PIECE_MS;
    const pieces: { dueMs: number; bytes: Buffer }[] = [];
    let dueMs = Math.max(nowMs, lastDueMs);
    for (let offset = 0; offset < chunk.length; offset += pieceBytes) {
      const bytes = chunk.subarray(offset, Math.min(chunk.length, offset + pieceBytes));
      dueMs += bytes.length / rate; // bytes per ms = KB/s
      pieces.push({ dueMs, bytes });
    }
    return pieces;
  }, 0, { stopped: rate <= 0 }),
};
