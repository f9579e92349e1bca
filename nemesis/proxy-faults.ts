/**
 * Faults aimed at one lock operation, through the ZooKeeper-aware proxy: the seed bugs made deterministic.
 * Each arms a one-shot rule and waits (up to one interval) for a client's request to match it.
 */
import type { ArmedFault, FaultFilter, ProxyEvent, ProxyHandle } from './proxy/client.ts';
import { requireCapability } from './server-faults.ts';
import type { Fault, Nemesis, NemesisContext, PlanSettings } from './types.ts';

const LOCK_CREATES = ['create', 'create2', 'createContainer', 'createTTL'];

type Arm = (proxy: ProxyHandle, filter: FaultFilter) => Promise<ArmedFault>;

/** Arms a fault on the next lock operation of `ops`, waits for it to apply; disarms it if nothing matched in time. */
async function firstMatch(context: NemesisContext, arm: Arm, ops: string[]): Promise<ProxyEvent | undefined> {
  const armed = await arm(context.proxy, { ops, pathPrefix: `${context.lockRoot}/` });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), context.intervalMs);
  });
  const event = await Promise.race([armed.applied, timeout]);
  clearTimeout(timer);
  if (event === undefined) await armed.disarm();
  return event;
}

/** The event as fault parameters: the proxy's own clock reading means nothing in the history. */
const asValue = ({ monotonicNs: _clock, ...event }: ProxyEvent): Record<string, unknown> => event;

const frame = (event: ProxyEvent): string =>
  `${event.op ?? 'request'} ${event.path ?? ''} from ${event.clientHost ?? '?'} to zk${event.server ?? '?'}`;

/** A one-shot fault: over once it has hit its request, so nothing is left to heal. */
function oneShot(name: string, arm: Arm, ops: string[], describe: (event: ProxyEvent) => string): Nemesis {
  return {
    name,
    needs: ['zookeeper-aware-proxy'],
    plan: () => ({ target: { next: 'request' }, durationMs: 0 }),
    async apply(_plan, context): Promise<Fault | undefined> {
      const event = await firstMatch(context, arm, ops);
      if (event === undefined) return undefined;
      return { description: describe(event), value: asValue(event), heal: async () => undefined };
    },
  };
}

/** Pathology P3: the create commits on the server, its reply is lost, the connection resets. */
export const lostReply = oneShot('lost-reply', (proxy, filter) => proxy.armLostReply(filter), LOCK_CREATES,
  (event) => `dropped the reply to ${frame(event)}${event.zxid === undefined ? '' : ` (zxid ${event.zxid})`}`);

/** Pathology P1: a cleanup or release delete never reaches the server, the connection resets. */
export const lostDelete = oneShot('lost-delete', (proxy, filter) => proxy.armLostRequest(filter), ['delete'],
  (event) => `swallowed ${frame(event)}`);

/** A lock create reaches server S; S is killed before its reply gets out. Restarted at heal. */
export const killMidCreate: Nemesis = {
  name: 'kill-mid-create',
  needs: ['kill', 'zookeeper-aware-proxy'],
  plan: (_random, settings: PlanSettings) => ({ target: { next: 'request' }, durationMs: settings.faultDurationMs ?? settings.intervalMs }),
  async apply(_plan, context) {
    const cluster = requireCapability(context.cluster, 'kill');
    const event = await firstMatch(context, (proxy, filter) => proxy.armHoldReply(filter), LOCK_CREATES);
    if (event?.server === undefined) return undefined;
    const server = event.server;
    await cluster.kill(server);
    return {
      description: `SIGKILL zk${server} holding the reply to ${frame(event)}`,
      value: { ...asValue(event), nodes: [server] },
      heal: () => cluster.restart(server),
    };
  },
};
