/**
 * Faults of client hosts (worker processes): freeze the worker of a lock holder past its session timeout
 * (pathology P2: the holder wakes up believing it still holds), or cut a host off from every server.
 */
import type { Nemesis } from './types.ts';

/** Past the session timeout by a margin, so the ensemble surely expires the holder's session meanwhile. */
const pastSessionTimeout = (sessionTimeoutMs: number): number => 2 * sessionTimeoutMs + 500;

export const pauseHolder: Nemesis = {
  name: 'pause-holder',
  async start(context) {
    const holders = context.holders();
    if (holders.length === 0) return undefined;
    const holder = context.random.pick(holders);
    const host = context.clientHosts.find((candidate) => candidate.name === holder.worker);
    if (host === undefined) return undefined;
    host.pause();
    return {
      description: `SIGSTOP ${host.name} while ${holder.client} holds ${holder.lock}`,
      value: { worker: host.name, client: holder.client, lock: holder.lock },
      durationMs: pastSessionTimeout(context.sessionTimeoutMs),
      heal: async () => host.resume(),
    };
  },
};

/** Black-holes one client host, half of the time for less than its session timeout, half of the time for more. */
export const partitionClients: Nemesis = {
  name: 'partition-clients',
  async start(context) {
    const host = context.random.pick(context.clientHosts);
    const longerThanSession = context.random.chance(0.5);
    const durationMs = longerThanSession ? pastSessionTimeout(context.sessionTimeoutMs) : Math.floor(context.sessionTimeoutMs / 2);
    await context.proxy.partition({ clientHosts: [host.name] });
    return {
      description: `cut ${host.name} off from every server for ${durationMs} ms (${longerThanSession ? 'longer' : 'shorter'} than its session timeout)`,
      value: { worker: host.name, durationMs, longerThanSession },
      durationMs,
      heal: () => context.proxy.heal({ clientHosts: [host.name] }),
    };
  },
};
