import type { Cluster, NodeId, NodeStatus } from './types.ts';

/**
 * Polls `probe` until it returns a value other than undefined; throws after `timeoutMs` with `what` and the last
 * observation, so a failing wait says what it saw.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; describe?: () => Promise<string> },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const seen = options.describe ? `; last seen: ${await options.describe()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

export function describeStatus(statuses: readonly NodeStatus[]): string {
  return statuses.map((node) => `zk${node.id}=${node.mode}${node.state === 'running' ? '' : `(${node.state})`}`).join(' ');
}

/**
 * Waits until the cluster's status satisfies `accept` and returns that status (the last one seen goes into the
 * timeout error).
 */
export async function waitForStatus(
  cluster: Pick<Cluster, 'status'>,
  what: string,
  accept: (statuses: NodeStatus[]) => boolean,
  timeoutMs: number,
): Promise<NodeStatus[]> {
  let last: NodeStatus[] = [];
  return waitUntil(
    what,
    async () => {
      last = await cluster.status();
      return accept(last) ? last : undefined;
    },
    { timeoutMs, describe: async () => describeStatus(last) },
  );
}

/** Leaders in a status: `standalone` counts, since a one-node ensemble leads itself. */
export function leadersIn(statuses: readonly NodeStatus[]): NodeStatus[] {
  return statuses.filter((node) => node.mode === 'leader' || node.mode === 'standalone');
}

/** Exactly one leader and every running node serving: a settled ensemble. */
export function isSettled(statuses: readonly NodeStatus[]): boolean {
  return (
    leadersIn(statuses).length === 1 &&
    statuses.every((node) => node.state !== 'running' || node.mode !== 'not-serving')
  );
}

/**
 * The leader clients follow: of the nodes that say they lead, the one with the newest zxid. An isolated old
 * leader may still say so for a moment after the majority elected another.
 */
export function newestLeader(statuses: readonly NodeStatus[]): NodeId | undefined {
  const zxid = (node: NodeStatus): bigint => BigInt(node.zxid ?? '0x0');
  const leaders = leadersIn(statuses).sort((a, b) => (zxid(b) > zxid(a) ? 1 : zxid(b) < zxid(a) ? -1 : 0));
  return leaders[0]?.id;
}
