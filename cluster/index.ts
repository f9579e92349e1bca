/**
 * The entry point of cluster/: `createCluster` picks a backend by name. Backends register in BACKENDS.
 */
import { ClusterError } from './errors.ts';
import { ExternalCluster } from './external.ts';
import { LocalCluster } from './local.ts';
import type { Cluster } from './types.ts';
import type { ZooKeeperVersion } from './zookeeper.ts';

export interface CreateClusterOptions {
  /** Default 'local'; 'auto' is docker when a daemon answers, else local (see resolveBackend). */
  backend?: Cluster['backend'] | 'auto';
  /** Number of servers; default 3. */
  nodes?: number;
  /** ZooKeeper tickTime in ms; default 200. */
  tickTimeMs?: number;
  /** The run's directory: node data and logs go to <runDir>/nodes/zk<N>/. */
  runDir: string;
  /** CIDR of the cluster's private network; by default a free /24 of 10.213.0.0/16. */
  subnet?: string;
  /** backend external: the servers, "host:port,host:port,...". */
  connect?: string;
  /** The servers' version (local and docker); default 3.8.0, Debian's. 3.9.6 is fetched into the project's cache. */
  zkVersion?: ZooKeeperVersion;
}

type ResolvedOptions = Required<Pick<CreateClusterOptions, 'nodes' | 'tickTimeMs' | 'runDir'>> &
  Pick<CreateClusterOptions, 'subnet' | 'connect' | 'zkVersion'>;

/** Backend name → factory. The docker backend loads on demand: testcontainers takes a second or two to import. */
const BACKENDS: Partial<Record<Cluster['backend'], (options: ResolvedOptions) => Cluster | Promise<Cluster>>> = {
  local: (options) => new LocalCluster(options),
  docker: async (options) => new (await import('./docker.ts')).DockerCluster(options),
  external: (options) => {
    if (options.connect === undefined) throw new ClusterError('--backend external needs --connect host:port[,host:port...]');
    return new ExternalCluster(options.connect);
  },
};

export const DEFAULT_NODES = 3;
export const DEFAULT_TICK_TIME_MS = 200;

/** `--backend auto`: docker when a daemon answers, else local. */
export async function resolveBackend(backend: Cluster['backend'] | 'auto'): Promise<Cluster['backend']> {
  if (backend !== 'auto') return backend;
  const { dockerDaemonAnswers } = await import('./docker-client.ts');
  return (await dockerDaemonAnswers()) ? 'docker' : 'local';
}

/** Creates a cluster handle; nothing runs until `start()`. Call `teardown()` when done (signals do it too). */
export async function createCluster(options: CreateClusterOptions): Promise<Cluster> {
  const backend = await resolveBackend(options.backend ?? 'local');
  const factory = BACKENDS[backend];
  if (factory === undefined) throw new Error(`cluster backend '${backend}' is not available`);
  return factory({
    nodes: options.nodes ?? DEFAULT_NODES,
    tickTimeMs: options.tickTimeMs ?? DEFAULT_TICK_TIME_MS,
    runDir: options.runDir,
    ...(options.subnet === undefined ? {} : { subnet: options.subnet }),
    ...(options.connect === undefined ? {} : { connect: options.connect }),
    ...(options.zkVersion === undefined ? {} : { zkVersion: options.zkVersion }),
  });
}

export type { Cluster, Grudge, NodeId, NodeMode, NodeStatus, ServerAddress } from './types.ts';
export { DEFAULT_ZOOKEEPER_VERSION, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from './zookeeper.ts';
