/**
 * Naming, ownership and removal of everything a local cluster creates on the host.
 *
 * Every name carries the cluster id (ID_PREFIX + 6 hex digits): namespaces, the bridge, veth links, the iptables
 * comment, the java marker property, the state file and the subnet claim. A state file records the owner process;
 * a cluster is alive while its owner is (same pid, same start time), or, when detached (the CLI's `up`), until
 * `down` or the next `up`. The sweep removes every id that is not alive, and only those.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, readlink, mkdir, rm, writeFile } from 'node:fs/promises';
import { run } from './exec.ts';
import { formatSubnet, type Subnet } from './subnet.ts';

export const ID_PREFIX = 'zkj';
const ID_PATTERN = new RegExp(`${ID_PREFIX}[0-9a-f]{6}`);
export const STATE_DIR = '/run/zk-lock-jepsen';
/** Java system properties that mark a server process with its cluster and node, so a sweep finds it in /proc. */
const CLUSTER_MARKER = `-D${ID_PREFIX}.cluster=`;
const NODE_MARKER = `-D${ID_PREFIX}.node=`;

export function newClusterId(): string {
  return ID_PREFIX + randomBytes(3).toString('hex');
}

export const names = {
  namespace: (clusterId: string, nodeId: number) => `${clusterId}-zk${nodeId}`,
  bridge: (clusterId: string) => `${clusterId}-br`,
  /** Host side of a node's veth pair; at most 15 characters (IFNAMSIZ) up to node 99. */
  veth: (clusterId: string, nodeId: number) => `${clusterId}-v${nodeId}`,
  markers: (clusterId: string, nodeId: number) => [CLUSTER_MARKER + clusterId, NODE_MARKER + nodeId],
  stateFile: (clusterId: string) => `${STATE_DIR}/${clusterId}.json`,
  subnetClaim: (subnet: Subnet) => `${STATE_DIR}/subnet-${formatSubnet(subnet).replace('/', '_')}.claim`,
};

export interface ClusterState {
  id: string;
  ownerPid: number;
  /** /proc/<pid>/stat start time, so a recycled pid is not mistaken for the owner. */
  ownerStartTime: string;
  detached: boolean;
  subnet?: string;
  nodes: number;
  tickTimeMs: number;
  runDir: string;
}

/** "3 servers, 1 iptables rule": what a removal took, for the one line a sweep prints. */
export function countsOf(counts: Record<string, number>): string {
  const parts = Object.entries(counts).filter(([, count]) => count > 0).map(([what, count]) => `${count} ${what}${count === 1 ? '' : 's'}`);
  return parts.length === 0 ? 'nothing left' : parts.join(', ');
}

export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which sits in parentheses and may contain spaces; starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export async function writeState(state: ClusterState): Promise<void> {
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(names.stateFile(state.id), JSON.stringify(state, null, 2));
}

export async function readState(clusterId: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(names.stateFile(clusterId), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export async function readAllStates(): Promise<ClusterState[]> {
  const states = await Promise.all((await clusterIdsIn(STATE_DIR, /\.json$/)).map(readState));
  return states.filter((state): state is ClusterState => state !== undefined);
}

/** Claims a subnet for a cluster atomically; false when another cluster holds it. */
export async function claimSubnet(subnet: Subnet, clusterId: string): Promise<boolean> {
  await mkdir(STATE_DIR, { recursive: true });
  try {
    await writeFile(names.subnetClaim(subnet), clusterId, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function clusterIdsIn(directory: string, filePattern: RegExp): Promise<string[]> {
  const files = await readdir(directory).catch(() => [] as string[]);
  return files.filter((file) => filePattern.test(file) && ID_PATTERN.test(file)).map((file) => ID_PATTERN.exec(file)![0]);
}

/** Everything of the suite found on the host, grouped by cluster id. */
export interface Leftovers {
  namespaces: string[];
  links: string[];
  iptablesRules: string[];
  /** Server processes, as pids. */
  processes: number[];
  /** State files and subnet claims. */
  files: string[];
}

function emptyLeftovers(): Leftovers {
  return { namespaces: [], links: [], iptablesRules: [], processes: [], files: [] };
}

export async function findLeftovers(): Promise<Map<string, Leftovers>> {
  const found = new Map<string, Leftovers>();
  const add = (text: string, kind: keyof Leftovers, item: string | number) => {
    const id = ID_PATTERN.exec(text)?.[0];
    if (id === undefined) return;
    if (!found.has(id)) found.set(id, emptyLeftovers());
    (found.get(id)![kind] as (string | number)[]).push(item);
  };
  const [namespaces, links, rules, processes, files] = await Promise.all([
    run('ip', ['netns', 'list']),
    run('ip', ['-o', 'link', 'show']),
    run('iptables', ['-w', '-S']),
    markedProcesses(),
    readdir(STATE_DIR).catch(() => [] as string[]),
  ]);
  for (const line of namespaces.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(ID_PREFIX)) add(name, 'namespaces', name);
  }
  for (const line of links.split('\n')) {
    // "7: zkj3fa9c1-v1@if2: <BROADCAST,...": the name ends at '@' (veth peers) or ':'.
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '';
    if (name.startsWith(ID_PREFIX)) add(name, 'links', name);
  }
  for (const rule of rules.split('\n')) {
    if (rule.includes(`--comment ${ID_PREFIX}`)) add(rule, 'iptablesRules', rule);
  }
  for (const { pid, clusterId } of processes) add(clusterId, 'processes', pid);
  for (const file of files) {
    // A subnet claim is named by its subnet (that is what makes it exclusive) and holds the id inside.
    const path = `${STATE_DIR}/${file}`;
    add(file.endsWith('.claim') ? await readFile(path, 'utf8').catch(() => '') : file, 'files', path);
  }
  return found;
}

/**
 * Server processes carrying the markers, read from /proc (exact argument match, not a substring). Only those in
 * this process's PID namespace: a container's processes show in the host's /proc, but their cluster's state file
 * is in the container's /run, so a sweep on the host would take a container's live cluster for a dead one.
 */
async function markedProcesses(): Promise<{ pid: number; clusterId: string; nodeId: number }[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const ownPidNamespace = await readlink('/proc/self/ns/pid');
  const found = await Promise.all(
    pids.map(async (pid) => {
      if ((await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined)) !== ownPidNamespace) return undefined;
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      const valueOf = (marker: string) => argv.find((arg) => arg.startsWith(marker))?.slice(marker.length);
      const clusterId = valueOf(CLUSTER_MARKER);
      return clusterId === undefined ? undefined : { pid: Number(pid), clusterId, nodeId: Number(valueOf(NODE_MARKER)) };
    }),
  );
  return found.filter((entry) => entry !== undefined);
}

/** Pids of one cluster's servers, by node id. */
export async function serverPids(clusterId: string): Promise<Map<number, number>> {
  const servers = (await markedProcesses()).filter((server) => server.clusterId === clusterId);
  return new Map(servers.map((server) => [server.nodeId, server.pid]));
}

async function isAlive(state: ClusterState | undefined, keepDetached: boolean): Promise<boolean> {
  if (state === undefined) return false;
  if (state.detached) return keepDetached;
  return (await processStartTime(state.ownerPid)) === state.ownerStartTime;
}

/** Kills every process of the cluster, then removes its iptables rules, namespaces, links and files; says what it removed. */
export async function removeCluster(clusterId: string, leftovers?: Leftovers): Promise<string> {
  const found = leftovers ?? (await findLeftovers()).get(clusterId) ?? emptyLeftovers();
  for (const pid of found.processes) signal(pid, 'SIGKILL');
  await Promise.all(found.processes.map((pid) => waitForExit(pid, 10_000)));
  for (const rule of found.iptablesRules) {
    // "-A FORWARD ..." as printed by `iptables -S` becomes "-D FORWARD ..."; our rules contain no quoted spaces.
    await run('iptables', ['-w', ...rule.replace(/^-A /, '-D ').split(' ')]).catch(ignoreVanished);
  }
  // Deleting a namespace destroys the veth ends inside it, which takes the host ends with them.
  for (const namespace of found.namespaces) await run('ip', ['netns', 'delete', namespace]).catch(ignoreVanished);
  for (const link of found.links) await run('ip', ['link', 'delete', link]).catch(ignoreVanished);
  // The state file goes last: while it exists, a crash here still leaves the id findable for the next sweep.
  const files = found.files.sort((a, b) => Number(a.endsWith('.json')) - Number(b.endsWith('.json')));
  for (const file of files) await rm(file, { force: true });
  return countsOf({
    server: found.processes.length,
    namespace: found.namespaces.length,
    link: found.links.length,
    'iptables rule': found.iptablesRules.length,
    file: found.files.length,
  });
}

/** A resource that disappeared between listing and removal (another sweep, a cascade) is not an error. */
function ignoreVanished(error: Error): void {
  if (!/Cannot find|No such|does not exist|Bad rule|not found/i.test(error.message)) throw error;
}

/**
 * Removes the leftovers of every cluster that is not alive. Detached clusters (the CLI's) survive unless
 * `includeDetached` is set. Prints one line per cluster removed; returns their ids.
 */
export async function sweep(options: { includeDetached?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const [clusterId, leftovers] of await findLeftovers()) {
    const state = await readState(clusterId);
    if (await isAlive(state, !options.includeDetached)) continue;
    const what = await removeCluster(clusterId, leftovers);
    const why = state === undefined ? 'no owner recorded' : state.detached ? 'detached' : `owner ${state.ownerPid} gone`;
    console.error(`sweep: removed cluster ${clusterId} (${why}): ${what}`);
    removed.push(clusterId);
  }
  return removed;
}

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Waits until a process is gone (reaped); a process that is already gone resolves at once. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    // A zombie ("Z") holds no resources any more; its parent reaps it later.
    if (state === undefined || state.slice(state.lastIndexOf(')') + 2).startsWith('Z')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`process ${pid} did not exit within ${timeoutMs} ms`);
}

/** Whether a process is stopped (SIGSTOP): state "T" in /proc. */
export async function isStopped(pid: number): Promise<boolean> {
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return state.slice(state.lastIndexOf(')') + 2).startsWith('T');
}
