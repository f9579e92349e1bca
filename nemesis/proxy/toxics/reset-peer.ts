/**
 * reset_peer: when the next bytes arrive (they are dropped), waits `timeout` ms, then resets the connection: both
 * sides get an RST ("connection reset by peer").
 */
import { z } from 'zod';
import { int64, type StreamToxic } from './toxic.ts';

export const resetPeer: StreamToxic<{ timeout: number }> = {
  kind: 'stream',
  type: 'reset_peer',
  attributes: z.object({ timeout: int64() }).partial(),
  defaults: { timeout: 0 },
  stage: ({ timeout: afterMs }, context) => {
    let timer: NodeJS.Timeout | undefined;
    let triggered = false;
    const trigger = (): void => {
      if (triggered) return;
      triggered = true;
      timer = setTimeout(() => context.reset('reset_peer'), Math.max(0, afterMs));
    };
    return {
      write: trigger,
      end: trigger,
      held: () => 0,
      flush: () => undefined,
      destroy: () => clearTimeout(timer),
    };
  },
};
