/**
 * The ssh backend: each ZooKeeper server on a host of its own, driven over SSH (cluster/ssh/connection.ts). The
 * host needs to be Debian or Ubuntu, reachable as root with a key, with ports 2181, 2888 and 3888 free; what it
 * lacks of Java and iptables is installed with apt-get, and the server's jars (this machine's, from the system or
 * the version cache, with every jar their manifests name) are copied into the run's directory there, with the
 * configuration. Nothing else of this machine is assumed to be on the host.
 *
 * A server is found by the markers on its command line (`-Dzkjssh.cluster=<run> -Dzkjssh.node=<N>`), never by
 * name; kill is SIGKILL, pause SIGSTOP; partitions are iptables rules on the servers' hosts that drop only quorum
 * and election traffic (ports 2888, 3888) from the peers cut off, so SSH and clients still reach every host.
 * Everything is tagged with the run (cluster/ssh/remote-run.ts) and removed at teardown, by the reaper, or by the
 * next run's sweep. Logs come back into `<runDir>/nodes/zk<N>/` at stop and teardown.
 */
import { basename, join, resolve } from 'node:path';
import { quote } from 'shell-quote';
import { ClusterError } from './errors.ts';
import { Ensemble } from './ensemble.ts';
import type { SshOptions } from './ssh/connection.ts';
import { jarClosure } from './ssh/jars.ts';
import { DELETE_RULES, SshRun, type StagedFile } from './ssh/remote-run.ts';
import { parseTargets, type SshTarget } from './ssh/target.ts';
import type { Cluster, Grudge, KillRestart, NodeId, NodeStatus, Partition, Pause, ServerAddress } from './types.ts';
import { isSettled, waitForStatus } from './wait.ts';
import {
  CLIENT_PORT,
  DEFAULT_ZOOKEEPER_VERSION,
  javaArguments,
  LOG4J_CONFIG,
  prepareZooKeeper,
  serverClasspath,
  zooConfig,
  type ZooKeeperVersion,
} from './zookeeper.ts';
import type { SshHost } from './ssh/connection.ts';

export interface SshClusterOptions {
  tickTimeMs: number;
  runDir: string;
  zkVersion?: ZooKeeperVersion;
  /** `[user@]host[:port],...`: one server per host, node N on the Nth. */
  hosts: string;
  ssh: SshOptions;
}

/** Installing Java on a host can take minutes; the bound only catches a start that is stuck. */
const START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 10_000;
const QUORUM_PORTS = '2888,3888';
/** The lowest Java that runs the servers' jars. */
const MINIMUM_JAVA = 11;

const CLUSTER_MARKER = '-Dzkjssh.cluster=';
const NODE_MARKER = '-Dzkjssh.node=';

/** Shell helpers every server command starts with: the pid of a server by its markers, and waiting for a pid to go. */
const HELPERS = String.raw`
pid_of() { for f in $(grep -lzx -- "$1" /proc/[0-9]*/cmdline 2>/dev/null); do grep -qzx -- "$2" "$f" 2>/dev/null && echo "$f" | cut -d/ -f3; done; }
state_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1; }
wait_gone() { n=0; while [ -e "/proc/$1" ] && [ "$(state_of "$1")" != Z ]; do [ $n -ge "$2" ] && return 1; sleep 0.02; n=$((n + 1)); done; }
`;

/**
 * Installs what the host lacks (Java, iptables) with apt-get and checks the rest: root, the server ports free, a
 * Java new enough. Prints what it installed, then the Java version line.
 */
const PREPARE_SCRIPT = String.raw`
[ "$(id -u)" = 0 ] || { echo "the ssh backend needs root on its server hosts (iptables); connect as root@" >&2; exit 3; }
busy=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -E '^(0885|0B48|0F30)$' | sort -u | tr '\n' ' ')
[ -z "$busy" ] || { echo "ports 2181, 2888 or 3888 are in use (listening, hex: $busy); stop what listens there" >&2; exit 3; }
missing=""
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "lacks$missing and has no apt-get: install them by hand" >&2; exit 3; }
  export DEBIAN_FRONTEND=noninteractive
  log=/var/tmp/zk-lock-jepsen-install.log
  if ! apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
    apt-get update -qq >>"$log" 2>&1
    apt-get install -y -qq --no-install-recommends $missing >>"$log" 2>&1 || { echo "apt-get install$missing failed; see $log there" >&2; exit 3; }
  fi
  echo "installed$missing"
fi
java -version 2>&1 | head -n 1
`;

interface SshNode {
  id: NodeId;
  target: SshTarget;
  host?: SshHost;
}

export class SshCluster extends Ensemble implements Cluster, KillRestart, Pause, Partition {
  readonly backend = 'ssh';
  readonly pauseVerb = 'SIGSTOP';
  readonly nodeIds: readonly NodeId[];
  private readonly nodes: Map<NodeId, SshNode>;
  private run: SshRun | undefined;
  private tearingDown: Promise<void> | undefined;

  constructor(private readonly options: SshClusterOptions) {
    super();
    const targets = parseTargets(options.hosts, '--hosts');
    this.nodeIds = targets.map((_, index) => index + 1);
    this.nodes = new Map(targets.map((target, index) => [index + 1, { id: index + 1, target }]));
  }

  /** The run's id once started: every process, rule and directory on the hosts carries it. */
  get id(): string {
    return this.run?.id ?? 'not started';
  }

  private get zkVersion(): ZooKeeperVersion {
    return this.options.zkVersion ?? DEFAULT_ZOOKEEPER_VERSION;
  }

  clientAddress(id: NodeId): ServerAddress {
    return { host: this.node(id).target.host, port: CLIENT_PORT };
  }

  logFiles(): Map<NodeId, string> {
    return new Map(this.nodeIds.map((id) => [id, join(this.localDir(id), 'zookeeper.log')]));
  }

  async start(): Promise<void> {
    if (this.run !== undefined) {
      // Started before and stopped: the same servers on their own data.
      for (const id of this.nodeIds) if ((await this.processState(id)) === undefined) await this.startServer(id);
      await waitForStatus(this, 'a leader with every node serving', isSettled, START_TIMEOUT_MS);
      return;
    }
    try {
      await prepareZooKeeper(this.zkVersion);
      const run = await SshRun.start({ purpose: 'servers', targets: [...this.nodes.values()].map((node) => node.target), ssh: this.options.ssh, runDir: this.options.runDir });
      this.run = run;
      for (const [index, host] of run.hosts.entries()) this.node(index + 1).host = host;
      const jars = await jarClosure(serverClasspath(this.zkVersion).split(':'));
      // Numbered: two jars of one name (a cached version's and the system's) must both keep their place.
      const lib = jars.map((jar, index): StagedFile => ({ path: `lib/${String(index).padStart(3, '0')}-${basename(jar)}`, source: jar }));
      const servers = new Map(this.nodeIds.map((id) => [id, this.node(id).target.host]));
      await Promise.all(this.nodeIds.map(async (id) => {
        const host = this.hostOf(id);
        await this.prepareHost(host);
        const dir = run.dir(host);
        await run.copy(host, [
          ...lib,
          { path: 'conf/log4j.properties', source: LOG4J_CONFIG },
          { path: `zk${id}/zoo.cfg`, content: zooConfig({ tickTimeMs: this.options.tickTimeMs, dataDir: `${dir}/zk${id}/data`, servers }) },
          { path: `zk${id}/data/myid`, content: `${id}\n` },
        ]);
      }));
      this.classpath = (dir: string) => lib.map((file) => `${dir}/${file.path}`).join(':');
      for (const id of this.nodeIds) await this.startServer(id);
      await waitForStatus(this, 'a leader with every node serving', isSettled, START_TIMEOUT_MS);
    } catch (error) {
      await this.teardown();
      throw error;
    }
  }

  private classpath: (dir: string) => string = () => {
    throw new ClusterError('the ssh cluster is not started');
  };

  private async prepareHost(host: SshHost): Promise<void> {
    const answer = (await host.exec(PREPARE_SCRIPT)).trim().split('\n');
    const installed = answer.find((line) => line.startsWith('installed '));
    if (installed !== undefined) console.error(`ssh: ${host.target.spec}: ${installed} (apt-get)`);
    const version = answer.at(-1) ?? '';
    const major = /version "(?:1\.)?(\d+)/.exec(version)?.[1];
    if (major === undefined || Number(major) < MINIMUM_JAVA) {
      throw new ClusterError(`${host.target.spec}: Java ${MINIMUM_JAVA} or newer is needed; it has: ${version || 'no java'}`);
    }
  }

  private markers(id: NodeId): [string, string] {
    return [CLUSTER_MARKER + this.requireRun().id, NODE_MARKER + id];
  }

  private async startServer(id: NodeId): Promise<void> {
    const host = this.hostOf(id);
    const run = this.requireRun();
    const dir = run.dir(host);
    const args = javaArguments({
      markers: this.markers(id),
      nodeDir: `${dir}/zk${id}`,
      configFile: `${dir}/zk${id}/zoo.cfg`,
      version: this.zkVersion,
      classpath: this.classpath(dir),
      log4jConfig: `${dir}/conf/log4j.properties`,
    });
    // setsid: the server is nobody's child on the host and outlives the command that started it; the marker in its
    // environment is what the run's removal finds it (and anything it forks) by.
    await host.exec(`cd ${quote([`${dir}/zk${id}`])} && env ${quote([run.marker(host)])} setsid java ${quote(args)} >>stdout.log 2>&1 </dev/null &`);
  }

  /** Runs a script on node id's host with the helpers and `$cluster $node` set to its markers. */
  private onNode(id: NodeId, script: string): Promise<string> {
    const [cluster, node] = this.markers(id);
    return this.hostOf(id).exec(`${HELPERS}\ncluster=${quote([cluster])}; node=${quote([node])}\n${script}`);
  }

  /** The server's process state letter (R, S, T, ...); undefined when it is gone. */
  private async processState(id: NodeId): Promise<string | undefined> {
    const answer = (await this.onNode(id, 'p=$(pid_of "$cluster" "$node"); [ -n "$p" ] && state_of "$p"; true')).trim();
    return answer === '' || answer === 'Z' ? undefined : answer;
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill(id: NodeId): Promise<void> {
    await this.onNode(id, `p=$(pid_of "$cluster" "$node"); [ -z "$p" ] && exit 0
kill -9 $p; wait_gone $p ${STOP_GRACE_MS / 20} || { echo "zk${id} did not exit after SIGKILL" >&2; exit 1; }`);
  }

  async restart(id: NodeId): Promise<void> {
    await this.kill(id);
    await this.startServer(id);
  }

  async pause(id: NodeId): Promise<void> {
    await this.signalServer(id, 'STOP');
  }

  async resume(id: NodeId): Promise<void> {
    await this.signalServer(id, 'CONT');
  }

  private async signalServer(id: NodeId, signal: 'STOP' | 'CONT'): Promise<void> {
    await this.onNode(id, `p=$(pid_of "$cluster" "$node"); [ -n "$p" ] || { echo "zk${id} is not running" >&2; exit 1; }; kill -${signal} $p`);
  }

  async partition(grudge: Grudge): Promise<void> {
    for (const [id, dropped] of grudge) [id, ...dropped].forEach((nodeId) => this.node(nodeId));
    await this.heal();
    const run = this.requireRun();
    await Promise.all([...grudge].filter(([, dropped]) => dropped.length > 0).map(([id, dropped]) => {
      const host = this.hostOf(id);
      const rules = dropped.map((peer) => `iptables -w -I INPUT -s ${quote([this.node(peer).target.host])} -p tcp -m multiport --ports ${QUORUM_PORTS} -j DROP -m comment --comment ${quote([run.comment(host)])}`);
      return host.exec(rules.join(' && '));
    }));
  }

  async heal(): Promise<void> {
    const run = this.requireRun();
    await Promise.all(this.nodeIds.map((id) => {
      const host = this.hostOf(id);
      // Only this run's rules: a real host's own firewall stays as it was.
      return host.exec(`${DELETE_RULES}\ndelete_rules ${quote([run.comment(host)])} >/dev/null`);
    }));
  }

  async status(): Promise<NodeStatus[]> {
    return Promise.all(this.nodeIds.map(async (id): Promise<NodeStatus> => {
      const state = await this.processState(id);
      if (state === undefined) return { id, state: 'killed', mode: 'not-serving' };
      if (state === 'T') return { id, state: 'paused', mode: 'not-serving' };
      return this.runningStatus(id);
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodeIds.map((id) => this.onNode(id, `p=$(pid_of "$cluster" "$node"); [ -z "$p" ] && exit 0
kill -TERM $p; kill -CONT $p; wait_gone $p ${STOP_GRACE_MS / 20} || { kill -9 $p; wait_gone $p ${STOP_GRACE_MS / 20}; }`)));
    await this.fetchLogs();
  }

  /** Fetches the logs, then removes everything of the run from every host. Safe to call twice. */
  teardown(): Promise<void> {
    this.tearingDown ??= (async () => {
      if (this.run === undefined) return;
      await this.fetchLogs().catch((error: unknown) => console.error(`ssh: fetching the servers' logs failed: ${error instanceof Error ? error.message : String(error)}`));
      await this.run.remove();
    })();
    return this.tearingDown;
  }

  /** The servers' logs and configuration into <runDir>/nodes/zk<N>/ (the data stays behind). */
  private async fetchLogs(): Promise<void> {
    const run = this.run;
    if (run === undefined) return;
    await Promise.all(this.nodeIds.map((id) => {
      const host = this.node(id).host;
      return host === undefined ? undefined : run.fetch(host, [`zk${id}/zookeeper.log`, `zk${id}/stdout.log`, `zk${id}/zoo.cfg`], join(resolve(this.options.runDir), 'nodes'));
    }));
  }

  private localDir(id: NodeId): string {
    return join(resolve(this.options.runDir), 'nodes', `zk${id}`);
  }

  private node(id: NodeId): SshNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new ClusterError(`no node ${id} in the ssh cluster (nodes ${this.nodeIds.join(', ')})`);
    return node;
  }

  private hostOf(id: NodeId): SshHost {
    const host = this.node(id).host;
    if (host === undefined) throw new ClusterError('the ssh cluster is not started');
    return host;
  }

  private requireRun(): SshRun {
    if (this.run === undefined) throw new ClusterError('the ssh cluster is not started');
    return this.run;
  }
}
