/**
 * Several fault proxies, one per client host, as the one ProxyHandle the nemeses and the runner hold. Link faults
 * (partition, heal, latency, reset) go to the proxies of the client hosts they name, or to all. A one-shot fault
 * without a client host is armed on one proxy, the next in turn (the first fault on the first host's, the second
 * on the second's, ...): arming it on every proxy and disarming the others once one applied would let two hosts'
 * requests matching within one round trip both be hit, where the fault means exactly one. Events carry each
 * proxy's clock translated to this machine's (its measured offset), so the history's times stay on one clock.
 */
import type {
  ArmedFault, ConnectionInfo, DisarmOutcome, FaultFilter, LatencyRequest, LinkSelector, PartitionRequest, ProxyEvent, ProxyHandle, SessionLocation,
} from '../nemesis/proxy/client.ts';

export interface GroupMember {
  proxy: ProxyHandle;
  /** The proxy host's CLOCK_MONOTONIC minus this machine's, in nanoseconds. */
  clockOffsetNs: bigint;
}

type Arm = (proxy: ProxyHandle, filter: FaultFilter) => Promise<ArmedFault>;

export class ProxyGroup implements ProxyHandle {
  private armed = 0;
  private nextFaultId = 1;
  private readonly faults = new Map<number, ArmedFault>();

  /** `memberOf(clientHost)`: the index of the proxy a client host's workers sit beside. */
  constructor(private readonly members: readonly GroupMember[], private readonly memberOf: (clientHost: string) => number | undefined) {
    if (members.length === 0) throw new Error('a proxy group needs a proxy');
  }

  /** The first proxy's API, as this machine reaches it; each member has its own. */
  get url(): string {
    return this.members[0]!.proxy.url;
  }

  /** The proxies run on other hosts: no process of this machine is theirs. */
  readonly pid = undefined;

  /** Every member is the project's proxy, started on its host: the ZooKeeper-aware faults are there. */
  get zkAware(): boolean {
    return this.members.every((member) => member.proxy.zkAware);
  }

  private member(clientHost: string): GroupMember {
    const index = this.memberOf(clientHost);
    const member = index === undefined ? undefined : this.members[index];
    if (member === undefined) throw new Error(`no proxy for client host ${clientHost}`);
    return member;
  }

  private translate(member: GroupMember, event: ProxyEvent): ProxyEvent {
    return member.clockOffsetNs === 0n ? event : { ...event, monotonicNs: String(BigInt(event.monotonicNs) - member.clockOffsetNs) };
  }

  /** Each member with the client hosts of `names` that sit beside it (all of them, with undefined, when names is). */
  private split(names: readonly string[] | undefined): { member: GroupMember; clientHosts: string[] | undefined }[] {
    if (names === undefined) return this.members.map((member) => ({ member, clientHosts: undefined }));
    return this.members
      .map((member) => ({ member, clientHosts: names.filter((name) => this.member(name) === member) }))
      .filter((part) => part.clientHosts.length > 0);
  }

  private async each<R extends { clientHosts?: string[] }>(request: R, call: (proxy: ProxyHandle, request: R) => Promise<unknown>): Promise<unknown[]> {
    return Promise.all(this.split(request.clientHosts).map(({ member, clientHosts }) =>
      call(member.proxy, clientHosts === undefined ? request : { ...request, clientHosts })));
  }

  async addClientHost(name: string): Promise<string> {
    return this.member(name).proxy.addClientHost(name);
  }

  async partition(request: PartitionRequest = {}): Promise<void> {
    await this.each(request, (proxy, part) => proxy.partition(part));
  }

  async heal(selector: LinkSelector = {}): Promise<void> {
    await this.each(selector, (proxy, part) => proxy.heal(part));
  }

  async setLatency(request: LatencyRequest): Promise<void> {
    await this.each(request, (proxy, part) => proxy.setLatency(part));
  }

  async reset(selector: LinkSelector = {}): Promise<number> {
    const counts = await this.each(selector, (proxy, part) => proxy.reset(part));
    return (counts as number[]).reduce((sum, count) => sum + count, 0);
  }

  armLostReply(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm((proxy, part) => proxy.armLostReply(part), filter);
  }

  armLostRequest(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm((proxy, part) => proxy.armLostRequest(part), filter);
  }

  armHoldReply(filter: FaultFilter = {}): Promise<ArmedFault> {
    return this.arm((proxy, part) => proxy.armHoldReply(part), filter);
  }

  private async arm(arm: Arm, filter: FaultFilter): Promise<ArmedFault> {
    const member = filter.clientHost === undefined ? this.members[this.armed++ % this.members.length]! : this.member(filter.clientHost);
    const fault = await arm(member.proxy, filter);
    // The group's own ids: two proxies number their faults alike.
    const id = this.nextFaultId++;
    this.faults.set(id, fault);
    return { id, applied: fault.applied.then((event) => event && this.translate(member, event)), disarm: () => this.disarm(id) };
  }

  async disarm(faultId: number): Promise<DisarmOutcome> {
    const fault = this.faults.get(faultId);
    return fault === undefined ? 'finished' : fault.disarm();
  }

  async healAll(): Promise<void> {
    await Promise.all(this.members.map((member) => member.proxy.healAll()));
  }

  async sessionServer(session: string): Promise<SessionLocation | undefined> {
    const found = await Promise.all(this.members.map((member) => member.proxy.sessionServer(session)));
    return found.find((location) => location !== undefined);
  }

  async connections(): Promise<ConnectionInfo[]> {
    return (await Promise.all(this.members.map((member) => member.proxy.connections()))).flat();
  }

  onEvent(listener: (event: ProxyEvent) => void): () => void {
    const unsubscribers = this.members.map((member) => member.proxy.onEvent((event) => listener(this.translate(member, event))));
    return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.proxy.close()));
  }
}
