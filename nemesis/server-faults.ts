/** Faults of ZooKeeper servers: kill (SIGKILL, restart later), pause (freeze, thaw), partition (iptables). */
import { complete, describeGrudge } from '../cluster/grudge.ts';
import { capable, type Capabilities, type Capability, type Cluster, type NodeId } from '../cluster/types.ts';
import { describeServers, drawServers, resolveServers } from './targets.ts';
import type { Draw, Nemesis, PlanSettings } from './types.ts';
import type { Random } from '../ground/random.ts';

/** The cluster as a capability of it; the runner refuses a nemesis whose needs the backend lacks, so this holds. */
export function requireCapability<C extends Capability>(cluster: Cluster, capability: C): Cluster & Capabilities[C] {
  if (!capable(cluster, capability)) throw new Error(`the ${cluster.backend} backend cannot ${capability} servers`);
  return cluster;
}

/** Server faults stay one nemesis interval unless --fault-duration says otherwise. */
const planServers = (random: Random, settings: PlanSettings): Draw => ({
  target: drawServers(random, settings.target, settings.nodeIds),
  durationMs: settings.faultDurationMs ?? settings.intervalMs,
});

function serverProcessFault<C extends 'kill' | 'pause'>(
  name: C,
  verb: (cluster: Cluster & Capabilities[C]) => string,
  apply: (cluster: Cluster & Capabilities[C], id: NodeId) => Promise<void>,
  undo: (cluster: Cluster & Capabilities[C], id: NodeId) => Promise<void>,
): Nemesis {
  return {
    name,
    needs: [name],
    plan: planServers,
    async apply(plan, context) {
      const cluster = requireCapability(context.cluster, name);
      const servers = await resolveServers(plan.target, cluster);
      if (servers.nodes.length === 0) return undefined;
      for (const id of servers.nodes) await apply(cluster, id);
      return {
        description: `${verb(cluster)} ${describeServers(servers)}`,
        value: { nodes: servers.nodes, leader: servers.leader ?? null },
        heal: async () => {
          for (const id of servers.nodes) await undo(cluster, id);
        },
      };
    },
  };
}

export const kill = serverProcessFault('kill', () => 'SIGKILL', (c, id) => c.kill(id), (c, id) => c.restart(id));
// Docker freezes a container with the cgroup freezer, not a signal: the history says which it was.
export const pause = serverProcessFault('pause', (c) => c.pauseVerb, (c, id) => c.pause(id), (c, id) => c.resume(id));

/**
 * Servers only (clients always reach every server): the target's servers on one side, the rest on the other, each
 * side whole; `all` cuts every server off from every other, so no side has a quorum.
 */
export const partition: Nemesis = {
  name: 'partition',
  needs: ['partition'],
  plan: planServers,
  async apply(plan, context) {
    const cluster = requireCapability(context.cluster, 'partition');
    const servers = await resolveServers(plan.target, cluster);
    const cut = new Set(servers.nodes);
    const rest = cluster.nodeIds.filter((id) => !cut.has(id));
    const sides = rest.length === 0 ? cluster.nodeIds.map((id) => [id]) : [servers.nodes, rest];
    if (servers.nodes.length === 0 || sides.length < 2) return undefined;
    const grudge = complete(sides);
    await cluster.partition(grudge);
    return {
      description: `partition servers ${sides.map((side) => `{${side.map((id) => `zk${id}`).join(',')}}`).join(' | ')}: ${describeGrudge(grudge)}`,
      value: { nodes: servers.nodes, sides, leader: servers.leader ?? null, grudge: Object.fromEntries([...grudge].map(([node, dropped]) => [`zk${node}`, dropped])) },
      heal: () => cluster.heal(),
    };
  },
};
