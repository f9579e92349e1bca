/**
 * The testbed: an ensemble, the fault proxy in front of it, the fenced resource, and worker processes (client hosts)
 * connected through the proxy — what a run, a benchmark and an integration test stand on. Workers run on this
 * machine, or on other hosts over SSH (`clientHosts`), each host with a proxy of its own beside its workers. It owns the order in
 * which all of it goes: one cleanup entry tears down workers, resource, proxy and ensemble, in that order, then
 * whatever the owner asked to run last (the runner's history end line), on a normal end and on SIGINT or SIGTERM
 * alike. A SIGKILL of the owner takes nothing down in order: the workers and the proxy leave by themselves when the
 * owner is gone, and the cluster's reaper removes the servers.
 */
import { createCluster, type Cluster, type CreateClusterOptions } from '../cluster/index.ts';
import type { SshOptions } from '../cluster/ssh/connection.ts';
import { registerCleanup } from '../ground/cleanup.ts';
import { AdminSession } from '../ground/zk-admin.ts';
import { startProxy, type ProxyHandle } from '../nemesis/proxy/client.ts';
import type { ClientHost } from '../nemesis/types.ts';
import { startFencedResource, type FencedResource, type FencedResourceOptions } from '../workloads/fenced-resource.ts';
import { WORKER_PROTOCOL_VERSION, type InitRequest, type WorkerAnswer } from '../workloads/protocol.ts';
import type { WorkerLaunch } from '../workloads/recipes.ts';
import { WorkerProcess } from '../workloads/worker-process.ts';
import { ClientHosts } from './client-hosts.ts';
import { ProxyGroup } from './proxy-group.ts';

export interface TestbedOptions {
  /** An ensemble to create and own, or one the caller owns (started, left running at teardown). */
  cluster: CreateClusterOptions | { use: Cluster };
  /** Persistent paths to create before anything connects (the lock parents). */
  paths?: readonly string[];
  /**
   * The fault proxy, its log in `logFile`, its toxicity drawn from `seed`; or, with `toxiproxy`, a Toxiproxy server
   * the user runs. Without it workers connect straight to the servers.
   */
  proxy?: { logFile: string; seed?: number; toxiproxy?: string };
  /** The fenced resource lock holders write to. */
  resource?: FencedResourceOptions;
  /**
   * Workers on these hosts over SSH instead of on this machine (client-hosts.ts), spread over them in turn, each
   * host with a fault proxy of its own; runDir receives the hosts' proxy logs.
   */
  clientHosts?: { hosts: string; ssh: SshOptions; runDir: string };
  /** Run once everything else is torn down, last, also on a signal. */
  afterTeardown?: () => void | Promise<void>;
}

export interface WorkerHostOptions {
  name: string;
  clients: readonly string[];
  launch: WorkerLaunch;
  logFile: string;
  sessionTimeoutMs: number;
  lockRoot: string;
  options?: Record<string, unknown>;
}

/**
 * A worker process as a client host. While it is frozen its clients are frozen too: they invoke nothing until it
 * thaws, as a real process paused in its critical section would, so a holder's window stays open across the pause.
 */
export class WorkerHost implements ClientHost {
  private thawed: Promise<void> = Promise.resolve();
  private thaw: (() => void) | undefined;

  constructor(readonly name: string, readonly process: WorkerProcess, readonly init: WorkerAnswer) {}

  get features(): readonly string[] {
    return this.init.features ?? [];
  }

  async pause(): Promise<void> {
    if (this.thaw !== undefined) return;
    this.thawed = new Promise((resolve) => (this.thaw = resolve));
    await this.process.signal('SIGSTOP');
  }

  async resume(): Promise<void> {
    if (this.thaw === undefined) return;
    const thaw = this.thaw;
    this.thaw = undefined;
    await this.process.signal('SIGCONT');
    thaw();
  }

  untilRunning(): Promise<void> {
    return this.thawed;
  }
}

export class Testbed {
  readonly hosts: WorkerHost[] = [];
  private cluster_: Cluster | undefined;
  private proxy_: ProxyHandle | undefined;
  private resource_: FencedResource | undefined;
  private clientHosts_: ClientHosts | undefined;
  private readonly ownsCluster: boolean;
  private readonly unregister: () => void;
  private tearingDown: Promise<void> | undefined;

  private constructor(private readonly options: TestbedOptions) {
    this.ownsCluster = !('use' in options.cluster);
    this.unregister = registerCleanup('testbed', () => this.teardown());
  }

  /** Starts what the options ask for; on failure tears down what did start (afterTeardown included) and throws. */
  static async start(options: TestbedOptions): Promise<Testbed> {
    const testbed = new Testbed(options);
    try {
      await testbed.setUp();
    } catch (error) {
      await testbed.teardown();
      throw error;
    }
    return testbed;
  }

  get cluster(): Cluster {
    if (this.cluster_ === undefined) throw new Error('the testbed has no ensemble yet');
    return this.cluster_;
  }

  get proxy(): ProxyHandle {
    if (this.proxy_ === undefined) throw new Error('this testbed has no fault proxy');
    return this.proxy_;
  }

  get resource(): FencedResource | undefined {
    return this.resource_;
  }

  private async setUp(): Promise<void> {
    const { options } = this;
    if ('use' in options.cluster) {
      this.cluster_ = options.cluster.use;
    } else {
      this.cluster_ = await createCluster(options.cluster);
      await this.cluster_.start();
    }
    if (options.paths !== undefined && options.paths.length > 0) {
      const admin = await AdminSession.connect(this.cluster.connectString());
      try {
        for (const path of options.paths) await admin.ensurePath(path);
      } finally {
        admin.close();
      }
    }
    if (options.clientHosts !== undefined) this.clientHosts_ = await ClientHosts.start(options.clientHosts);
    if (options.proxy !== undefined) {
      const cluster = this.cluster;
      const servers = new Map(cluster.nodeIds.map((id) => [id, cluster.clientAddress(id)]));
      const remote = this.clientHosts_;
      if (remote === undefined) {
        this.proxy_ = await startProxy({ servers, ...options.proxy });
      } else {
        const proxies = await remote.startProxies(servers, options.proxy.seed);
        this.proxy_ = new ProxyGroup(proxies.map((proxy, index) => ({ proxy, clockOffsetNs: remote.clockOffsetNs(index) })), (name) => remote.hostOf(name));
      }
    }
    if (options.resource !== undefined) {
      this.resource_ = await startFencedResource(options.resource);
      // Workers elsewhere reach the resource's URL (127.0.0.1:port) through a reverse forward on their host.
      await this.clientHosts_?.shareLocalPort(Number(new URL(this.resource_.url('probe')).port));
    }
  }

  /** The connect string a client host uses: its own listeners on the proxy, or the servers themselves. */
  async connectFor(host: string): Promise<string> {
    return this.proxy_ === undefined ? this.cluster.connectString() : this.proxy_.addClientHost(host);
  }

  /**
   * Spawns a worker for `clients`, connected through the proxy when there is one, and sends init. Resolves with the
   * host whatever init answered (`host.init`): the caller decides what an answer other than init_ok means.
   * `onSpawn` sees the process before init, to hear its events from the first.
   */
  async addWorkerHost(spec: WorkerHostOptions, onSpawn?: (process: WorkerProcess) => void): Promise<WorkerHost> {
    // Before any await: workers go to the SSH hosts in the order they are asked for.
    this.clientHosts_?.assign(spec.name);
    const connect = await this.connectFor(spec.name);
    const remote = this.clientHosts_ === undefined ? undefined : await this.clientHosts_.workerLaunch(spec.name, spec.launch);
    const process = WorkerProcess.spawn({
      name: spec.name,
      command: remote?.command ?? spec.launch.command,
      env: remote === undefined ? spec.launch.env : globalThis.process.env,
      logFile: spec.logFile,
      ...(remote === undefined ? {} : { signalGroup: remote.signalGroup }),
    });
    onSpawn?.(process);
    const request: Omit<InitRequest, 'id'> = {
      type: 'init',
      protocolVersion: WORKER_PROTOCOL_VERSION,
      connect,
      sessionTimeoutMs: spec.sessionTimeoutMs,
      clients: [...spec.clients],
      lockRoot: spec.lockRoot,
      options: spec.options ?? {},
    };
    const host = new WorkerHost(spec.name, process, await process.init(request));
    this.hosts.push(host);
    this.hosts.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    return host;
  }

  /** Stops the worker hosts started so far (the next test's start again). */
  async stopWorkerHosts(): Promise<void> {
    await Promise.all(this.hosts.splice(0).map((host) => host.process.stop()));
  }

  /** Workers, resource, proxy, the ensemble it owns, then afterTeardown. Once; later calls wait for the first. */
  teardown(): Promise<void> {
    this.tearingDown ??= this.tearDownInOrder();
    return this.tearingDown;
  }

  private async tearDownInOrder(): Promise<void> {
    const steps: [string, () => Promise<void> | void][] = [
      ['workers', () => this.stopWorkerHosts()],
      ['fenced resource', () => this.resource_?.close()],
      ['fault proxy', () => this.proxy_?.close()],
      ['client hosts', () => this.clientHosts_?.teardown(this.options.clientHosts!.runDir)],
      ['ensemble', () => (this.ownsCluster ? this.cluster_?.teardown() : undefined)],
      ['after teardown', () => this.options.afterTeardown?.()],
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        console.error(`testbed: tearing down the ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.unregister();
  }
}

