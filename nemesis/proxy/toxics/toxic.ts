/**
 * What a toxic is (Toxiproxy's model, docs/proxy-api.md): one small type, registered by name, whose stages sit in
 * the chain of one direction of one connection. A stage receives the chunks the previous stage let through and
 * passes on what it wants, when it wants; the last stage's output is the destination socket. Toxics are added to
 * and removed from the chains of open connections too, so a stage can be asked at any time to hand over what it
 * holds (`flush`), in order.
 *
 * The ZooKeeper-aware toxics (zk.ts) are not chain stages: they act on whole frames where the proxy reads them,
 * before any chain.
 */
import { z } from 'zod';

export const STREAMS = ['upstream', 'downstream'] as const;
/** upstream: client → server; downstream: server → client (Toxiproxy's names). */
export type StreamName = (typeof STREAMS)[number];

/** Where a stage sends what it lets through: the next stage, or the destination socket. */
export interface StageOutput {
  write(bytes: Buffer): void;
  /** No more bytes in this direction: at the destination socket this is its close (a FIN). */
  end(): void;
}

export interface StageContext {
  /** The current next hop; it changes when a toxic after this one is added or removed. */
  readonly output: StageOutput;
  /** Resets the whole connection now (an RST to both sides). */
  reset(reason: string): void;
  /** Uniform in [0, 1), from the proxy's seeded stream. */
  random(): number;
  /** The stage released or dropped bytes it held: the connection may read from its source again. */
  released(): void;
}

export interface Stage {
  write(chunk: Buffer): void;
  /** The previous hop has no more bytes. A stage passes the end on once it has passed on what came before it. */
  end(): void;
  /** Bytes held right now (for flow control). */
  held(): number;
  /** The toxic leaves this chain: pass on everything held, in order (and the end, when it came). */
  flush(): void;
  /** The connection is gone: stop timers, forget what is held. */
  destroy(): void;
}

/** A toxic type: its attributes with their defaults (Toxiproxy's zero values), and how to make a stage. */
export interface StreamToxic<A extends object = Record<string, unknown>> {
  readonly kind: 'stream';
  readonly type: string;
  /** The attributes a request may give; an absent one keeps its current (or default) value. */
  readonly attributes: z.ZodType<Partial<A>>;
  readonly defaults: A;
  /** Removing it closes the stream instead of letting it go on (timeout: the bytes it dropped are gone). */
  readonly closesOnRemoval?: boolean;
  /** State kept per connection and direction across updates of the toxic (limit_data counts bytes sent). */
  newState?(): unknown;
  stage(attributes: A, context: StageContext, state: unknown): Stage;
}

/** Toxiproxy's attributes are Go int64 fields: whole numbers, any sign. */
export const int64 = () => z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** A stage that lets everything through unchanged; also what a toxic is on a connection its toxicity spared. */
export function passThrough(context: StageContext): Stage {
  return {
    write: (chunk) => context.output.write(chunk),
    end: () => context.output.end(),
    held: () => 0,
    flush: () => undefined,
    destroy: () => undefined,
  };
}
