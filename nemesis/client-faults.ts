/**
 * Faults of client hosts (worker processes): freeze the workers of lock holders past their session timeout
 * (pathology P2: a holder wakes up believing it still holds), or cut hosts off from every server.
 */
import { createRandom } from '../ground/random.ts';
import { drawWorkers, targetCount } from './targets.ts';
import type { ClientHost, Holder, Nemesis } from './types.ts';

/** Past the session timeout by a margin, so the ensemble surely expires the holder's session meanwhile. */
const pastSessionTimeout = (sessionTimeoutMs: number): number => 2 * sessionTimeoutMs + 500;

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** The hosts of current holders, in a fixed order, so the same pick chooses the same among the same holders. */
function holderHosts(holders: readonly Holder[]): Map<string, Holder> {
  const hosts = new Map<string, Holder>();
  for (const holder of [...holders].sort((a, b) => byName(a.worker, b.worker) || byName(a.client, b.client) || byName(a.lock, b.lock))) {
    if (!hosts.has(holder.worker)) hosts.set(holder.worker, holder);
  }
  return hosts;
}

export const pauseHolder: Nemesis = {
  name: 'pause-holder',
  needs: [],
  plan(random, settings) {
    const spec = settings.target === 'leader' || settings.target === 'followers' ? 'one' : settings.target;
    return { target: { holders: spec, pick: random.float() }, durationMs: settings.faultDurationMs ?? pastSessionTimeout(settings.sessionTimeoutMs) };
  },
  async apply(plan, context) {
    if (!('holders' in plan.target)) throw new Error(`pause-holder: not a holder target: ${JSON.stringify(plan.target)}`);
    const hosts = holderHosts(context.holders());
    const count = Math.max(1, targetCount(plan.target.holders, hosts.size));
    const chosen = createRandom(Math.floor(plan.target.pick * 2 ** 31)).shuffle([...hosts.keys()]).slice(0, count).sort(byName);
    const frozen = chosen.map((name) => context.clientHosts.find((host) => host.name === name)).filter((host): host is ClientHost => host !== undefined);
    if (frozen.length === 0) return undefined;
    await Promise.all(frozen.map((host) => host.pause()));
    const held = chosen.map((name) => hosts.get(name)!);
    return {
      description: `SIGSTOP ${held.map((holder) => `${holder.worker} while ${holder.client} holds ${holder.lock}`).join(', ')}`,
      value: { workers: chosen, holders: held.map(({ client, lock }) => ({ client, lock })) },
      heal: async () => {
        await Promise.all(frozen.map((host) => host.resume()));
      },
    };
  },
};

/** Black-holes client hosts, half of the time for less than the session timeout, half of the time for more. */
export const partitionClients: Nemesis = {
  name: 'partition-clients',
  needs: [],
  plan(random, settings) {
    const target = drawWorkers(random, settings.target, settings.clientHosts);
    const longerThanSession = random.chance(0.5);
    const durationMs = settings.faultDurationMs ?? (longerThanSession ? pastSessionTimeout(settings.sessionTimeoutMs) : Math.floor(settings.sessionTimeoutMs / 2));
    return { target, durationMs, params: { longerThanSession: durationMs > settings.sessionTimeoutMs } };
  },
  async apply(plan, context) {
    if (!('workers' in plan.target)) throw new Error(`partition-clients: not a worker target: ${JSON.stringify(plan.target)}`);
    // A replay with fewer client hosts than the run it replays cuts those it still has.
    const workers = plan.target.workers.filter((name) => context.clientHosts.some((host) => host.name === name));
    if (workers.length === 0) return undefined;
    await context.proxy.partition({ clientHosts: workers });
    const longer = plan.durationMs > context.sessionTimeoutMs;
    return {
      description: `cut ${workers.join(', ')} off from every server for ${plan.durationMs} ms (${longer ? 'longer' : 'shorter'} than the session timeout)`,
      value: { workers, durationMs: plan.durationMs, longerThanSession: longer },
      heal: () => context.proxy.heal({ clientHosts: workers }),
    };
  },
};
