/** Small phrases shared by the explanations, so every anomaly reads the same way. */
import type { HoldWindow, Nanos, NodeOwner, ResourceWrite } from './types.ts';

/** Seconds since the run started, as a person reads a timeline. */
export function at(time: Nanos): string {
  return `${(time / 1e9).toFixed(6)} s`;
}

/** Short spans matter (an overlap of microseconds is still two holders), so the unit follows the size. */
export function duration(ns: Nanos): string {
  if (ns < 1e6) return `${(ns / 1e3).toFixed(0)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(3)} s`;
}

export function holder(window: HoldWindow): string {
  const details = [
    ...(window.access === null ? [] : [`${window.access} side`]),
    `session ${window.session ?? 'unknown'}`,
    `node ${window.node ?? 'unknown'}`,
    `token ${window.token ?? 'none'}`,
  ];
  return `${window.client} (${details.join(', ')})`;
}

export function owner(owner: NodeOwner): string {
  return owner.client === null ? `session ${owner.session} (no client known)` : `session ${owner.session} (client ${owner.client})`;
}

export function write(write: ResourceWrite): string {
  const token = write.token !== null ? `token ${write.token}` : write.implicitToken !== null ? `no token, hold began ${at(write.implicitToken)}` : 'no token';
  return `${write.client}'s write of ${write.value} (${token}) at ${at(write.time)}`;
}
