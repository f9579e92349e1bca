/**
 * The entry point of cluster/: `createCluster` picks a backend by name from BACKENDS, where each backend says
 * which capabilities (kill, pause, partition) its servers have, so that a run can refuse a nemesis before anything
 * starts. `capable(cluster, name)` answers the same question of a cluster in hand.
 */
import { ClusterError } from './errors.ts';
import { ExternalCluster } from './external.ts';
import { LocalCluster } from './local.ts';
import type { SshOptions } from './ssh/connection.ts';
import type { Capability, Cluster } from './types.ts';
import type { ZooKeeperVersion } from './zookeeper.ts';

export interface CreateClusterOptions {
  /** Default 'local'; 'auto' is docker when a daemon answers, else local (see resolveBackend). */
  backend?: BackendName | 'auto';
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
  /** The servers' version (local, docker, ssh); default 3.8.0, Debian's. 3.9.6 is fetched into the project's cache. */
  zkVersion?: ZooKeeperVersion;
  /** backend ssh: the servers' hosts, "[user@]host[:port],...", one server each (nodes is their number). */
  hosts?: string;
  /** backend ssh: the key to use and whether to take a new host's first key. */
  ssh?: SshOptions;
}

type ResolvedOptions = Required<Pick<CreateClusterOptions, 'nodes' | 'tickTimeMs' | 'runDir'>> &
  Pick<CreateClusterOptions, 'subnet' | 'connect' | 'zkVersion' | 'hosts' | 'ssh'>;

interface Backend {
  /** What its servers can be made to suffer; `capable(cluster, ...)` agrees with it for every cluster it makes. */
  readonly capabilities: readonly Capability[];
  create(options: ResolvedOptions): Cluster | Promise<Cluster>;
}

const SERVER_FAULTS: readonly Capability[] = ['kill', 'pause', 'partition'];

/** Every backend by name. The docker and ssh backends load on demand: testcontainers takes a second or two to import. */
export const BACKENDS = {
  local: { capabilities: SERVER_FAULTS, create: (options) => new LocalCluster(options) },
  docker: { capabilities: SERVER_FAULTS, create: async (options) => new (await import('./docker.ts')).DockerCluster(options) },
  ssh: {
    capabilities: SERVER_FAULTS,
    create: async (options) => {
      if (options.hosts === undefined) throw new ClusterError('--backend ssh needs --hosts [user@]host[:port],...');
      const { SshCluster } = await import('./ssh.ts');
      return new SshCluster({
        tickTimeMs: options.tickTimeMs, runDir: options.runDir, hosts: options.hosts, ssh: options.ssh ?? {},
        ...(options.zkVersion === undefined ? {} : { zkVersion: options.zkVersion }),
      });
    },
  },
  external: {
    capabilities: [],
    create: (options) => {
      if (options.connect === undefined) throw new ClusterError('--backend external needs --connect host:port[,host:port...]');
      return new ExternalCluster(options.connect);
    },
  },
} as const satisfies Record<string, Backend>;

export type BackendName = keyof typeof BACKENDS;
export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

export const DEFAULT_NODES = 3;
export const DEFAULT_TICK_TIME_MS = 200;

/** `--backend auto`: docker when a daemon answers, else local. */
export async function resolveBackend(backend: BackendName | 'auto'): Promise<BackendName> {
  if (backend !== 'auto') return backend;
  const { dockerDaemonAnswers } = await import('./docker-client.ts');
  return (await dockerDaemonAnswers()) ? 'docker' : 'local';
}

/** Creates a cluster handle; nothing runs until `start()`. Call `teardown()` when done (signals do it too). */
export async function createCluster(options: CreateClusterOptions): Promise<Cluster> {
  const backend = await resolveBackend(options.backend ?? 'local');
  return BACKENDS[backend].create({
    nodes: options.nodes ?? DEFAULT_NODES,
    tickTimeMs: options.tickTimeMs ?? DEFAULT_TICK_TIME_MS,
    runDir: options.runDir,
    ...(options.subnet === undefined ? {} : { subnet: options.subnet }),
    ...(options.connect === undefined ? {} : { connect: options.connect }),
    ...(options.zkVersion === undefined ? {} : { zkVersion: options.zkVersion }),
    ...(options.hosts === undefined ? {} : { hosts: options.hosts }),
    ...(options.ssh === undefined ? {} : { ssh: options.ssh }),
  });
}

export { capable, capabilitiesOf } from './types.ts';
export type { Capabilities, Capability, Cluster, Grudge, KillRestart, NodeId, NodeMode, NodeStatus, Partition, Pause, ServerAddress } from './types.ts';
export { DEFAULT_ZOOKEEPER_VERSION, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from './zookeeper.ts';
