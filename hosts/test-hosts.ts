/**
 * Local test hosts for the ssh backend: N network namespaces on a private bridge, each running its own OpenSSH
 * sshd with a generated host key and one authorised key (the suite's, generated too), so that `--backend ssh` and
 * `--client-hosts` are exercised over real SSH without a fleet. The machine reaches host N at .10+N of a free /24
 * of 10.213.0.0/16 (the local backend's pool, claimed the same way), port 22, as root.
 *
 * The hosts share this machine's filesystem and process table; nothing of the ssh backend may rely on that.
 *
 * Every name carries the set's id (`zkh` + 6 hex digits): namespaces, bridge, veths, the FORWARD rule's comment,
 * the sshd's config path (its command line), the state directory `/run/zk-lock-jepsen/hosts/<id>/`, and the
 * known_hosts entries (one per host address, with the id as the key's comment). A set belongs to its owner process
 * (or is detached: `npm run hosts -- up`); a set whose owner is gone is removed by the next `up` or `down`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ClusterError } from '../cluster/errors.ts';
import { run, runIn } from '../cluster/exec.ts';
import { claimSubnet, countsOf, names, processStartTime, signal, STATE_DIR, waitForExit } from '../cluster/resources.ts';
import { formatSubnet, freePoolSubnets, hostAddress, nodeAddress, parseSubnet, type Subnet } from '../cluster/subnet.ts';
import { waitUntil } from '../cluster/wait.ts';

export const HOSTS_PREFIX = 'zkh';
const ID_PATTERN = new RegExp(`^${HOSTS_PREFIX}[0-9a-f]{6}$`);
const HOSTS_DIR = join(STATE_DIR, 'hosts');
const SSHD = '/usr/sbin/sshd';
const SSH_PORT = 22;
/** sshd forks and binds within a second here; the bound only catches one that never listens. */
const LISTEN_TIMEOUT_MS = 20_000;

export interface TestHost {
  /** "h1", "h2", ... */
  name: string;
  namespace: string;
  address: string;
}

interface HostSetState {
  id: string;
  ownerPid: number;
  ownerStartTime: string;
  detached: boolean;
  subnet: string;
  hosts: TestHost[];
}

export interface TestHostSet {
  readonly id: string;
  readonly hosts: readonly TestHost[];
  /** The suite's private key, authorised on every host. */
  readonly keyFile: string;
  /** `root@A,root@B,...`: what `--hosts` and `--client-hosts` take. */
  targets(hosts?: readonly TestHost[]): string;
  /** The flags that point a run at these hosts: `--hosts root@A,... --ssh-key PATH`. */
  flags(): string;
  /** Removes every host, its sshd, its namespace and its known_hosts entry; says what it removed. */
  remove(): Promise<string>;
}

const paths = {
  set: (id: string) => join(HOSTS_DIR, id),
  state: (id: string) => join(HOSTS_DIR, id, 'state.json'),
  key: (id: string) => join(HOSTS_DIR, id, 'id_ed25519'),
  host: (id: string, name: string) => join(HOSTS_DIR, id, name),
  bridge: (id: string) => `${id}-br`,
  namespace: (id: string, index: number) => `${id}-h${index}`,
  veth: (id: string, index: number) => `${id}-v${index}`,
};

/** The known_hosts file the ssh backend checks by default: OpenSSH's own. */
export const KNOWN_HOSTS = join(homedir(), '.ssh', 'known_hosts');

export async function checkHostPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) throw new ClusterError('test hosts need root (network namespaces); run as root');
  if (!existsSync(SSHD)) throw new ClusterError(`${SSHD} is missing; run: npm run setup -- hosts (installs openssh-server)`);
  for (const command of ['ip', 'iptables', 'ssh-keygen']) {
    await run('sh', ['-c', `command -v ${command}`]).catch(() => {
      throw new ClusterError(`'${command}' not found on PATH; run: npm run setup -- hosts`);
    });
  }
}

/** Makes `count` test hosts; `detached` ones outlive this process until `removeTestHostSets`. */
export async function createTestHosts(count: number, options: { detached?: boolean } = {}): Promise<TestHostSet> {
  if (!Number.isInteger(count) || count < 1 || count > 50) throw new ClusterError(`a test host count is 1 to 50, got ${count}`);
  await checkHostPrerequisites();
  await removeTestHostSets({ includeDetached: false });
  const id = HOSTS_PREFIX + randomBytes(3).toString('hex');
  await mkdir(paths.set(id), { recursive: true, mode: 0o700 });
  const subnet = await claimFreeSubnet(id);
  const hosts = Array.from({ length: count }, (_, index): TestHost => ({
    name: `h${index + 1}`,
    namespace: paths.namespace(id, index + 1),
    address: nodeAddress(subnet, index + 1),
  }));
  // The state exists before any resource, so a crash at any later point leaves a set the next sweep finds.
  await writeState({
    id, ownerPid: process.pid, ownerStartTime: (await processStartTime(process.pid))!, detached: options.detached ?? false,
    subnet: formatSubnet(subnet), hosts,
  });
  const set = hostSet(id, hosts);
  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `zk-lock-jepsen ${id}`, '-f', paths.key(id)]);
    await createNetwork(id, subnet, hosts);
    const authorized = await readFile(`${paths.key(id)}.pub`, 'utf8');
    await Promise.all(hosts.map((host) => startSshd(id, host, authorized)));
  } catch (error) {
    await set.remove();
    throw error;
  }
  return set;
}

function hostSet(id: string, hosts: readonly TestHost[]): TestHostSet {
  const keyFile = paths.key(id);
  const targets = (chosen: readonly TestHost[] = hosts): string => chosen.map((host) => `root@${host.address}`).join(',');
  return {
    id,
    hosts,
    keyFile,
    targets,
    flags: () => `--hosts ${targets()} --ssh-key ${keyFile}`,
    remove: () => removeSet(id),
  };
}

async function claimFreeSubnet(id: string): Promise<Subnet> {
  for (const subnet of await freePoolSubnets()) {
    if (await claimSubnet(subnet, id)) return subnet;
  }
  throw new ClusterError('no free /24 left in 10.213.0.0/16 for test hosts');
}

async function writeState(state: HostSetState): Promise<void> {
  await writeFile(paths.state(state.id), JSON.stringify(state, null, 2));
}

async function readState(id: string): Promise<HostSetState | undefined> {
  try {
    return JSON.parse(await readFile(paths.state(id), 'utf8')) as HostSetState;
  } catch {
    return undefined;
  }
}

async function createNetwork(id: string, subnet: Subnet, hosts: readonly TestHost[]): Promise<void> {
  const bridge = paths.bridge(id);
  const prefix = `/${subnet.prefixLength}`;
  await run('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', hostAddress(subnet) + prefix, 'dev', bridge]);
  await run('ip', ['link', 'set', bridge, 'up']);
  // Docker sets the FORWARD policy to DROP: host-to-host traffic across our bridge needs its own ACCEPT.
  await run('iptables', ['-w', '-I', 'FORWARD', '-i', bridge, '-o', bridge, '-j', 'ACCEPT', '-m', 'comment', '--comment', id]);
  for (const [index, host] of hosts.entries()) {
    const veth = paths.veth(id, index + 1);
    await run('ip', ['netns', 'add', host.namespace]);
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace]);
    await run('ip', ['link', 'set', veth, 'master', bridge, 'up']);
    await run('ip', ['-n', host.namespace, 'addr', 'add', host.address + prefix, 'dev', 'eth0']);
    await run('ip', ['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
    // Loopback: the fault proxy on a client host listens there for the workers beside it.
    await run('ip', ['-n', host.namespace, 'link', 'set', 'lo', 'up']);
  }
}

function sshdConfig(id: string, host: TestHost): string {
  const dir = paths.host(id, host.name);
  return [
    `ListenAddress ${host.address}:${SSH_PORT}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    // Keys only, as the ssh backend expects of any host.
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The backend multiplexes its short commands over one connection and gives each worker its own.
    'MaxSessions 64',
    'MaxStartups 64:30:128',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

async function startSshd(id: string, host: TestHost, authorizedKey: string): Promise<void> {
  const dir = paths.host(id, host.name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', id, '-f', join(dir, 'ssh_host_ed25519_key')]);
  await writeFile(join(dir, 'authorized_keys'), authorizedKey, { mode: 0o600 });
  await writeFile(join(dir, 'sshd_config'), sshdConfig(id, host));
  // sshd refuses to start without its privilege separation directory, which Debian's package leaves to its service.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  // Without -D sshd daemonises once it has bound its port, and writes its pid file.
  await runIn(host.namespace, SSHD, ['-f', join(dir, 'sshd_config'), '-E', join(dir, 'sshd.log')]);
  await waitUntil(`sshd of ${host.name} (${host.address}:${SSH_PORT}) to accept connections`, () => accepts(host.address, SSH_PORT), {
    timeoutMs: LISTEN_TIMEOUT_MS,
    intervalMs: 50,
  });
  const hostKey = (await readFile(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim();
  await forgetKnownHost(host.address);
  await mkdir(join(homedir(), '.ssh'), { recursive: true, mode: 0o700 });
  await appendFile(KNOWN_HOSTS, `${host.address} ${hostKey}\n`, { mode: 0o600 });
}

function accepts(address: string, port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/** Removes every known_hosts entry of an address (ssh-keygen -R), if there is a known_hosts file at all. */
async function forgetKnownHost(address: string): Promise<boolean> {
  if (!existsSync(KNOWN_HOSTS)) return false;
  // -F finds hashed entries too (ssh's accept-new writes them hashed where HashKnownHosts is on, as on Debian).
  const found = await run('ssh-keygen', ['-F', address, '-f', KNOWN_HOSTS]).catch(() => '');
  if (found.trim() === '') return false;
  await run('ssh-keygen', ['-R', address, '-f', KNOWN_HOSTS]);
  await rm(`${KNOWN_HOSTS}.old`, { force: true });
  return true;
}

/**
 * sshd processes of test host sets, with their set's id: their command line names the set's config directory. A
 * daemonised sshd rewrites its command line as one string ("sshd: /usr/sbin/sshd -f <config> [listener] ..."),
 * its sessions' processes as "sshd: root@notty": the listener is found by its config path, a session by its parent.
 */
async function sshdProcesses(): Promise<{ pid: number; id: string }[]> {
  const pattern = new RegExp(`^sshd: ${SSHD} -f ${HOSTS_DIR}/(${HOSTS_PREFIX}[0-9a-f]{6})/`);
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const found = await Promise.all(pids.map(async (pid) => {
    const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    const id = pattern.exec(command)?.[1] ?? (command.startsWith(`${SSHD} -f ${HOSTS_DIR}/`) ? command.slice(`${SSHD} -f ${HOSTS_DIR}/`.length).split('/')[0] : undefined);
    return id === undefined ? undefined : { pid: Number(pid), id };
  }));
  return found.filter((entry) => entry !== undefined);
}

/**
 * Removes one set, whatever state it is in: its sshds (and every session they forked: they share the command
 * line), namespaces, links, FORWARD rule, subnet claim, known_hosts entries and state directory.
 */
async function removeSet(id: string): Promise<string> {
  const state = await readState(id);
  const pids = (await sshdProcesses()).filter((sshd) => sshd.id === id).map((sshd) => sshd.pid);
  // The listener first: its sessions (children) then lose their connections and leave.
  for (const pid of pids) signal(pid, 'SIGKILL');
  await Promise.all(pids.map((pid) => waitForExit(pid, 10_000)));
  const namespaces = (await run('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name.startsWith(`${id}-`));
  for (const namespace of namespaces) await run('ip', ['netns', 'delete', namespace]).catch(() => undefined);
  const links = (await run('ip', ['-o', 'link', 'show'])).split('\n').map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '').filter((name) => name.startsWith(`${id}-`));
  for (const link of links) await run('ip', ['link', 'delete', link]).catch(() => undefined);
  const rules = (await run('iptables', ['-w', '-S', 'FORWARD'])).split('\n').filter((rule) => rule.includes(`--comment ${id}`));
  for (const rule of rules) await run('iptables', ['-w', ...rule.replace(/^-A /, '-D ').split(' ')]).catch(() => undefined);
  let knownHosts = 0;
  for (const host of state?.hosts ?? []) if (await forgetKnownHost(host.address)) knownHosts += 1;
  let claims = 0;
  if (state !== undefined) {
    const claim = names.subnetClaim(parseSubnet(state.subnet));
    if ((await readFile(claim, 'utf8').catch(() => '')) === id) {
      await rm(claim, { force: true });
      claims += 1;
    }
  }
  await rm(paths.set(id), { recursive: true, force: true });
  return countsOf({ sshd: pids.length, namespace: namespaces.length, link: links.length, 'iptables rule': rules.length, 'known_hosts line': knownHosts, 'subnet claim': claims });
}

/** Every set found on this machine, by its state directory or by a namespace or link carrying its id. */
async function setIds(): Promise<string[]> {
  const ids = new Set((await readdir(HOSTS_DIR).catch(() => [] as string[])).filter((name) => ID_PATTERN.test(name)));
  const names = [
    ...(await run('ip', ['netns', 'list'])).split('\n').map((line) => line.split(' ')[0] ?? ''),
    ...(await run('ip', ['-o', 'link', 'show'])).split('\n').map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? ''),
  ];
  for (const name of names) {
    const id = name.split('-')[0] ?? '';
    if (ID_PATTERN.test(id)) ids.add(id);
  }
  for (const { id } of await sshdProcesses()) if (ID_PATTERN.test(id)) ids.add(id);
  return [...ids].sort();
}

/**
 * Removes every set whose owner is gone, and the detached ones too with `includeDetached`. Prints one line per set
 * removed; returns their ids.
 */
export async function removeTestHostSets(options: { includeDetached: boolean }): Promise<string[]> {
  const removed: string[] = [];
  for (const id of await setIds()) {
    const state = await readState(id);
    const alive = state !== undefined && (state.detached ? !options.includeDetached : (await processStartTime(state.ownerPid)) === state.ownerStartTime);
    if (alive) continue;
    const why = state === undefined ? 'no owner recorded' : state.detached ? 'detached' : `owner ${state.ownerPid} gone`;
    console.error(`hosts: removed test hosts ${id} (${why}): ${await removeSet(id)}`);
    removed.push(id);
  }
  return removed;
}

/** The detached sets (`npm run hosts -- up`), for status. */
export async function detachedTestHostSets(): Promise<TestHostSet[]> {
  const sets: TestHostSet[] = [];
  for (const id of await setIds()) {
    const state = await readState(id);
    if (state?.detached) sets.push(hostSet(id, state.hosts));
  }
  return sets;
}
