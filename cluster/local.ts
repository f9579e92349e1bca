/**
 * The local backend: every ZooKeeper server runs in its own network namespace, attached by a veth pair to a
 * private bridge on which the host keeps an address, so host processes (clients, the fault proxy) reach every
 * server while partitions are iptables rules inside the namespaces.
 */
import { spawn } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { classArchive, type ClassArchive } from './class-archive.ts';
import { ClusterError } from './errors.ts';
import { commandPath, run, runIn } from './exec.ts';
import {
  claimSubnet,
  isStopped,
  names,
  newClusterId,
  processStartTime,
  removeCluster,
  serverPids,
  signal,
  sweep,
  waitForExit,
  writeState,
  type ClusterState,
} from './resources.ts';
import {
  checkCapacity,
  formatSubnet,
  freePoolSubnets,
  hostAddress,
  nodeAddress,
  parseSubnet,
  refuseOverlap,
  type Subnet,
} from './subnet.ts';
import type { Cluster, Grudge, KillRestart, NodeId, NodeStatus, Partition, Pause } from './types.ts';
import { OwnedEnsemble } from './ensemble.ts';
import { startReaper, type Reaper } from './reaper.ts';
import { isSettled, waitForStatus } from './wait.ts';
import {
  DEFAULT_ZOOKEEPER_VERSION,
  ZOOKEEPER_CLASSPATH,
  javaArguments,
  prepareZooKeeper,
  serverClasspath,
  zooConfig,
  type ZooKeeperVersion,
} from './zookeeper.ts';

export interface LocalClusterOptions {
  nodes: number;
  tickTimeMs: number;
  runDir: string;
  /** CIDR such as 10.213.7.0/24; by default a free /24 of 10.213.0.0/16. */
  subnet?: string;
  /** The server's version; default 3.8.0 (the system's). Others are fetched into the project's cache at start. */
  zkVersion?: ZooKeeperVersion;
  /** Left running after this process exits (`npm run cluster -- up`): no reaper; only `down` or the next `up` removes it. */
  detached?: boolean;
}

/** On two shared cores, three JVMs starting and electing can take a while; the bound only catches a stuck start. */
const START_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;

interface LocalNode {
  id: NodeId;
  namespace: string;
  veth: string;
  dir: string;
  pid?: number;
}

export function checkRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new ClusterError('the local cluster needs root (network namespaces and iptables); run as root');
  }
}

/** Root, java, ZooKeeper's jars, ip and iptables: each missing one is reported as one line. */
export async function checkPrerequisites(): Promise<void> {
  checkRoot();
  for (const command of ['java', 'ip', 'iptables']) {
    if (commandPath(command) === null) {
      throw new ClusterError(`'${command}' not found on PATH; run scripts/setup.sh (or npm run setup) as root`);
    }
  }
  for (const jar of ZOOKEEPER_CLASSPATH.split(':')) {
    if (!(await access(jar).then(() => true, () => false))) {
      throw new ClusterError(`${jar} is missing; install Debian's zookeeper package (npm run setup)`);
    }
  }
}

export function validateOptions(options: LocalClusterOptions): void {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 50) {
    throw new ClusterError(`nodes must be an integer from 1 to 50, got ${options.nodes}`);
  }
  if (!Number.isInteger(options.tickTimeMs) || options.tickTimeMs < 10) {
    throw new ClusterError(`tick time must be an integer of at least 10 ms, got ${options.tickTimeMs}`);
  }
  if (options.subnet !== undefined) checkCapacity(parseSubnet(options.subnet), options.nodes);
}

export class LocalCluster extends OwnedEnsemble<LocalNode> implements Cluster, KillRestart, Pause, Partition {
  readonly backend = 'local';
  readonly pauseVerb = 'SIGSTOP';
  readonly id: string;
  readonly nodeIds: readonly NodeId[];
  protected readonly nodes: Map<NodeId, LocalNode>;
  protected subnet: Subnet | undefined;
  private reaper: Reaper | undefined;
  private archive: ClassArchive | undefined;
  /** The server recording the class archive, if one is. */
  private recorder: NodeId | undefined;

  constructor(
    private readonly options: LocalClusterOptions,
    existing?: { id: string; subnet: string; pids: Map<NodeId, number> },
  ) {
    super();
    validateOptions(options);
    this.id = existing?.id ?? newClusterId();
    this.subnet = existing ? parseSubnet(existing.subnet) : undefined;
    this.nodeIds = Array.from({ length: options.nodes }, (_, index) => index + 1);
    this.nodes = new Map(
      this.nodeIds.map((id) => [
        id,
        {
          id,
          namespace: names.namespace(this.id, id),
          veth: names.veth(this.id, id),
          dir: resolve(options.runDir, 'nodes', `zk${id}`),
          ...(existing?.pids.has(id) ? { pid: existing.pids.get(id)! } : {}),
        },
      ]),
    );
  }

  private get zkVersion(): ZooKeeperVersion {
    return this.options.zkVersion ?? DEFAULT_ZOOKEEPER_VERSION;
  }

  /** A handle on a cluster another process started (the CLI's detached cluster), for status and teardown. */
  static async attach(state: ClusterState): Promise<LocalCluster> {
    if (state.subnet === undefined) throw new ClusterError(`cluster ${state.id} never finished starting`);
    const options = { nodes: state.nodes, tickTimeMs: state.tickTimeMs, runDir: state.runDir };
    return new LocalCluster(options, { id: state.id, subnet: state.subnet, pids: await serverPids(state.id) });
  }

  async start(): Promise<void> {
    const fresh = this.subnet === undefined;
    try {
      if (fresh) await this.create();
      for (const node of this.nodes.values()) {
        if (node.pid === undefined) this.spawnServer(node);
      }
      await waitForStatus(this, 'a leader with every node serving', isSettled, START_TIMEOUT_MS);
    } catch (error) {
      // A cluster that never came up is of no use to anyone: remove it now rather than at the next sweep.
      // Its logs stay in the run directory.
      if (fresh) await this.teardown();
      throw error;
    }
  }

  /** First start: sweep dead clusters, record ownership, claim a subnet, build the network and the node dirs. */
  private async create(): Promise<void> {
    await checkPrerequisites();
    await prepareZooKeeper(this.zkVersion);
    await sweep();
    // The state file exists before any resource does, so a crash at any later point leaves a findable owner, and
    // the reaper watches that owner from now on.
    await this.recordState();
    if (!this.options.detached) this.reaper = await startReaper({ backend: 'local', clusterId: this.id, runDir: this.options.runDir });
    this.subnet = await this.claimSubnet();
    await this.recordState();
    await this.createNetwork(this.subnet);
    const servers = new Map(this.nodeIds.map((id) => [id, nodeAddress(this.subnet!, id)]));
    for (const node of this.nodes.values()) {
      // A fresh ensemble starts empty even in a reused run directory; restarts later keep the data.
      await rm(node.dir, { recursive: true, force: true });
      await mkdir(join(node.dir, 'data'), { recursive: true });
      await writeFile(join(node.dir, 'data', 'myid'), `${node.id}\n`);
      const config = zooConfig({ tickTimeMs: this.options.tickTimeMs, dataDir: join(node.dir, 'data'), servers });
      await writeFile(join(node.dir, 'zoo.cfg'), config);
    }
  }

  private async recordState(): Promise<void> {
    await writeState({
      id: this.id,
      ownerPid: process.pid,
      ownerStartTime: (await processStartTime(process.pid))!,
      detached: this.options.detached ?? false,
      ...(this.subnet === undefined ? {} : { subnet: formatSubnet(this.subnet) }),
      nodes: this.options.nodes,
      tickTimeMs: this.options.tickTimeMs,
      runDir: resolve(this.options.runDir),
    });
  }

  private async claimSubnet(): Promise<Subnet> {
    if (this.options.subnet !== undefined) {
      const subnet = parseSubnet(this.options.subnet);
      await refuseOverlap(subnet);
      if (!(await claimSubnet(subnet, this.id))) {
        throw new ClusterError(`subnet ${formatSubnet(subnet)} is claimed by another cluster that is starting`);
      }
      return subnet;
    }
    for (const subnet of await freePoolSubnets()) {
      if (await claimSubnet(subnet, this.id)) return subnet;
    }
    throw new ClusterError('no free /24 left in 10.213.0.0/16; pass a subnet explicitly');
  }

  private async createNetwork(subnet: Subnet): Promise<void> {
    const bridge = names.bridge(this.id);
    const prefix = `/${subnet.prefixLength}`;
    await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', hostAddress(subnet) + prefix, 'dev', bridge]);
    await run('ip', ['link', 'set', bridge, 'up']);
    // With Docker installed the FORWARD policy is DROP and bridged traffic between namespaces would die.
    await run('iptables', ['-w', '-I', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT', ...this.comment()]);
    for (const node of this.nodes.values()) {
      await run('ip', ['netns', 'add', node.namespace]);
      await run('ip', ['link', 'add', node.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.namespace]);
      await run('ip', ['link', 'set', node.veth, 'master', bridge, 'up']);
      await run('ip', ['-n', node.namespace, 'addr', 'add', nodeAddress(subnet, node.id) + prefix, 'dev', 'eth0']);
      await run('ip', ['-n', node.namespace, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', node.namespace, 'link', 'set', 'lo', 'up']);
    }
  }

  private comment(): string[] {
    return ['-m', 'comment', '--comment', this.id];
  }

  private spawnServer(node: LocalNode): void {
    const output = openSync(join(node.dir, 'stdout.log'), 'a');
    this.archive ??= classArchive(serverClasspath(this.zkVersion));
    const { options: jvmOptions, records } = this.archive.next();
    if (records) this.recorder = node.id;
    const args = javaArguments({
      markers: names.markers(this.id, node.id),
      nodeDir: node.dir,
      configFile: join(node.dir, 'zoo.cfg'),
      version: this.zkVersion,
      jvmOptions,
    });
    // `ip netns exec` execs java in place, so the child's pid is the server's. Detached: a Ctrl-C aimed at the
    // test must reach our cleanup, not kill servers behind its back; unref: the CLI's `up` exits and leaves them.
    const child = spawn('ip', ['netns', 'exec', node.namespace, 'java', ...args], {
      detached: true,
      stdio: ['ignore', output, output],
    });
    closeSync(output);
    child.unref();
    child.on('error', (error) => console.error(`zk${node.id}: ${error.message}`));
    node.pid = child.pid;
  }

  private runningPid(id: NodeId): number {
    const pid = this.node(id).pid;
    if (pid === undefined) throw new ClusterError(`zk${id} is not running`);
    return pid;
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.nodes.values()].map(async (node) => {
        if (node.pid === undefined) return;
        signal(node.pid, 'SIGTERM');
        signal(node.pid, 'SIGCONT');
        await waitForExit(node.pid, STOP_GRACE_MS).catch(async () => {
          signal(node.pid!, 'SIGKILL');
          await waitForExit(node.pid!, STOP_GRACE_MS);
        });
        delete node.pid;
        if (node.id === this.recorder) this.settleArchive();
      }),
    );
  }

  async teardown(): Promise<void> {
    await this.stopRecorder();
    this.reaper?.stop();
    this.reaper = undefined;
    await removeCluster(this.id);
    for (const node of this.nodes.values()) delete node.pid;
  }

  async kill(id: NodeId): Promise<void> {
    const pid = this.runningPid(id);
    signal(pid, 'SIGKILL');
    await waitForExit(pid, STOP_GRACE_MS);
    delete this.node(id).pid;
    if (id === this.recorder) this.settleArchive();
  }

  /** The recording server writes its archive only on a clean exit: SIGTERM it before the sweep's SIGKILL. */
  private async stopRecorder(): Promise<void> {
    const pid = this.recorder === undefined ? undefined : this.node(this.recorder).pid;
    if (pid === undefined) return;
    signal(pid, 'SIGTERM');
    signal(pid, 'SIGCONT');
    await waitForExit(pid, STOP_GRACE_MS).catch(() => undefined);
    this.settleArchive();
  }

  private settleArchive(): void {
    this.recorder = undefined;
    this.archive?.settle();
  }

  async restart(id: NodeId): Promise<void> {
    if (this.node(id).pid !== undefined) await this.kill(id);
    this.spawnServer(this.node(id));
  }

  async pause(id: NodeId): Promise<void> {
    signal(this.runningPid(id), 'SIGSTOP');
  }

  async resume(id: NodeId): Promise<void> {
    signal(this.runningPid(id), 'SIGCONT');
  }

  async partition(grudge: Grudge): Promise<void> {
    for (const [id, dropped] of grudge) [id, ...dropped].forEach((nodeId) => this.node(nodeId));
    await this.heal();
    for (const [id, dropped] of grudge) {
      for (const source of dropped) {
        const rule = ['-w', '-A', 'INPUT', '-s', nodeAddress(this.requireSubnet(), source), '-j', 'DROP', ...this.comment()];
        await runIn(this.node(id).namespace, 'iptables', rule);
      }
    }
  }

  async heal(): Promise<void> {
    // The namespaces are ours alone, so flushing their INPUT chain removes exactly our partition rules.
    await Promise.all([...this.nodes.values()].map((node) => runIn(node.namespace, 'iptables', ['-w', '-F', 'INPUT'])));
  }

  async status(): Promise<NodeStatus[]> {
    return Promise.all(this.nodeIds.map((id) => this.nodeStatus(id)));
  }

  private async nodeStatus(id: NodeId): Promise<NodeStatus> {
    const pid = this.node(id).pid;
    // The process table is the truth: a server that died on its own shows as killed.
    const alive = pid !== undefined && (await processStartTime(pid)) !== undefined;
    if (!alive) return { id, state: 'killed', mode: 'not-serving' };
    if (await isStopped(pid)) return { id, state: 'paused', mode: 'not-serving' };
    return this.runningStatus(id);
  }

}
