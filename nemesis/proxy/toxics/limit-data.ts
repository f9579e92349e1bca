/**
 * limit_data: lets `bytes` bytes through on the connection and direction, then closes the stream. The count
 * survives updates of the toxic, as Toxiproxy's does.
 */
import { z } from 'zod';
import { int64, type StreamToxic } from './toxic.ts';

interface Sent {
  bytes: number;
}

export const limitData: StreamToxic<{ bytes: number }> = {
  kind: 'stream',
  type: 'limit_data',
  attributes: z.object({ bytes: int64() }).partial(),
  defaults: { bytes: 0 },
  newState: (): Sent => ({ bytes: 0 }),
  stage: ({ bytes: limit }, context, state) => {
    const sent = state as Sent;
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      context.output.end();
    };
    return {
      write: (chunk) => {
        if (closed) return;
        const allowed = Math.max(0, limit - sent.bytes);
        const passed = allowed < chunk.length ? chunk.subarray(0, allowed) : chunk;
        if (passed.length > 0) {
          context.output.write(passed);
          sent.bytes += passed.length;
        }
        if (limit - sent.bytes <= 0) close();
      },
      end: close,
      held: () => 0,
      flush: () => undefined,
      destroy: () => undefined,
    };
  },
};
