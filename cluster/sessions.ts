/** What the ensemble itself says about sessions, for the runner's snapshots. */
import { formatSessionId } from '../ground/history.ts';
import type { Cluster } from './types.ts';

/** Live sessions that own ephemeral nodes, from `dump` on the leader ("0x10000abc:" lines). */
export async function liveSessions(cluster: Cluster): Promise<string[]> {
  const leader = await cluster.leader();
  if (leader === undefined) throw new Error('no leader to ask for live sessions');
  const dump = await cluster.fourLetterWord(leader, 'dump');
  const sessions = new Set<string>();
  for (const match of dump.matchAll(/^\s*(0x[0-9a-f]+)\s*:?\s*$/gim)) sessions.add(formatSessionId(match[1]!));
  return [...sessions].sort();
}
