/**
 * Which toxic types each nemesis on the client path adds (through ProxyHandle), so that a run against a Toxiproxy
 * server refuses, before it starts, a nemesis that needs one of this project's ZooKeeper-aware toxics.
 */
import { EXTENSION_TYPES } from './toxics/registry.ts';

export const NEMESIS_TOXICS: Readonly<Record<string, readonly string[]>> = {
  'partition-clients': ['timeout'],
  'kill-mid-create': ['zk_hold_reply'],
  'lost-reply': ['zk_lost_reply'],
  'lost-delete': ['zk_lost_request'],
};

/** One line naming every nemesis of the list that a Toxiproxy server cannot serve; undefined when it can serve them all. */
export function toxiproxyRefusal(nemeses: readonly string[]): string | undefined {
  const needing = nemeses.flatMap((nemesis) => {
    const extensions = (NEMESIS_TOXICS[nemesis] ?? []).filter((type) => EXTENSION_TYPES.includes(type));
    return extensions.length === 0 ? [] : [`${nemesis} (${extensions.join(', ')})`];
  });
  if (needing.length === 0) return undefined;
  return `--nemesis ${needing.join(', ')} needs this project's ZooKeeper-aware toxics, which a Toxiproxy server does not have; run ${needing.length === 1 ? 'it' : 'them'} without --toxiproxy.`;
}
