/** slow_close: bytes pass; the end of the stream (the close) is passed on `delay` ms late. */
import { z } from 'zod';
import { TimedQueue } from './timed-queue.ts';
import { int64, type StreamToxic } from './toxic.ts';

export const slowClose: StreamToxic<{ delay: number }> = {
  kind: 'stream',
  type: 'slow_close',
  attributes: z.object({ delay: int64() }).partial(),
  defaults: { delay: 0 },
  stage: ({ delay }, context) => new TimedQueue(context, (bytes, nowMs) => [{ dueMs: nowMs, bytes }], Math.max(0, delay)),
};
