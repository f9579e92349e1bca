/**
 * timeout: nothing gets through (bytes are dropped); after `timeout` ms the stream is closed, and with timeout 0
 * it stays silent until the toxic is removed. Removing it closes the stream too: the bytes it dropped are gone,
 * so the connection could not go on.
 */
import { z } from 'zod';
import { int64, type StreamToxic } from './toxic.ts';

export const timeout: StreamToxic<{ timeout: number }> = {
  kind: 'stream',
  type: 'timeout',
  attributes: z.object({ timeout: int64() }).partial(),
  defaults: { timeout: 0 },
  closesOnRemoval: true,
  stage: ({ timeout: afterMs }, context) => {
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      context.output.end();
    };
    const timer = afterMs > 0 ? setTimeout(close, afterMs) : undefined;
    return {
      write: () => undefined,
      end: close,
      held: () => 0,
      flush: close,
      destroy: () => clearTimeout(timer),
    };
  },
};
