/**
 * Client hosts over SSH (`--client-hosts`): the workers run there, spread over the hosts in turn (w1 on the first,
 * w2 on the second, ...), each beside a fault proxy of its host, so that every client-path fault still sits between
 * a worker and the servers. What a host needs is copied into the run's directory there (cluster/ssh/remote-run.ts):
 * the proxy and Node workers as esbuild bundles (with the native packages they load), a worker's other files
 * (Python and Java sources, jars with every jar their manifests name, a cached library) at the same absolute paths
 * under `files/`. The host itself must have Node 20 (the proxy) and the worker's interpreter (python3 with
 * python3-kazoo for kazoo 2.8.0, Java for Curator); both are checked, and a missing one is one line.
 *
 * A worker is the recipe's own command, started over its own SSH connection: its stdin and stdout are the
 * protocol's, so when this process dies the channel closes and the worker reads EOF and leaves. Freezing it is a
 * SIGSTOP of its process group on the host. The proxy's control port is reached through an SSH port forward, and
 * its events' clock (the host's CLOCK_MONOTONIC) is translated to this machine's by an offset measured at start.
 */
import { build, type Plugin } from 'esbuild';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from 'shell-quote';
import { ClusterError } from '../cluster/errors.ts';
import type { SshHost, SshOptions } from '../cluster/ssh/connection.ts';
import { jarClosure } from '../cluster/ssh/jars.ts';
import { SshRun, type StagedFile } from '../cluster/ssh/remote-run.ts';
import { parseTargets } from '../cluster/ssh/target.ts';
import { PROXY_MAIN, startProxy, type ProxyHandle } from '../nemesis/proxy/client.ts';
import type { WorkerLaunch } from '../workloads/recipes.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
const NODE_MODULES = join(PROJECT_ROOT, 'node_modules');
const MINIMUM_NODE = 20;
const CLOCK_SAMPLES = 15;

export interface ClientHostsOptions {
  /** `[user@]host[:port],...` */
  hosts: string;
  ssh: SshOptions;
  runDir: string;
}

/** A worker's command as a host runs it: the files to copy and the shell words, relative to the run's directory. */
interface RemoteCommand {
  files: StagedFile[];
  /** The program and arguments; `{dir}` in any of them is the run's directory on the host. */
  words: string[];
  /** Environment the recipe sets on top of the runner's own (PYTHONPATH, ...), same `{dir}` convention. */
  env: Record<string, string>;
}

const DIR = '{dir}';

/** A local path as the host sees it once copied: under files/, at the same absolute path. */
const mirrored = (path: string): string => `${DIR}/files${resolve(path)}`;

export class ClientHosts {
  /** Proxies by host, in host order, once started. */
  private readonly proxies: ProxyHandle[] = [];
  private readonly clockOffsetsNs: bigint[] = [];
  private readonly assignment = new Map<string, number>();
  private readonly prepared = new Map<string, Promise<RemoteCommand>>();
  private readonly signals = new Map<string, Promise<void>>();

  private constructor(private readonly run: SshRun) {}

  static async start(options: ClientHostsOptions): Promise<ClientHosts> {
    const run = await SshRun.start({ purpose: 'client hosts', targets: parseTargets(options.hosts, '--client-hosts'), ssh: options.ssh, runDir: options.runDir });
    const hosts = new ClientHosts(run);
    try {
      await Promise.all(run.hosts.map((host) => checkNode(host)));
      const proxy = await bundle(PROXY_MAIN, 'proxy');
      await Promise.all(run.hosts.map(async (host) => {
        await run.copy(host, proxy.files);
        hosts.clockOffsetsNs.push(0n);
      }));
      await Promise.all(run.hosts.map(async (host, index) => (hosts.clockOffsetsNs[index] = await clockOffsetNs(host))));
    } catch (error) {
      await run.remove();
      throw error;
    }
    return hosts;
  }

  get count(): number {
    return this.run.hosts.length;
  }

  /** Each host's SSH target as given, in order. */
  get specs(): string[] {
    return this.run.hosts.map((host) => host.target.spec);
  }

  /** host's CLOCK_MONOTONIC minus this machine's, as measured at start (nanoseconds). */
  clockOffsetNs(index: number): bigint {
    return this.clockOffsetsNs[index] ?? 0n;
  }

  /** Puts a client host (a worker) on the next SSH host in turn; the same name keeps its host. */
  assign(name: string): number {
    if (!this.assignment.has(name)) this.assignment.set(name, this.assignment.size % this.count);
    return this.assignment.get(name)!;
  }

  /** The index of the host a client host was assigned to, if any. */
  hostOf(name: string): number | undefined {
    return this.assignment.get(name);
  }

  /** Starts one fault proxy on every host, in front of `servers` (addresses the hosts reach). */
  async startProxies(servers: ReadonlyMap<number, { host: string; port: number }>, seed?: number): Promise<ProxyHandle[]> {
    const started = await Promise.all(this.run.hosts.map((host) => startProxy({
      servers,
      logFile: `${this.run.dir(host)}/proxy.log`,
      ...(seed === undefined ? {} : { seed }),
      launch: {
        spawn: (args) => host.spawnDedicated(tethered(`cd ${quote([this.run.dir(host)])} && env ${quote([this.run.marker(host)])} node bundle/proxy.mjs ${quote([...args])}`)),
        reach: async (apiPort) => (await host.forward(apiPort)).localPort,
      },
    })));
    this.proxies.push(...started);
    return started;
  }

  /** Makes 127.0.0.1:port on every host lead to 127.0.0.1:port here (the fenced resource's URL means the same there). */
  async shareLocalPort(port: number): Promise<void> {
    await Promise.all(this.run.hosts.map((host) => host.reverseForward(port)));
  }

  /**
   * The local command (an ssh client) that runs the worker on its host, and how to signal its process group there.
   * The first worker of a launch on a host copies what the launch needs.
   */
  async workerLaunch(name: string, launch: WorkerLaunch): Promise<{ command: string[]; signalGroup: (signal: NodeJS.Signals) => Promise<void> }> {
    const host = this.run.hosts[this.assign(name)]!;
    const dir = this.run.dir(host);
    const key = `${host.target.label} ${JSON.stringify(launch.command)}`;
    if (!this.prepared.has(key)) {
      this.prepared.set(key, (async () => {
        const remote = await remoteCommand(launch);
        await checkProgram(host, remote.words[0]!);
        await this.run.copy(host, remote.files);
        return remote;
      })());
    }
    const remote = await this.prepared.get(key)!;
    const fill = (word: string): string => word.replaceAll(DIR, dir);
    const env = [this.run.marker(host), ...Object.entries(remote.env).map(([variable, value]) => `${variable}=${fill(value)}`)];
    const pidFile = `${dir}/pids/${name}.pid`;
    // sshd makes each session's command a session leader: its pid is the group that SIGSTOP freezes, recorded first.
    const script = `mkdir -p ${quote([`${dir}/pids`])} && echo $$ > ${quote([pidFile])} && cd ${quote([dir])} && exec env ${quote([...env, ...remote.words.map(fill)])}`;
    return {
      command: host.dedicatedCommand(script),
      signalGroup: (signal) => {
        // In order: a resume sent after a pause must not overtake it on another channel. `kill -s SIG -- -PGID` is
        // the form both dash and bash take for a process group.
        const previous = this.signals.get(name) ?? Promise.resolve();
        const next = previous.then(() => host.exec(`kill -s ${signal.replace(/^SIG/, '')} -- -"$(cat ${quote([pidFile])})"`)).then(() => undefined);
        this.signals.set(name, next.catch(() => undefined));
        return next;
      },
    };
  }

  /** Fetches each host's proxy log into `<localDir>/proxy-<host>.log`, then removes the run from every host. */
  async teardown(localDir: string): Promise<void> {
    await Promise.all(this.proxies.splice(0).map((proxy) => proxy.close()));
    await Promise.all(this.run.hosts.map(async (host) => {
      await this.run.fetch(host, ['proxy.log'], join(localDir, 'client-hosts', host.target.label)).catch(() => undefined);
    }));
    await this.run.remove();
  }
}

/** A command that ends (SIGTERM to it) when its channel's stdin closes: for programs that never read their stdin. */
function tethered(command: string): string {
  return `${command} & child=$!; cat >/dev/null; kill -TERM $child 2>/dev/null; wait $child`;
}

async function checkNode(host: SshHost): Promise<void> {
  const version = (await host.exec('node --version 2>/dev/null || true')).trim();
  const major = Number(/^v(\d+)\./.exec(version)?.[1] ?? 0);
  if (major < MINIMUM_NODE) {
    throw new ClusterError(`${host.target.spec}: a client host needs Node ${MINIMUM_NODE} or newer for the fault proxy; it has ${version || 'no node on PATH'}`);
  }
}

async function checkProgram(host: SshHost, program: string): Promise<void> {
  const found = (await host.exec(`command -v ${quote([program])} || true`)).trim();
  if (found === '') throw new ClusterError(`${host.target.spec}: the worker needs '${program}', which is not there (install it on the client host)`);
}

/** Measures the host's monotonic clock against ours: the sample with the shortest round trip, its midpoint. */
async function clockOffsetNs(host: SshHost): Promise<bigint> {
  const probe = host.spawnShared(`exec node -e ${quote(["process.stdin.on('data', () => process.stdout.write(process.hrtime.bigint() + '\\n'))"])}`);
  const lines = createInterface({ input: probe.stdout })[Symbol.asyncIterator]();
  let best: { rtt: bigint; offset: bigint } | undefined;
  try {
    for (let sample = 0; sample < CLOCK_SAMPLES; sample++) {
      const sent = process.hrtime.bigint();
      probe.stdin.write('t\n');
      const answer = await lines.next();
      const received = process.hrtime.bigint();
      if (answer.done) throw new ClusterError(`${host.target.spec}: the clock probe ended early`);
      const rtt = received - sent;
      const offset = BigInt(answer.value.trim()) - (sent + received) / 2n;
      if (best === undefined || rtt < best.rtt) best = { rtt, offset };
    }
  } finally {
    probe.stdin.end();
  }
  return best!.offset;
}

/** Packages with a native addon stay outside a bundle and are copied whole, with what they depend on. */
function isNativePackage(name: string): boolean {
  return existsSync(join(NODE_MODULES, name, 'binding.gyp'));
}

const packageOf = (specifier: string): string => specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;

/** A package and its dependencies, recursively, as they sit in node_modules. */
function packageClosure(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || !existsSync(join(NODE_MODULES, name, 'package.json'))) return;
    seen.add(name);
    const manifest = JSON.parse(readFileSync(join(NODE_MODULES, name, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(dependency);
  };
  names.forEach(visit);
  return [...seen];
}

/** Bundles a TypeScript entry point for plain `node` into bundle/<name>.mjs; native packages go beside it. */
async function bundle(entry: string, name: string): Promise<{ files: StagedFile[]; path: string }> {
  const natives = new Set<string>();
  const keepNative: Plugin = {
    name: 'native-packages',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return undefined;
        const pkg = packageOf(args.path);
        if (!isNativePackage(pkg)) return undefined;
        natives.add(pkg);
        return { path: args.path, external: true };
      });
    },
  };
  const result = await build({
    entryPoints: [entry], bundle: true, write: false, platform: 'node', format: 'esm', target: 'node20', outfile: `${name}.mjs`,
    plugins: [keepNative], logLevel: 'silent',
    // CommonJS packages inside an ES module bundle still call require() for Node's own modules.
    banner: { js: "import { createRequire as __zkjCreateRequire } from 'node:module'; const require = __zkjCreateRequire(import.meta.url);" },
  });
  const files: StagedFile[] = [{ path: `bundle/${name}.mjs`, content: Buffer.from(result.outputFiles[0]!.contents) }];
  for (const pkg of packageClosure([...natives])) files.push({ path: `bundle/node_modules/${pkg}`, source: join(NODE_MODULES, pkg) });
  return { files, path: `${DIR}/bundle/${name}.mjs` };
}

const isPath = (text: string): boolean => text.startsWith(sep) && existsSync(text);

/** A word of the command or environment with every existing absolute path in it (colon lists too) mirrored. */
async function mirrorWord(word: string, files: StagedFile[]): Promise<string> {
  const parts = word.split(':');
  if (!parts.some(isPath)) return word;
  // A classpath: every jar the JVM would load here, listed, since the host has no manifests' paths.
  const expanded = parts.some((part) => part.endsWith('.jar') && isPath(part)) ? await jarClosure(parts.filter(isPath)) : parts;
  for (const part of expanded) if (isPath(part)) files.push({ path: `files${resolve(part)}`, source: part });
  return expanded.map((part) => (isPath(part) ? mirrored(part) : part)).join(':');
}

/**
 * A recipe's launch as a host runs it: `node --import tsx X.ts` becomes `node bundle/X.mjs`; every other argument
 * or environment value naming a file here names its copy there; the program itself must be on the host.
 */
export async function remoteCommand(launch: WorkerLaunch): Promise<RemoteCommand> {
  const files: StagedFile[] = [];
  const [program, ...args] = launch.command;
  if (program === undefined) throw new ClusterError('a worker with an empty command');
  const words: string[] = [program === process.execPath ? 'node' : program];
  for (let index = 0; index < args.length; index++) {
    const word = args[index]!;
    const next = args[index + 2];
    if (word === '--import' && args[index + 1] === 'tsx' && next !== undefined && next.endsWith('.ts') && isPath(next)) {
      const bundled = await bundle(next, relative(PROJECT_ROOT, next).replace(/\.ts$/, '').replaceAll(sep, '-'));
      files.push(...bundled.files);
      words.push(bundled.path);
      index += 2;
      continue;
    }
    words.push(await mirrorWord(word, files));
  }
  const env: Record<string, string> = {};
  for (const [variable, value] of Object.entries(launch.env)) {
    if (value === undefined || process.env[variable] === value) continue;
    env[variable] = await mirrorWord(value, files);
  }
  return { files: dedupe(files), words, env };
}

function dedupe(files: StagedFile[]): StagedFile[] {
  const seen = new Set<string>();
  return files.filter((file) => !seen.has(file.path) && seen.add(file.path) !== undefined)
    // A directory already copied whole covers the files under it.
    .filter((file, _, all) => !all.some((other) => other !== file && 'source' in other && statSync(other.source).isDirectory() && file.path.startsWith(`${other.path}/`)));
}
