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

export interface Cluster {
  readonly backend: 'local' | 'docker' | 'external';
  readonly nodeIds: readonly NodeId[];
  /** Starts every server; resolves once a leader is elected and every node serves. */
  start(): Promise<void>;
  /** Stops every server, keeping data directories and logs. */
  stop(): Promise<void>;
  /** Stops everything and removes every resource the cluster created. Safe to call twice. */
  teardown(): Promise<void>;

  kill(id: NodeId): Promise<void>;
  /** Starts a killed node again on its own data directory (same myid, same dataDir). */
  restart(id: NodeId): Promise<void>;
  pause(id: NodeId): Promise<void>;
  resume(id: NodeId): Promise<void>;

  /** Replaces the partition in force by the one this grudge describes. */
  partition(grudge: Grudge): Promise<void>;
  heal(): Promise<void>;

  status(): Promise<NodeStatus[]>;
  leader(): Promise<NodeId | undefined>;
  /** Sends a four-letter word (srvr, mntr, dump, cons, ...) and returns the answer; throws when the node does not answer. */
  fourLetterWord(id: NodeId, word: string): Promise<string>;

  clientAddress(id: NodeId): ServerAddress;
  /** "host:port,host:port,..." of every server, straight (not through the proxy). */
  connectString(): string;
  /** Path of each node's ZooKeeper log. */
  logFiles(): Map<NodeId, string>;
}
