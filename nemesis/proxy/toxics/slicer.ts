/**
 * slicer: cuts every chunk into pieces of about `average_size` bytes (± `size_variation`), `delay` µs apart.
 * Bytes stay intact and in order; only where the reader sees chunk boundaries changes.
 */
import { z } from 'zod';
import { TimedQueue } from './timed-queue.ts';
import { int64, type StreamToxic } from './toxic.ts';

export interface SlicerAttributes {
  average_size: number;
  size_variation: number;
  delay: number;
}

/** Offsets [start, end) of the pieces: halves, recursively, until a piece is within the variation of the average. */
function slices(start: number, end: number, attributes: SlicerAttributes, random: () => number, into: [number, number][]): void {
  const { average_size: average, size_variation: variation } = attributes;
  if (end - start - average <= variation || end - start <= 1) {
    into.push([start, end]);
    return;
  }
  let middle = start + Math.floor((end - start) / 2);
  if (variation > 0) middle += Math.floor(random() * 2 * variation) - variation;
  middle = Math.min(end - 1, Math.max(start + 1, middle));
  slices(start, middle, attributes, random, into);
  slices(middle, end, attributes, random, into);
}

export const slicer: StreamToxic<SlicerAttributes> = {
  kind: 'stream',
  type: 'slicer',
  attributes: z.object({ average_size: int64(), size_variation: int64(), delay: int64() }).partial(),
  defaults: { average_size: 0, size_variation: 0, delay: 0 },
  stage: (attributes, context) => new TimedQueue(context, (chunk, nowMs, lastDueMs) => {
    const pieces: [number, number][] = [];
    slices(0, chunk.length, attributes, () => context.random(), pieces);
    const gapMs = Math.max(0, attributes.delay) / 1000;
    let dueMs = Math.max(nowMs, lastDueMs);
    return pieces.map(([start, end], index) => {
      if (index > 0) dueMs += gapMs;
      return { dueMs, bytes: chunk.subarray(start, end) };
    });
  }),
};
