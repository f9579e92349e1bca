/** Faults of ZooKeeper servers: kill (SIGKILL, restart later), pause (SIGSTOP, SIGCONT), partition (iptables). */
import type { Cluster, NodeId } from '../cluster/types.ts';
import { describeGrudge, isolate, randomHalves } from '../cluster/grudge.ts';
import type { Fault, Nemesis, NemesisContext } from './types.ts';

/** Half of the time the leader, otherwise any server: losing the leader is the interesting case, not the only one. */
async function pickServer(context: NemesisContext): Promise<{ id: NodeId; leader: boolean }> {
  const leader = await context.cluster.leader();
  if (leader !== undefined && context.random.chance(0.5)) return { id: leader, leader: true };
  const id = context.random.pick(context.cluster.nodeIds);
  return { id, leader: id === leader };
}

function serverProcessFault(
  name: 'kill' | 'pause',
  verb: (cluster: Cluster) => string,
  apply: (cluster: Cluster, id: NodeId) => Promise<void>,
  undo: (cluster: Cluster, id: NodeId) => Promise<void>,
): Nemesis {
  return {
    name,
    async start(context): Promise<Fault> {
      const target = await pickServer(context);
      await apply(context.cluster, target.id);
      return {
        description: `${verb(context.cluster)} zk${target.id}${target.leader ? ' (the leader)' : ''}`,
        value: { node: target.id, leader: target.leader },
        durationMs: context.intervalMs,
        heal: () => undo(context.cluster, target.id),
      };
    },
  };
}

export const kill = serverProcessFault('kill', () => 'SIGKILL', (c, id) => c.kill(id), (c, id) => c.restart(id));
// Docker freezes a container with the cgroup freezer, not a signal: the history says which it was.
export const pause = serverProcessFault(
  'pause',
  (cluster) => (cluster.backend === 'docker' ? 'docker pause' : 'SIGSTOP'),
  (c, id) => c.pause(id),
  (c, id) => c.resume(id),
);

/** Servers only: isolate the leader, or cut the ensemble into random halves. */
export const partition: Nemesis = {
  name: 'partition',
  async start(context) {
    const { cluster, random } = context;
    const leader = await cluster.leader();
    const grudge = leader !== undefined && random.chance(0.5)
      ? isolate(cluster.nodeIds, leader)
      : randomHalves(cluster.nodeIds, () => random.float());
    await cluster.partition(grudge);
    const description = describeGrudge(grudge);
    return {
      description: `partition servers: ${description}`,
      value: { grudge: Object.fromEntries([...grudge].map(([node, dropped]) => [`zk${node}`, dropped])), leader },
      durationMs: context.intervalMs,
      heal: () => cluster.heal(),
    };
  },
};
