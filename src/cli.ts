/**
 * `npm run jepsen -- [flags]`: parse, validate, run, and exit with the verdict (ground/errors.ts).
 * `npm run jepsen -- compare [flags]`: a matrix of such runs (src/compare.ts).
 * `npm run jepsen -- replay <run-dir>`, `npm run jepsen -- shrink <run-dir>`: a recorded schedule run again, or
 * shrunk to its smallest reproducer (src/replay.ts, src/shrink.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BACKEND_NAMES, BACKENDS, type BackendName, type Capability } from '../cluster/index.ts';
import { DEFAULT_ZOOKEEPER_VERSION, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from '../cluster/zookeeper.ts';
import { parseConnectString } from '../cluster/external.ts';
import { parseTargets } from '../cluster/ssh/target.ts';
import { EXIT, UserError } from '../ground/errors.ts';
import { NEMESES, NEMESIS_NAMES, isNemesisName, type NemesisName } from '../nemesis/index.ts';
import { serverTargetProblem } from '../nemesis/targets.ts';
import { TARGETS, type TargetSpec } from '../nemesis/types.ts';
import { RECIPE_NAMES } from '../workloads/recipes.ts';
import { LEADER_RECIPES, WORKLOAD_NAMES, type LeaderRecipe } from '../workloads/workloads.ts';
import { checkWorkerCommand, ensureWritableDirectory } from './arguments.ts';
import type { RunConfig } from './config.ts';
import { parseRecipes, parseScenarios, parseWorkloads, readBaseline, runCompare } from './compare.ts';
import type { Scenario } from './compare-summary.ts';

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}.`);
    }
    return value;
  };
}

function nemesisList(text: string): NemesisName[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '' && name !== 'none');
  if (names.includes('all')) return [...NEMESIS_NAMES];
  for (const name of names) {
    if (!isNemesisName(name)) throw new InvalidArgumentError(`unknown nemesis '${name}'; choose from ${NEMESIS_NAMES.join(', ')}, all or none.`);
  }
  return [...new Set(names)] as NemesisName[];
}

function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://127.0.0.1:8474.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('expected an http:// or https:// URL.');
  return text.replace(/\/+$/, '');
}

function onOff(text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new InvalidArgumentError("expected 'on' or 'off'.");
}

function runCommand(): Command {
  return new Command('jepsen')
    .description('zk-lock-jepsen: run one test (an ensemble, a fault proxy, workers driving a lock recipe, nemeses), then check it and write a report')
    .addOption(new Option('--recipe <name>', 'lock recipe under test').choices(RECIPE_NAMES).default('node-safe'))
    .option('--worker <command>', 'your own worker command (docs/worker-protocol.md) instead of a shipped recipe')
    .addOption(new Option('--workload <name>', 'what clients do').choices(WORKLOAD_NAMES).default('mutex'))
    .option('--nemesis <list>', `faults, comma separated: ${NEMESIS_NAMES.join(', ')}, all or none`, nemesisList, [])
    .option('--time-limit <s>', 'seconds of client operations', integer(1, 86_400), 60)
    .option('--clients <n>', 'lock clients (ZooKeeper sessions)', integer(1, 10_000), 8)
    .option('--workers <n>', 'worker processes (client hosts) the clients are spread over', integer(1, 256), 4)
    .option('--locks <n>', 'distinct locks', integer(1, 100_000), 4)
    .option('--hold <ms>', 'how long a holder keeps the lock', integer(0, 600_000), 50)
    .option('--session-timeout <ms>', 'ZooKeeper session timeout', integer(1, 600_000), 2000)
    .option('--acquire-timeout <ms>', 'blocking acquires give up after this long', integer(1, 600_000), 5000)
    .option('--nemesis-interval <s>', 'seconds between faults', integer(1, 3_600), 5)
    .addOption(new Option('--nemesis-target <target>', 'what a fault hits: servers for kill, pause, partition; client hosts for partition-clients and pause-holder').choices([...TARGETS]).default('one'))
    .option('--fault-duration <ms>', 'how long each fault stays before it heals (default: each nemesis its own)', integer(1, 3_600_000))
    .option('--snapshot-interval <s>', 'seconds between mid-run snapshots of every lock directory; 0 for none', integer(0, 3_600), 10)
    .option('--fencing <on|off>', 'fenced-counter and leader: the resource rejects stale tokens', onOff, true)
    .option('--permits <n>', 'semaphore: leases per semaphore', integer(1, 10_000), 2)
    .addOption(new Option('--leader-recipe <name>', "leader: Curator's LeaderLatch or LeaderSelector (other workers ignore it)").choices([...LEADER_RECIPES]).default('latch'))
    .option('--seed <n>', 'seed for every random choice (default: a random one, recorded)', integer(0, 2 ** 31 - 1))
    .option('--nodes <n>', 'ZooKeeper servers', integer(1, 9), 3)
    .option('--tick-time <ms>', 'ZooKeeper tickTime (sessions may last 2 to 20 ticks)', integer(10, 10_000), 200)
    .addOption(new Option('--zk-version <version>', 'ZooKeeper server version (3.9.6 is fetched into .cache/debs)').choices([...ZOOKEEPER_VERSIONS]).default(DEFAULT_ZOOKEEPER_VERSION))
    .addOption(new Option('--backend <name>', 'where the ensemble runs: auto is docker when a daemon answers, else local; external is one you started').choices([...BACKEND_NAMES, 'auto']).default('auto'))
    .option('--connect <servers>', 'with --backend external: the ensemble, host:port[,host:port...]')
    .option('--toxiproxy <url>', 'the Toxiproxy server (http://127.0.0.1:8474) to carry the client-path faults instead of the built-in proxy', httpUrl)
    .option('--hosts <hosts>', 'with --backend ssh: one server on each of these hosts, [user@]host[:port][,...] (root, Debian or Ubuntu)')
    .option('--client-hosts <hosts>', 'run the workers on these hosts over SSH, [user@]host[:port][,...], each with a fault proxy beside them (Node 20 there)')
    .option('--ssh-key <file>', 'the private key for --hosts and --client-hosts (default: what ssh offers)')
    .option('--ssh-accept-new', "take a host's first key when known_hosts has none for it (a changed key is still refused)")
    .option('--results <dir>', 'where runs are written', 'results')
    .option('--junit <file>', 'also write the verdict as JUnit XML for CI test reporters')
    .allowExcessArguments(false);
}

interface RunFlags {
  recipe: RunConfig['recipe']; worker?: string; workload: RunConfig['workload']; nemesis: NemesisName[];
  timeLimit: number; clients: number; workers: number; locks: number; hold: number; sessionTimeout: number;
  acquireTimeout: number; nemesisInterval: number; nemesisTarget: TargetSpec; faultDuration?: number; snapshotInterval: number; fencing: boolean;
  permits: number; leaderRecipe: LeaderRecipe;
  seed?: number; nodes: number; tickTime: number; zkVersion: ZooKeeperVersion; backend: RunConfig['backend']; connect?: string; toxiproxy?: string; results: string; junit?: string;
  hosts?: string; clientHosts?: string; sshKey?: string; sshAcceptNew?: boolean;
  /** Whether --nodes was given (not its default): with --hosts the hosts decide. */
  nodesGiven?: boolean;
}

/** The ssh flags: hosts that parse, a key that is a readable file, servers that remote workers can reach. */
function sshFlags(flags: RunFlags): { nodes: number } {
  if ((flags.backend === 'ssh') !== (flags.hosts !== undefined)) throw new UserError('--backend ssh and --hosts go together.');
  if (flags.clientHosts !== undefined && flags.backend !== 'ssh' && flags.backend !== 'external') {
    throw new UserError(`--client-hosts needs servers those hosts reach: --backend ssh or external, not ${flags.backend} (its servers live on this machine's private network).`);
  }
  const usesSsh = flags.hosts !== undefined || flags.clientHosts !== undefined;
  if (!usesSsh && (flags.sshKey !== undefined || flags.sshAcceptNew)) throw new UserError('--ssh-key and --ssh-accept-new go with --hosts or --client-hosts.');
  if (flags.sshKey !== undefined) {
    try {
      accessSync(flags.sshKey, constants.R_OK);
      if (!statSync(flags.sshKey).isFile()) throw new Error('not a file');
    } catch (error) {
      throw new UserError(`--ssh-key ${flags.sshKey}: not a readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
    }
  }
  const parse = (list: string, flag: string): number => {
    try {
      return parseTargets(list, flag).length;
    } catch (error) {
      throw new UserError((error as Error).message);
    }
  };
  if (flags.clientHosts !== undefined) parse(flags.clientHosts, '--client-hosts');
  if (flags.hosts === undefined) return { nodes: flags.nodes };
  const count = parse(flags.hosts, '--hosts');
  if (flags.nodesGiven && flags.nodes !== count) throw new UserError(`--nodes ${flags.nodes} but --hosts names ${count} hosts: one server runs on each host.`);
  if (count > 9) throw new UserError(`--hosts names ${count} hosts; at most 9 servers.`);
  return { nodes: count };
}

/** What a backend can do to its servers; auto is docker or local, which can do the same. */
function capabilitiesOf(backend: BackendName | 'auto'): readonly Capability[] {
  return BACKENDS[backend === 'auto' ? 'local' : backend].capabilities;
}

export function toRunConfig(flags: RunFlags): RunConfig {
  const minSession = 2 * flags.tickTime;
  const maxSession = 20 * flags.tickTime;
  // ZooKeeper clamps session timeouts silently; a run whose timeout is not the one asked for would mislead.
  if (flags.sessionTimeout < minSession || flags.sessionTimeout > maxSession) {
    throw new UserError(`--session-timeout ${flags.sessionTimeout} is outside what --tick-time ${flags.tickTime} allows (${minSession} to ${maxSession} ms).`);
  }
  if ((flags.backend === 'external') !== (flags.connect !== undefined)) {
    throw new UserError('--backend external and --connect go together.');
  }
  if (flags.connect !== undefined) {
    try {
      parseConnectString(flags.connect);
    } catch (error) {
      throw new UserError((error as Error).message);
    }
  }
  const { nodes } = sshFlags(flags);
  const capabilities = capabilitiesOf(flags.backend);
  const beyondBackend = flags.nemesis.filter((name) => NEMESES[name].needs.some((need) => need !== 'zookeeper-aware-proxy' && !capabilities.includes(need)));
  if (beyondBackend.length > 0) {
    throw new UserError(`--nemesis ${beyondBackend.join(',')} acts on servers, which --backend ${flags.backend} does not own.`);
  }
  const targetProblem = serverTargetProblem(flags.nemesisTarget, nodes);
  if (targetProblem !== undefined) throw new UserError(`--nemesis-target ${flags.nemesisTarget}: ${targetProblem}.`);
  if (flags.faultDuration !== undefined && flags.faultDuration < flags.tickTime) {
    throw new UserError(`--fault-duration ${flags.faultDuration} is shorter than one tick (--tick-time ${flags.tickTime}): no fault would be seen.`);
  }
  if (flags.worker !== undefined) checkWorkerCommand(flags.worker);
  // A Toxiproxy server has Toxiproxy's toxics only: refuse what needs this project's ZooKeeper-aware ones.
  const zookeeperAware = flags.toxiproxy === undefined ? [] : flags.nemesis.filter((name) => NEMESES[name].needs.includes('zookeeper-aware-proxy'));
  if (zookeeperAware.length > 0) {
    throw new UserError(`--nemesis ${zookeeperAware.join(',')} needs this project's ZooKeeper-aware toxics, which a Toxiproxy server does not have; run ${zookeeperAware.length === 1 ? 'it' : 'them'} without --toxiproxy.`);
  }
  return {
    recipe: flags.worker === undefined ? flags.recipe : 'custom',
    ...(flags.worker === undefined ? {} : { worker: flags.worker }),
    workload: flags.workload,
    nemesis: flags.nemesis,
    timeLimitS: flags.timeLimit,
    clients: flags.clients,
    workers: Math.min(flags.workers, flags.clients),
    locks: flags.locks,
    holdMs: flags.hold,
    sessionTimeoutMs: flags.sessionTimeout,
    acquireTimeoutMs: flags.acquireTimeout,
    nemesisIntervalS: flags.nemesisInterval,
    nemesisTarget: flags.nemesisTarget,
    ...(flags.faultDuration === undefined ? {} : { faultDurationMs: flags.faultDuration }),
    snapshotIntervalS: flags.snapshotInterval,
    fencing: flags.fencing,
    // Only where they mean something, so every other run's config and command stay as they were.
    ...(flags.workload === 'semaphore' ? { permits: flags.permits } : {}),
    ...(flags.workload === 'leader' ? { leaderRecipe: flags.leaderRecipe } : {}),
    seed: flags.seed ?? randomInt(0, 2 ** 31 - 1),
    nodes,
    tickTimeMs: flags.tickTime,
    zkVersion: flags.zkVersion,
    backend: flags.backend,
    ...(flags.connect === undefined ? {} : { connect: flags.connect }),
    ...(flags.toxiproxy === undefined ? {} : { toxiproxy: flags.toxiproxy }),
    ...(flags.hosts === undefined ? {} : { hosts: flags.hosts }),
    ...(flags.clientHosts === undefined ? {} : { clientHosts: flags.clientHosts }),
    ...(flags.sshKey === undefined ? {} : { sshKey: resolve(flags.sshKey) }),
    ...(flags.sshAcceptNew ? { sshAcceptNew: true } : {}),
    results: flags.results,
  };
}

/** Flags the compare matrix sets for each run; every other flag of a run passes through to every run unchanged. */
const MATRIX_FLAGS = new Set(['--recipe', '--worker', '--workload', '--nemesis', '--seed', '--results', '--junit']);

type CompareFlags = Omit<RunFlags, 'recipe' | 'worker' | 'workload' | 'nemesis' | 'seed'> & {
  recipes: RunConfig['recipe'][]; nemesis: Scenario[]; workload: RunConfig['workload'][]; runs: number; seed?: number; baseline?: string;
};

/** The run's own options (so new ones join by themselves), minus the matrix's; `passThrough` collects them as typed. */
function compareCommand(passThrough: string[]): Command {
  const command = new Command('compare')
    .description('run a matrix, recipes × scenarios (× workloads) × k seeds, each an ordinary run with its report; write compare-<time>/index.html and compare.json')
    .requiredOption('--recipes <list>', `recipes, comma separated: ${RECIPE_NAMES.join(', ')}`, parseRecipes)
    .addOption(new Option('--nemesis <list>', 'scenarios, comma separated: a nemesis, several joined with + (kill+pause+partition), all, or none')
      .argParser(parseScenarios).default(parseScenarios('none'), 'none'))
    .option('--workload <list>', `workloads, comma separated: ${WORKLOAD_NAMES.join(', ')}`, parseWorkloads, ['mutex'])
    .option('--runs <k>', 'runs (seeds) per cell', integer(1, 1_000), 1)
    .option('--seed <n>', 'run i of every cell uses seed + i (default: a random one, recorded)', integer(0, 2 ** 31 - 1))
    .option('--results <dir>', 'the comparison goes to <dir>/compare-<time>/', 'results')
    .option('--junit <file>', 'also write JUnit XML: a testsuite per cell, a testcase per check of each run')
    .option('--baseline <compare.json>', 'report the cells whose verdict or anomaly types changed since that comparison')
    .allowExcessArguments(false);
  for (const option of runCommand().options) {
    if (MATRIX_FLAGS.has(option.long ?? '')) continue;
    command.addOption(option);
    // Commander's own listener has validated the value by now; each run parses the same text again.
    command.on(`option:${option.name()}`, (value: string | null) => passThrough.push(option.long!, ...(value === null ? [] : [value])));
  }
  return command;
}

async function compare(flags: CompareFlags, passThrough: string[]): Promise<number> {
  // Every run of the matrix must be one the run command accepts: check them all before the first starts.
  for (const scenario of flags.nemesis) {
    toRunConfig({ ...flags, recipe: flags.recipes[0]!, workload: flags.workload[0]!, nemesis: scenario.nemesis });
  }
  const largestSeed = 2 ** 31 - 1;
  const firstSeed = flags.seed ?? randomInt(0, largestSeed - flags.runs + 2);
  if (firstSeed + flags.runs - 1 > largestSeed) throw new UserError(`--seed ${firstSeed} with --runs ${flags.runs} goes past the largest seed, ${largestSeed}.`);
  const baseline = flags.baseline === undefined ? undefined : await readBaseline(flags.baseline);
  // Last of the checks, as it creates the results directory.
  ensureWritableDirectory('--results', flags.results);
  return runCompare({
    recipes: flags.recipes, scenarios: flags.nemesis, workloads: flags.workload, runs: flags.runs, firstSeed, results: flags.results, passThrough,
    ...(flags.junit === undefined ? {} : { junit: flags.junit }), ...(baseline === undefined ? {} : { baseline }),
  });
}

/** The whole command: parses `argv`, runs, and returns the exit code; errors are one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.crashed;
  const program = runCommand().exitOverride();
  program.action(async (flags: RunFlags) => {
    const config = toRunConfig({ ...flags, nodesGiven: program.getOptionValueSource('nodes') === 'cli' });
    // Last of the checks, as it creates the results directory: everything else was fine.
    ensureWritableDirectory('--results', config.results);
    const { runTest } = await import('./runner.ts');
    ({ exitCode } = await runTest(config, flags.junit === undefined ? {} : { junit: flags.junit }));
  });
  const passThrough: string[] = [];
  // Positional options: flags after `compare` are the subcommand's, even those both commands know.
  program.enablePositionalOptions().addCommand(compareCommand(passThrough).exitOverride().action(async (flags: CompareFlags) => {
    exitCode = await compare(flags, passThrough);
  }));
  program.addCommand(new Command('replay')
    .description('a fresh run with a recorded run\'s config, carrying out its recorded fault schedule (schedule.json) instead of drawing one')
    .argument('<run-dir>', 'the run to replay')
    .option('--results <dir>', 'where the replay goes (default: beside the original)')
    .allowExcessArguments(false)
    .exitOverride()
    .action(async (runDir: string, options: { results?: string }) => {
      if (options.results !== undefined) ensureWritableDirectory('--results', options.results);
      const { replay } = await import('./replay.ts');
      exitCode = await replay(runDir, options);
    }));
  program.addCommand(new Command('shrink')
    .description('from an invalid run, look for a smaller run (fewer faults, clients, locks, a shorter time) that still shows its anomaly')
    .argument('<run-dir>', 'the invalid run to shrink')
    .option('--budget <n>', 'runs at most', integer(1, 1_000), 12)
    .option('--anomaly <type>', 'the anomaly type to keep (default: the original\'s first: double-holder, leaked-node, stuck-acquire, ...)')
    .option('--results <dir>', 'where shrink-<time>/ goes (default: beside the original)')
    .allowExcessArguments(false)
    .exitOverride()
    .action(async (runDir: string, options: { budget: number; anomaly?: string; results?: string }) => {
      if (options.results !== undefined) ensureWritableDirectory('--results', options.results);
      const { shrink } = await import('./shrink.ts');
      exitCode = await shrink(runDir, options);
    }));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its one-line message already; help and version are not errors.
      return error.exitCode === 0 ? 0 : EXIT.badArguments;
    }
    if (error instanceof UserError) {
      console.error(`jepsen: ${error.message}`);
      return error.exitCode;
    }
    console.error(`jepsen: the run crashed: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env['JEPSEN_DEBUG'] !== undefined && error instanceof Error) console.error(error.stack);
    return EXIT.crashed;
  }
}

// Run as the program (npm run jepsen, a compare's child runs), not when a test imports main.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main(process.argv.slice(2));
