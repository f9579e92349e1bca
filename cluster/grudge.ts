/**
 * Grudges (Jepsen's word): node → the nodes whose traffic it drops. Pure helpers with Jepsen's meanings.
 */
import type { Grudge, NodeId } from './types.ts';

/** Cuts the given components off from each other: every node drops traffic from every node of another component. */
export function complete(components: readonly (readonly NodeId[])[]): Grudge {
  const grudge: Grudge = new Map();
  for (const component of components) {
    const others = components.filter((other) => other !== component).flat();
    for (const node of component) {
      if (others.length > 0) grudge.set(node, [...others].sort((a, b) => a - b));
    }
  }
  return grudge;
}

/** One node alone on one side, everyone else on the other. */
export function isolate(nodeIds: readonly NodeId[], target: NodeId): Grudge {
  if (!nodeIds.includes(target)) throw new Error(`cannot isolate node ${target}: not among ${nodeIds.join(', ')}`);
  return complete([[target], nodeIds.filter((id) => id !== target)]);
}

function shuffled(nodeIds: readonly NodeId[], random: () => number): NodeId[] {
  const order = [...nodeIds];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Jepsen's `bisect`: cut a sequence in two, the smaller half first. */
function bisect(nodeIds: readonly NodeId[]): [NodeId[], NodeId[]] {
  const cut = Math.floor(nodeIds.length / 2);
  return [nodeIds.slice(0, cut), nodeIds.slice(cut)];
}

/** The nodes shuffled and cut in two halves that cannot reach each other (the smaller half is the minority). */
export function randomHalves(nodeIds: readonly NodeId[], random: () => number): Grudge {
  return complete(bisect(shuffled(nodeIds, random)));
}

/**
 * Jepsen's `bridge`: random halves, except that the first node of the larger half, the bridge, keeps talking to
 * both sides. With 3 nodes: 1 and 3 cannot talk, 2 talks to both. Needs at least 3 nodes to cut anything.
 */
export function bridge(nodeIds: readonly NodeId[], random: () => number): Grudge {
  if (nodeIds.length < 3) throw new Error(`a bridge needs at least 3 nodes, got ${nodeIds.length}`);
  const halves = bisect(shuffled(nodeIds, random));
  const bridgeNode = halves[1][0]!;
  const grudge: Grudge = new Map();
  for (const [node, dropped] of complete(halves)) {
    if (node !== bridgeNode) grudge.set(node, dropped.filter((id) => id !== bridgeNode));
  }
  return grudge;
}

/** "1 drops 2,3; 2 drops 1; ..." in node order; "no partition" for an empty grudge. */
export function describeGrudge(grudge: Grudge): string {
  const entries = [...grudge].filter(([, dropped]) => dropped.length > 0).sort(([a], [b]) => a - b);
  if (entries.length === 0) return 'no partition';
  return entries.map(([node, dropped]) => `${node} drops ${dropped.join(',')}`).join('; ');
}
