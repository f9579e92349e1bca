/**
 * What one run makes on its hosts over SSH, and how it all goes away.
 *
 * A run has an id (`zks` + 6 hex digits) and, on each host, a label (its address and port). Everything it makes
 * on a host is tagged with `<id>@<label>`:
 * - its directory, `/var/tmp/zk-lock-jepsen/<id>@<label>/`, with `owner.json` (this machine, the owner's pid and
 *   start time), made first and removed last;
 * - every process it starts carries `ZKJ_SSH=<id>@<label>` in its environment, which its children inherit;
 * - every iptables rule carries `--comment <id>@<label>`.
 * The label is part of the tag so that two hosts sharing a filesystem and a process table (the local test hosts)
 * never remove each other's things; a real host only ever sees its own.
 *
 * Teardown removes all of it. A run whose owner died is removed by its reaper (cluster/reaper.ts) over SSH, or, if
 * that could not reach a host, by the next ssh run's sweep of that host, which removes every run id found there
 * whose owner was this machine and is gone (another machine's runs are left to that machine), one line each.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { quote } from 'shell-quote';
import { ClusterError } from '../errors.ts';
import { startReaper, type Reaper } from '../reaper.ts';
import { countsOf, processStartTime, STATE_DIR } from '../resources.ts';
import { SshHost, type SshOptions } from './connection.ts';
import { parseTarget, type SshTarget } from './target.ts';

export const SSH_ID_PREFIX = 'zks';
const ID_PATTERN = new RegExp(`^${SSH_ID_PREFIX}[0-9a-f]{6}$`);
export const REMOTE_ROOT = '/var/tmp/zk-lock-jepsen';
const LOCAL_STATE_DIR = join(STATE_DIR, 'ssh');
export const MARKER_VARIABLE = 'ZKJ_SSH';

export interface SshRunState {
  id: string;
  /** "servers" or "client hosts": for people reading a sweep's line. */
  purpose: string;
  machine: string;
  ownerPid: number;
  ownerStartTime: string;
  /** The hosts as given (`[user@]host[:port]`). */
  hosts: string[];
  ssh: SshOptions;
  runDir: string;
}

interface RemoteOwner {
  machine: string;
  ownerPid: number;
  ownerStartTime: string;
}

/** A file to put on a host: a local file or directory (followed if a link), or content. */
export type StagedFile = { path: string; source: string } | { path: string; content: string | Buffer };

let machineIdentity: string | undefined;
/** This machine, as a run's owner record names it: /etc/machine-id, else the host name. */
export async function thisMachine(): Promise<string> {
  machineIdentity ??= (await readFile('/etc/machine-id', 'utf8').catch(() => '')).trim() || hostname();
  return machineIdentity;
}

const controlDirOf = (id: string): string => join(tmpdir(), `zkjssh-${id}`);
const stateFileOf = (id: string): string => join(LOCAL_STATE_DIR, `${id}.json`);
export const tagOf = (id: string, target: SshTarget): string => `${id}@${target.label}`;
export const remoteDirOf = (id: string, target: SshTarget): string => `${REMOTE_ROOT}/${tagOf(id, target)}`;

/**
 * `delete_rules TAG`: deletes the INPUT rules commented TAG and prints how many. iptables -S quotes a comment with
 * characters such as '@', so the rule is read back through the shell (eval) to delete exactly what was listed.
 */
export const DELETE_RULES = String.raw`
delete_rules() {
  iptables -w -S INPUT 2>/dev/null | grep -F -e "--comment \"$1\"" -e "--comment $1 " | sed 's/^-A /-D /' |
    while read -r rule; do eval "iptables -w $rule" && echo x; done | wc -l
}
`;

/** Kills the tagged processes (and waits for them), deletes the tagged rules and the directory; prints the counts. */
const REMOVE_SCRIPT = DELETE_RULES + String.raw`
tag="$1"; root="$2"
pids=$(grep -lzx "${MARKER_VARIABLE}=$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)
procs=0
for p in $pids; do kill -9 "$p" 2>/dev/null && procs=$((procs + 1)); done
for p in $pids; do
  n=0
  while [ -e "/proc/$p" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1)" != Z ] && [ $n -lt 500 ]; do sleep 0.02; n=$((n + 1)); done
done
rules=0
if command -v iptables >/dev/null 2>&1; then
  rules=$(delete_rules "$tag")
fi
files=0
if [ -e "$root/$tag" ]; then rm -rf "$root/$tag"; files=1; fi
rmdir "$root" 2>/dev/null || true
echo "$procs $rules $files"
`;

/** Every run id found on the host under its label (directory, processes, rules), each with its owner record or "-". */
const LIST_SCRIPT = String.raw`
label="$1"; root="$2"
{
  for d in "$root"/${SSH_ID_PREFIX}*@"$label"; do [ -d "$d" ] && basename "$d" | cut -d@ -f1; done
  grep -lz "^${MARKER_VARIABLE}=${SSH_ID_PREFIX}[0-9a-f]*@$label\$" /proc/[0-9]*/environ 2>/dev/null | while read -r f; do
    tr '\0' '\n' < "$f" 2>/dev/null | sed -n "s/^${MARKER_VARIABLE}=\(${SSH_ID_PREFIX}[0-9a-f]*\)@$label\$/\1/p"
  done
  iptables -w -S INPUT 2>/dev/null | sed -n "s/.*--comment \"\{0,1\}\(${SSH_ID_PREFIX}[0-9a-f]*\)@$label[\" ].*/\1/p"
} | sort -u | while read -r id; do
  owner=$(tr -d '\n' < "$root/$id@$label/owner.json" 2>/dev/null)
  [ -n "$owner" ] || owner=-
  echo "$id $owner"
done
`;

/** Runs a script with positional arguments: `sh -c script sh arg1 arg2`. */
const withArguments = (script: string, args: string[]): string => `set -- ${quote(args)}\n${script}`;

async function removeFromHost(host: SshHost, id: string): Promise<string> {
  const answer = await host.exec(withArguments(REMOVE_SCRIPT, [tagOf(id, host.target), REMOTE_ROOT]));
  const [processes = 0, rules = 0, files = 0] = answer.trim().split(/\s+/).map(Number);
  return countsOf({ process: processes, 'iptables rule': rules, directory: files });
}

export class SshRun {
  private reaper: Reaper | undefined;
  private removing: Promise<void> | undefined;

  private constructor(
    readonly id: string,
    readonly hosts: readonly SshHost[],
    private readonly purpose: string,
  ) {}

  /**
   * Connects to every host, sweeps the dead runs of this machine there, records ownership (here and on each host)
   * and starts the reaper. On failure closes what it opened and throws one line.
   */
  static async start(options: { purpose: string; targets: readonly SshTarget[]; ssh: SshOptions; runDir: string }): Promise<SshRun> {
    const id = SSH_ID_PREFIX + randomBytes(3).toString('hex');
    const hosts = options.targets.map((target) => new SshHost(target, options.ssh, controlDirOf(id)));
    const run = new SshRun(id, hosts, options.purpose);
    try {
      await Promise.all(hosts.map((host) => host.open()));
      await sweepDeadRuns(hosts);
      const machine = await thisMachine();
      const owner: RemoteOwner = { machine, ownerPid: process.pid, ownerStartTime: (await processStartTime(process.pid))! };
      const state: SshRunState = { id, purpose: options.purpose, ...owner, hosts: options.targets.map((target) => target.spec), ssh: options.ssh, runDir: resolve(options.runDir) };
      // The local state first: from here on a crash leaves a record the reaper and the next sweep act on.
      await mkdir(LOCAL_STATE_DIR, { recursive: true });
      await writeFile(stateFileOf(id), JSON.stringify(state, null, 2));
      run.reaper = await startReaper({ backend: 'ssh', clusterId: id, runDir: options.runDir });
      await Promise.all(hosts.map((host) => run.copy(host, [{ path: 'owner.json', content: JSON.stringify(owner) }])));
    } catch (error) {
      await run.remove().catch(() => undefined);
      throw error;
    }
    return run;
  }

  dir(host: SshHost): string {
    return remoteDirOf(this.id, host.target);
  }

  /** The environment assignment that tags a process (and its children) as this run's on that host. */
  marker(host: SshHost): string {
    return `${MARKER_VARIABLE}=${tagOf(this.id, host.target)}`;
  }

  /** The iptables comment of this run's rules on that host. */
  comment(host: SshHost): string {
    return tagOf(this.id, host.target);
  }

  /** Puts files under the run's directory on the host (one tar stream; links are followed). */
  async copy(host: SshHost, files: readonly StagedFile[]): Promise<void> {
    const staging = await mkdtemp(join(tmpdir(), 'zkj-ssh-stage-'));
    try {
      for (const file of files) {
        const path = join(staging, file.path);
        await mkdir(dirname(path), { recursive: true });
        if ('source' in file) await symlink(resolve(file.source), path);
        else await writeFile(path, file.content);
      }
      const tar = spawn('tar', ['-c', '-h', '-C', staging, '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let tarError = '';
      tar.stderr.setEncoding('utf8').on('data', (text: string) => (tarError += text));
      const tarDone = new Promise<number | null>((resolveTar) => tar.once('close', resolveTar));
      const dir = quote([this.dir(host)]);
      await host.exec(`mkdir -p ${dir} && tar -x -m --no-same-owner -C ${dir}`, tar.stdout as Readable);
      if ((await tarDone) !== 0) throw new ClusterError(`copying to ${host.target.spec}: tar: ${tarError.trim()}`);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Copies files of the run's directory on the host (paths relative to it; missing ones skipped) into localDir. */
  async fetch(host: SshHost, paths: readonly string[], localDir: string): Promise<void> {
    await mkdir(localDir, { recursive: true });
    const remote = host.spawnShared(`cd ${quote([this.dir(host)])} 2>/dev/null && tar -c --ignore-failed-read ${quote(['--', ...paths])} 2>/dev/null`);
    remote.stdin.end();
    const local = spawn('tar', ['-x', '-m', '-C', localDir], { stdio: ['pipe', 'ignore', 'ignore'] });
    remote.stdout.pipe(local.stdin);
    await new Promise<void>((done) => local.once('close', () => done()));
  }

  /** Removes what the run made on every host it can reach, closes the connections, then its local records. Once. */
  remove(): Promise<void> {
    this.removing ??= (async () => {
      this.reaper?.stop();
      const unreachable: string[] = [];
      // A host never reached has nothing of this run (its directory comes after the connection).
      await Promise.all(this.hosts.filter((host) => host.connected).map(async (host) => {
        try {
          await removeFromHost(host, this.id);
        } catch (error) {
          unreachable.push(`${host.target.spec} (${error instanceof Error ? error.message : String(error)})`);
        }
      }));
      await Promise.all(this.hosts.map((host) => host.close()));
      await rm(controlDirOf(this.id), { recursive: true, force: true });
      // A host that could not be cleaned keeps the state file, so the next sweep (or `npm run hosts -- down`'s
      // sweep of the runs' hosts) knows where to look again.
      if (unreachable.length === 0) await rm(stateFileOf(this.id), { force: true });
      else console.error(`ssh: could not clean ${this.purpose} run ${this.id} on ${unreachable.join(', ')}; the next ssh run's sweep will`);
    })();
    return this.removing;
  }
}

async function readRunState(id: string): Promise<SshRunState | undefined> {
  try {
    return JSON.parse(await readFile(stateFileOf(id), 'utf8')) as SshRunState;
  } catch {
    return undefined;
  }
}

async function ownerAlive(owner: Pick<RemoteOwner, 'ownerPid' | 'ownerStartTime'>): Promise<boolean> {
  return (await processStartTime(owner.ownerPid)) === owner.ownerStartTime;
}

/**
 * Removes, on each host, every run of this machine whose owner is gone; a run of another machine is left alone.
 * Prints one line per run removed from a host. Then finishes the local records of dead runs whose hosts were not
 * among these (their reaper could not reach them) by reaching those hosts too.
 */
export async function sweepDeadRuns(hosts: readonly SshHost[]): Promise<void> {
  const machine = await thisMachine();
  await Promise.all(hosts.map(async (host) => {
    const listing = await host.exec(withArguments(LIST_SCRIPT, [host.target.label, REMOTE_ROOT]));
    for (const line of listing.split('\n').filter((entry) => entry.trim() !== '')) {
      const [id = '', ...rest] = line.split(' ');
      if (!ID_PATTERN.test(id)) continue;
      const recorded = rest.join(' ');
      let owner: RemoteOwner | undefined;
      try {
        owner = recorded === '-' ? undefined : (JSON.parse(recorded) as RemoteOwner);
      } catch {
        owner = undefined;
      }
      const local = await readRunState(id);
      const record = owner ?? local;
      if (record !== undefined && record.machine !== machine) continue;
      if (record !== undefined && (await ownerAlive(record))) continue;
      const why = record === undefined ? 'no owner recorded' : `owner ${record.ownerPid} gone`;
      console.error(`sweep: ${host.target.spec}: removed run ${id} (${why}): ${await removeFromHost(host, id)}`);
    }
  }));
  const swept = new Set(hosts.map((host) => host.target.label));
  for (const file of await readdir(LOCAL_STATE_DIR).catch(() => [] as string[])) {
    const id = file.replace(/\.json$/, '');
    const state = ID_PATTERN.test(id) ? await readRunState(id) : undefined;
    if (state === undefined || (await ownerAlive(state))) continue;
    const elsewhere = state.hosts.filter((spec) => !swept.has(parseTarget(spec).label));
    if (elsewhere.length > 0) await removeSshRun(id, elsewhere);
    else await rm(stateFileOf(id), { force: true });
  }
  await removeDeadControlDirs();
}

/** How old a control directory without a live master must be before it counts as dead (a run may be connecting). */
const CONTROL_DIR_GRACE_MS = 60_000;

/** The masters' socket directories of runs that are gone: no state file here and no socket that answers. */
async function removeDeadControlDirs(): Promise<void> {
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    const id = /^zkjssh-(zks[0-9a-f]{6})$/.exec(entry)?.[1];
    if (id === undefined || (await readRunState(id)) !== undefined) continue;
    const dir = join(tmpdir(), entry);
    const info = await stat(dir).catch(() => undefined);
    if (info === undefined || Date.now() - info.mtimeMs < CONTROL_DIR_GRACE_MS) continue;
    const sockets = await readdir(dir).catch(() => [] as string[]);
    const live = await Promise.all(sockets.map((socket) => answers(join(dir, socket))));
    if (!live.includes(true)) await rm(dir, { recursive: true, force: true });
  }
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/**
 * Removes a run from its recorded state (the reaper's job, and the sweep's for hosts it was not given): fresh
 * connections to each host, removal there, then the local records. Says what it removed.
 */
export async function removeSshRun(id: string, only?: readonly string[]): Promise<string> {
  const state = await readRunState(id);
  if (state === undefined) return 'nothing left';
  const controlDir = join(tmpdir(), `zkjssh-${id}-sweep-${process.pid}`);
  const results: string[] = [];
  let unreachable = 0;
  await Promise.all((only ?? state.hosts).map(async (spec) => {
    const host = new SshHost(parseTarget(spec), state.ssh, controlDir);
    try {
      await host.open();
      const removed = await removeFromHost(host, id);
      results.push(`${spec}: ${removed}`);
      console.error(`sweep: ${spec}: removed run ${id} (owner ${state.ownerPid} gone): ${removed}`);
    } catch (error) {
      unreachable += 1;
      results.push(`${spec}: unreachable (${error instanceof Error ? error.message : String(error)})`);
    } finally {
      await host.close();
    }
  }));
  await rm(controlDir, { recursive: true, force: true });
  await rm(controlDirOf(id), { recursive: true, force: true });
  if (unreachable === 0) await rm(stateFileOf(id), { force: true });
  return results.join('; ');
}
