/**
 * The docker backend: every ZooKeeper server is a container on one user-defined network per cluster, at a fixed
 * address of a subnet no host route uses, so host processes (clients, the fault proxy) reach each server by its
 * container IP. Partitions are iptables rules inside the containers (they run with NET_ADMIN); kill is a SIGKILL of
 * ZooKeeper, the container's main process; pause is `docker pause` (the cgroup freezer).
 *
 * testcontainers creates and starts the containers and runs commands in them; dockerode does what testcontainers
 * has no API for (a network with a chosen subnet, kill, pause, inspect, removal by label). testcontainers' reaper
 * image cannot be pulled where no registry is reachable, so it is off by default and ownership lives in our own
 * labels: the owner's pid, start time and host. The start-up sweep removes the clusters whose owner is gone.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { dockerClient as docker, dockerDaemonAnswers } from './docker-client.ts';
import { buildImages, imageExists, SERVER_IMAGE } from './docker-images.ts';
import { ClusterError } from './errors.ts';
import { validateOptions } from './local.ts';
import { claimSubnet, names, newClusterId, processStartTime } from './resources.ts';
import { formatSubnet, freePoolSubnets, hostAddress, nodeAddress, parseSubnet, refuseOverlap, type Subnet } from './subnet.ts';
import type { Cluster, Grudge, KillRestart, NodeId, NodeStatus, Partition, Pause } from './types.ts';
import { LABEL, removeDockerCluster, sweepDockerClusters } from './docker-resources.ts';
import { OwnedEnsemble } from './ensemble.ts';
import { startReaper, type Reaper } from './reaper.ts';
import { isSettled, waitForStatus, waitUntil } from './wait.ts';
import {
  DEFAULT_ZOOKEEPER_VERSION,
  prepareZooKeeper,
  serverJarMounts,
  zooConfig,
  type ZooKeeperVersion,
} from './zookeeper.ts';

export interface DockerClusterOptions {
  nodes: number;
  tickTimeMs: number;
  runDir: string;
  /** CIDR such as 10.213.7.0/24; by default a free /24 of 10.213.0.0/16. */
  subnet?: string;
  /** The server's version; default 3.8.0 (the image's). Others: their jars are fetched into the project's cache and mounted over the image's. */
  zkVersion?: ZooKeeperVersion;
  /** Left running after this process exits (`npm run cluster -- up`): no reaper; only `down` or the next `up` removes it. */
  detached?: boolean;
}

/** Where each container mounts its node directory (<runDir>/nodes/zk<N>); see images/zookeeper/entrypoint.sh. */
const NODE_MOUNT = '/zk';
/** Container start plus JVM start plus election, on two shared cores; the bound only catches a stuck start. */
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_S = 10;
const STATE_CHANGE_TIMEOUT_MS = 10_000;

/** testcontainers joins a container to a network, but not at a fixed address; ours must survive restarts. */
class ZooKeeperContainer extends GenericContainer {
  withFixedAddress(networkName: string, ipv4Address: string): this {
    this.createOpts.NetworkingConfig = { EndpointsConfig: { [networkName]: { IPAMConfig: { IPv4Address: ipv4Address } } } };
    return this.withNetworkMode(networkName);
  }
}

interface DockerNode {
  id: NodeId;
  dir: string;
  container?: StartedTestContainer;
  /** The partition in force could not be applied (the container was paused or down): apply it when it runs. */
  rulesPending: boolean;
}

export class DockerCluster extends OwnedEnsemble<DockerNode> implements Cluster, KillRestart, Pause, Partition {
  readonly backend = 'docker';
  readonly pauseVerb = 'docker pause';
  readonly id: string;
  readonly nodeIds: readonly NodeId[];
  protected readonly nodes: Map<NodeId, DockerNode>;
  protected subnet: Subnet | undefined;
  private grudge: Grudge = new Map();
  private reaper: Reaper | undefined;

  constructor(private readonly options: DockerClusterOptions) {
    super();
    validateOptions(options);
    this.id = newClusterId();
    this.nodeIds = Array.from({ length: options.nodes }, (_, index) => index + 1);
    this.nodes = new Map(
      this.nodeIds.map((id) => [id, { id, dir: resolve(options.runDir, 'nodes', `zk${id}`), rulesPending: false }]),
    );
  }

  async start(): Promise<void> {
    const fresh = this.subnet === undefined;
    try {
      if (fresh) {
        await this.create();
        // Settle every start before a failure tears down, or a container created after teardown's look would stay.
        const starts = await Promise.allSettled([...this.nodes.values()].map((node) => this.startContainer(node)));
        const failed = starts.find((result) => result.status === 'rejected');
        if (failed) throw failed.reason;
      } else {
        // After stop(): the same containers on the same data.
        for (const id of this.nodeIds) {
          if ((await this.containerState(id)) === 'killed') await this.restart(id);
        }
      }
      await waitForStatus(this, 'a leader with every node serving', isSettled, START_TIMEOUT_MS);
    } catch (error) {
      // A cluster that never came up is of no use to anyone; its logs stay in the run directory.
      if (fresh) await this.teardown();
      throw error;
    }
  }

  /** First start: check Docker and the image, sweep dead clusters, then the network and the node directories. */
  private async create(): Promise<void> {
    if (!(await dockerDaemonAnswers())) {
      throw new ClusterError('no Docker daemon answers; start one (as root: npm run setup -- docker) or use --backend local');
    }
    await prepareZooKeeper(this.options.zkVersion ?? DEFAULT_ZOOKEEPER_VERSION);
    if (!(await imageExists(SERVER_IMAGE))) {
      console.error(`cluster: ${SERVER_IMAGE} is missing; building it (npm run images; about a minute the first time)`);
      await buildImages();
    }
    // Our labels, sweep and reaper do the job of testcontainers' reaper, whose image cannot be pulled without a registry.
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    await sweepDockerClusters();
    if (!this.options.detached) this.reaper = await startReaper({ backend: 'docker', clusterId: this.id, runDir: this.options.runDir });
    this.subnet = await this.createNetwork();
    const servers = new Map(this.nodeIds.map((id) => [id, nodeAddress(this.subnet!, id)]));
    const config = zooConfig({ tickTimeMs: this.options.tickTimeMs, dataDir: `${NODE_MOUNT}/data`, servers });
    for (const node of this.nodes.values()) {
      // A fresh ensemble starts empty even in a reused run directory; restarts later keep the data.
      await rm(node.dir, { recursive: true, force: true });
      await mkdir(node.dir, { recursive: true });
      await writeFile(join(node.dir, 'zoo.cfg'), config);
    }
  }

  private async ownerLabels(): Promise<Record<string, string>> {
    return {
      [LABEL.cluster]: this.id,
      [LABEL.ownerPid]: String(process.pid),
      [LABEL.ownerStartTime]: (await processStartTime(process.pid)) ?? '',
      [LABEL.ownerHost]: hostname(),
      ...(this.options.detached ? { [LABEL.detached]: 'true' } : {}),
    };
  }

  /**
   * A bridge network on the requested subnet, or on the first free /24 of the pool that Docker accepts (another
   * cluster may take one between our look at the routes and the create). The gateway is the host's address on it.
   */
  private async createNetwork(): Promise<Subnet> {
    const candidates = this.options.subnet === undefined ? await freePoolSubnets() : [parseSubnet(this.options.subnet)];
    if (this.options.subnet !== undefined) await refuseOverlap(candidates[0]!);
    const labels = await this.ownerLabels();
    for (const subnet of candidates) {
      // As root, hold the local backend's claim on the subnet until its route exists (then the route guards it).
      const claimed = process.getuid?.() !== 0 || (await claimSubnet(subnet, this.id));
      if (!claimed) continue;
      try {
        await docker().createNetwork({
          Name: `${this.id}-net`,
          Driver: 'bridge',
          CheckDuplicate: true,
          IPAM: { Config: [{ Subnet: formatSubnet(subnet), Gateway: hostAddress(subnet) }] },
          Labels: labels,
        });
        return subnet;
      } catch (error) {
        const overlap = /overlap/i.test(String((error as Error).message));
        if (!overlap || this.options.subnet !== undefined) {
          throw new ClusterError(`docker network on ${formatSubnet(subnet)}: ${dockerMessage(error)}`);
        }
      } finally {
        if (process.getuid?.() === 0) await rm(names.subnetClaim(subnet), { force: true });
      }
    }
    throw new ClusterError('no free /24 left in 10.213.0.0/16 that Docker accepts; pass a subnet explicitly');
  }

  private async startContainer(node: DockerNode): Promise<void> {
    const subnet = this.requireSubnet();
    node.container = await new ZooKeeperContainer(SERVER_IMAGE)
      .withName(`${this.id}-zk${node.id}`)
      .withLabels({ ...(await this.ownerLabels()), [LABEL.node]: String(node.id) })
      .withFixedAddress(`${this.id}-net`, nodeAddress(subnet, node.id))
      // ZooKeeper runs as the invoking user, so the node directory stays theirs to read and remove; iptables
      // (applyRules) runs as root.
      .withUser(`${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`)
      .withAddedCapabilities('NET_ADMIN')
      .withEnvironment({ ZK_MYID: String(node.id) })
      .withBindMounts([
        { source: node.dir, target: NODE_MOUNT, mode: 'rw' },
        ...serverJarMounts(this.options.zkVersion ?? DEFAULT_ZOOKEEPER_VERSION).map((mount) => ({ ...mount, mode: 'ro' as const })),
      ])
      .start();
  }

  private dockerContainer(id: NodeId): Docker.Container {
    const container = this.node(id).container;
    if (container === undefined) throw new ClusterError(`zk${id} has no container: cluster ${this.id} is not started`);
    return docker().getContainer(container.getId());
  }

  private async containerState(id: NodeId): Promise<NodeStatus['state']> {
    const { State } = await this.dockerContainer(id).inspect();
    return State.Paused ? 'paused' : State.Running ? 'running' : 'killed';
  }

  private async waitForState(id: NodeId, state: NodeStatus['state']): Promise<void> {
    await waitUntil(`zk${id} ${state}`, async () => ((await this.containerState(id)) === state ? true : undefined), {
      timeoutMs: STATE_CHANGE_TIMEOUT_MS,
      intervalMs: 20,
    });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodeIds.map(async (id) => {
        if (this.node(id).container === undefined) return;
        const state = await this.containerState(id);
        if (state === 'paused') await this.dockerContainer(id).unpause();
        if (state !== 'killed') await this.dockerContainer(id).stop({ t: STOP_GRACE_S }).catch(ignoreNotModified);
        this.node(id).rulesPending = this.grudge.size > 0;
      }),
    );
  }

  async teardown(): Promise<void> {
    await removeDockerCluster(this.id);
    for (const node of this.nodes.values()) delete node.container;
    this.reaper?.stop();
    this.reaper = undefined;
  }

  async kill(id: NodeId): Promise<void> {
    // ZooKeeper is the container's main process: the container stops with it, its data stays on the mount.
    // Docker thaws a paused container to deliver the signal, as SIGKILL reaches a SIGSTOPped process.
    await this.dockerContainer(id).kill({ signal: 'SIGKILL' });
    await this.waitForState(id, 'killed');
    // The container's network namespace, and the partition rules in it, die with it.
    this.node(id).rulesPending = this.grudge.size > 0;
  }

  async restart(id: NodeId): Promise<void> {
    if ((await this.containerState(id)) !== 'killed') await this.kill(id);
    await this.dockerContainer(id).start();
    await this.applyPendingRules(id);
  }

  async pause(id: NodeId): Promise<void> {
    await this.dockerContainer(id).pause();
  }

  async resume(id: NodeId): Promise<void> {
    await this.dockerContainer(id).unpause();
    await this.applyPendingRules(id);
  }

  async partition(grudge: Grudge): Promise<void> {
    for (const [id, dropped] of grudge) [id, ...dropped].forEach((nodeId) => this.node(nodeId));
    this.grudge = grudge;
    await Promise.all(
      this.nodeIds.map(async (id) => {
        // `docker exec` refuses paused and stopped containers: those get the rules when they run again.
        if ((await this.containerState(id)) === 'running') await this.applyRules(id);
        else this.node(id).rulesPending = true;
      }),
    );
  }

  async heal(): Promise<void> {
    await this.partition(new Map());
  }

  /** Replaces the node's INPUT chain by the partition in force; the container's namespace is ours alone. */
  private async applyRules(id: NodeId): Promise<void> {
    const subnet = this.requireSubnet();
    const drops = (this.grudge.get(id) ?? []).map((source) => `iptables -w -A INPUT -s ${nodeAddress(subnet, source)} -j DROP`);
    const script = ['iptables -w -F INPUT', ...drops].join(' && ');
    const result = await this.node(id).container!.exec(['sh', '-c', script], { user: 'root' });
    if (result.exitCode !== 0) throw new Error(`zk${id}: ${script}: ${result.output.trim()}`);
    this.node(id).rulesPending = false;
  }

  private async applyPendingRules(id: NodeId): Promise<void> {
    if (this.node(id).rulesPending) await this.applyRules(id);
  }

  async status(): Promise<NodeStatus[]> {
    return Promise.all(this.nodeIds.map((id) => this.nodeStatus(id)));
  }

  private async nodeStatus(id: NodeId): Promise<NodeStatus> {
    // Docker's view is the truth: a server that died on its own stopped its container and shows as killed.
    const state = await this.containerState(id);
    if (state !== 'running') return { id, state, mode: 'not-serving' };
    return this.runningStatus(id);
  }

}

function dockerMessage(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  return json?.message ?? (error instanceof Error ? error.message : String(error));
}

/** Stopping a container that already stopped. */
function ignoreNotModified(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode !== 304) throw error;
}
