/** latency: every chunk waits `latency` ms, plus or minus up to `jitter` ms (uniform), order kept. */
import { z } from 'zod';
import { TimedQueue } from './timed-queue.ts';
import { int64, type StreamToxic } from './toxic.ts';

export interface LatencyAttributes {
  latency: number;
  jitter: number;
}

export const latency: StreamToxic<LatencyAttributes> = {
  kind: 'stream',
  type: 'latency',
  attributes: z.object({ latency: int64(), jitter: int64() }).partial(),
  defaults: { latency: 0, jitter: 0 },
  stage: ({ latency: delayMs, jitter }, context) => new TimedQueue(context, (bytes, nowMs) => {
    const offset = jitter > 0 ? Math.floor(context.random() * 2 * jitter) - jitter : 0;
    return [{ dueMs: nowMs + delayMs + offset, bytes }];
  }),
};
