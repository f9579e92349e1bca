/** Facts about lock node names: where their sequence number is and whether a GUID protects them. */
import type { LockChild } from '../ground/history.ts';

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}/i;
const SEQUENCE = /(\d+)$/;

/** Kazoo's `uuid4().hex` prefix or Curator's protected-mode `_c_<uuid>-`, if the name carries one. */
export function guidOf(name: string): string | null {
  return GUID.exec(name)?.[0] ?? null;
}

/** ZooKeeper's sequential suffix: the order of the queue. */
function sequenceOf(name: string): number {
  const match = SEQUENCE.exec(name);
  return match === null ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** The child at the head of the lock's queue (lowest sequence), or null for an empty lock. */
export function lowestChild(children: readonly LockChild[]): LockChild | null {
  let lowest: LockChild | null = null;
  for (const child of children) {
    if (lowest === null || sequenceOf(child.name) < sequenceOf(lowest.name)) lowest = child;
  }
  return lowest;
}

/** A persistent node has no owner session; ZooKeeper writes its owner as 0. */
export const PERSISTENT_OWNER = '0x0';
