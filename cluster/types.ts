/**
 * The cluster interface: what the rest of the suite may do to a ZooKeeper ensemble, whatever runs it
 * (local network namespaces, Docker containers). Node ids are ZooKeeper's myid, 1-based.
 */
export type NodeId = number;

export type NodeMode = 'leader' | 'follower' | 'observer' | 'standalone' | 'not-serving';

export interface NodeStatus {
  id: NodeId;
  /** Process state as the backend knows it. */
  state: 'running' | 'killed' | 'paused';
  /** From `srvr`; not-serving when it answers "not currently serving requests" or does not answer. */
  mode: NodeMode;
  /** Last zxid the node reports, "0x" + hex, when it answers. */
  zxid?: string;
}

export interface ServerAddress {
  host: string;
  port: number;
}

/** A grudge: node → the nodes whose traffic it drops (Jepsen's word). Nodes absent from it drop nothing. */
export type Grudge = Map<NodeId, NodeId[]>;

export interface ClusterOptions {
  /** Number of servers; default 3. */
  nodes: number;
  /** ZooKeeper tickTime in ms; default 200, so sessions span 0.4 s – 4 s and faults cycle fast. */
  tickTimeMs: number;
  /** The run's directory: node data and logs go to <runDir>/nodes/zk<N>/. */
  runDir: string;
}

/** Every backend: start, stop and remove the ensemble, and say where its servers are. */
export interface Lifecycle {
  readonly backend: string;
  readonly nodeIds: readonly NodeId[];
  /** Starts every server; resolves once a leader is elected and every node serves. */
  start(): Promise<void>;
  /** Stops every server, keeping data directories and logs. */
  stop(): Promise<void>;
  /** Stops everything and removes every resource the cluster created. Safe to call twice. */
  teardown(): Promise<void>;
  clientAddress(id: NodeId): ServerAddress;
  /** "host:port,host:port,..." of every server, straight (not through the proxy). */
  connectString(): string;
  /** Path of each node's ZooKeeper log (none for servers the suite does not own). */
  logFiles(): Map<NodeId, string>;
}

/** Every backend: what the servers say of themselves. */
export interface Status {
  status(): Promise<NodeStatus[]>;
  leader(): Promise<NodeId | undefined>;
  /** Sends a four-letter word (srvr, mntr, dump, cons, ...) and returns the answer; throws when the node does not answer. */
  fourLetterWord(id: NodeId, word: string): Promise<string>;
}

/** SIGKILL a server, and start it again on its own data directory (same myid, same dataDir). */
export interface KillRestart {
  kill(id: NodeId): Promise<void>;
  restart(id: NodeId): Promise<void>;
}

/** Freeze a server and thaw it. */
export interface Pause {
  /** How this backend freezes, for people: "SIGSTOP", "docker pause". */
  readonly pauseVerb: string;
  pause(id: NodeId): Promise<void>;
  resume(id: NodeId): Promise<void>;
}

/** Cut servers off from each other. */
export interface Partition {
  /** Replaces the partition in force by the one this grudge describes. */
  partition(grudge: Grudge): Promise<void>;
  heal(): Promise<void>;
}

/** What a backend may be able to do to its servers beyond lifecycle and status, by name. */
export interface Capabilities {
  kill: KillRestart;
  pause: Pause;
  partition: Partition;
}
export type Capability = keyof Capabilities;

/** An ensemble as the rest of the suite holds it; `capable` says which of the Capabilities it also has. */
export type Cluster = Lifecycle & Status;

const CAPABILITY_PROBES: { [C in Capability]: keyof Capabilities[C] } = { kill: 'kill', pause: 'pause', partition: 'partition' };

/** Whether the cluster can do `capability`: it implements that interface. */
export function capable<C extends Capability>(cluster: Cluster, capability: C): cluster is Cluster & Capabilities[C] {
  return typeof (cluster as unknown as Record<string, unknown>)[CAPABILITY_PROBES[capability]] === 'function';
}

/** The capabilities a cluster has, in a fixed order. */
export function capabilitiesOf(cluster: Cluster): Capability[] {
  return (Object.keys(CAPABILITY_PROBES) as Capability[]).filter((capability) => capable(cluster, capability));
}
