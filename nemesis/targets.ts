/**
 * Targets as Jepsen's nemeses choose them: one node, a minority, a majority, all, the leader, the followers. Drawing
 * happens at plan time from the nemesis stream; roles are resolved against the ensemble when the fault is applied.
 */
import type { Cluster, NodeId } from '../cluster/types.ts';
import type { Random } from '../ground/random.ts';
import type { PlannedTarget, TargetSpec } from './types.ts';

/** How many of `n` a counted target takes: a minority is the most that leaves a majority, a majority the fewest that make one. */
export function targetCount(spec: 'one' | 'minority' | 'majority' | 'all', n: number): number {
  switch (spec) {
    case 'one':
      return Math.min(1, n);
    case 'minority':
      return Math.floor((n - 1) / 2);
    case 'majority':
      return Math.floor(n / 2) + 1;
    case 'all':
      return n;
  }
}

/** Why a target cannot hit anything in an ensemble of `nodes` servers; undefined when it can. */
export function serverTargetProblem(spec: TargetSpec, nodes: number): string | undefined {
  if (spec === 'minority' && targetCount('minority', nodes) === 0) return `a minority of ${nodes} server${nodes === 1 ? '' : 's'} is no server; use 3 nodes or more`;
  if (spec === 'followers' && nodes < 2) return 'a single server has no followers';
  return undefined;
}

const byId = (a: number, b: number): number => a - b;

/**
 * Servers to hit. `one` keeps the suite's first behaviour: half of the time the leader, otherwise any server (losing
 * the leader is the interesting case, not the only one). Every spec draws the same amount whatever it decides, so
 * the stream stays aligned.
 */
export function drawServers(random: Random, spec: TargetSpec, nodeIds: readonly NodeId[]): PlannedTarget {
  const leaderTurn = random.chance(0.5);
  const order = random.shuffle(nodeIds);
  switch (spec) {
    case 'one':
      return leaderTurn ? { role: 'leader' } : { nodes: [order[0]!] };
    case 'minority':
    case 'majority':
    case 'all':
      return { nodes: order.slice(0, targetCount(spec, nodeIds.length)).sort(byId) };
    case 'leader':
    case 'followers':
      return { role: spec };
  }
}

/** Client hosts to hit: a counted share of them, at least one (leader and followers mean one for client hosts). */
export function drawWorkers(random: Random, spec: TargetSpec, workers: readonly string[]): PlannedTarget {
  const counted = spec === 'leader' || spec === 'followers' ? 'one' : spec;
  const count = Math.max(1, targetCount(counted, workers.length));
  return { workers: random.shuffle(workers).slice(0, count).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) };
}

export interface ResolvedServers {
  nodes: NodeId[];
  leader: NodeId | undefined;
}

/** The servers a planned target names now; no nodes when a role has nobody in it (no leader elected). */
export async function resolveServers(target: PlannedTarget, cluster: Cluster): Promise<ResolvedServers> {
  const leader = await cluster.leader();
  if ('nodes' in target) return { nodes: target.nodes, leader };
  if (!('role' in target)) throw new Error(`not a server target: ${JSON.stringify(target)}`);
  if (leader === undefined) return { nodes: [], leader };
  return { nodes: target.role === 'leader' ? [leader] : cluster.nodeIds.filter((id) => id !== leader), leader };
}

/** "zk2 (the leader)", "zk1, zk3": servers for people. */
export function describeServers({ nodes, leader }: ResolvedServers): string {
  return nodes.map((id) => `zk${id}${id === leader ? ' (the leader)' : ''}`).join(', ');
}
