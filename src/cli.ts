/**
 * `npm run jepsen -- [flags]`: parse, validate, run, and exit with the verdict (src/exit-codes.ts).
 * `npm run jepsen -- compare [flags]`: a matrix of such runs (src/compare.ts).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { ClusterError } from '../cluster/errors.ts';
import { DEFAULT_ZOOKEEPER_VERSION, ZOOKEEPER_VERSIONS, type ZooKeeperVersion } from '../cluster/zookeeper.ts';
import { parseConnectString } from '../cluster/external.ts';
import { BACKENDS, LEADER_RECIPES, NEMESES, SERVER_NEMESES, RECIPE_CHOICES, WORKLOADS, type LeaderRecipe, type NemesisName, type RunConfig } from './config.ts';
import { EXIT, UserError } from '../ground/errors.ts';
import { parseRecipes, parseScenarios, parseWorkloads, runCompare } from './compare.ts';
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
  if (names.includes('all')) return [...NEMESES];
  for (const name of names) {
    if (!(NEMESES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown nemesis '${name}'; choose from ${NEMESES.join(', ')}, all or none.`);
    }
  }
  return [...new Set(names)] as NemesisName[];
}

function onOff(text: string): boolean {
  if (text === 'on') return true;
  if (text === 'off') return false;
  throw new InvalidArgumentError("expected 'on' or 'off'.");
}

function runCommand(): Command {
  return new Command('jepsen')
    .description('zk-lock-jepsen: run one test (an ensemble, a fault proxy, workers driving a lock recipe, nemeses), then check it and write a report')
    .addOption(new Option('--recipe <name>', 'lock recipe under test').choices(RECIPE_CHOICES).default('node-safe'))
    .option('--worker <command>', 'your own worker command (docs/worker-protocol.md) instead of a shipped recipe')
    .addOption(new Option('--workload <name>', 'what clients do').choices([...WORKLOADS]).default('mutex'))
    .option('--nemesis <list>', `faults, comma separated: ${NEMESES.join(', ')}, all or none`, nemesisList, [])
    .option('--time-limit <s>', 'seconds of client operations', integer(1, 86_400), 60)
    .option('--clients <n>', 'lock clients (ZooKeeper sessions)', integer(1, 10_000), 8)
    .option('--workers <n>', 'worker processes (client hosts) the clients are spread over', integer(1, 256), 4)
    .option('--locks <n>', 'distinct locks', integer(1, 100_000), 4)
    .option('--hold <ms>', 'how long a holder keeps the lock', integer(0, 600_000), 50)
    .option('--session-timeout <ms>', 'ZooKeeper session timeout', integer(1, 600_000), 2000)
    .option('--acquire-timeout <ms>', 'blocking acquires give up after this long', integer(1, 600_000), 5000)
    .option('--nemesis-interval <s>', 'seconds between faults', integer(1, 3_600), 5)
    .option('--snapshot-interval <s>', 'seconds between mid-run snapshots of every lock directory; 0 for none', integer(0, 3_600), 10)
    .option('--fencing <on|off>', 'fenced-counter and leader: the resource rejects stale tokens', onOff, true)
    .option('--permits <n>', 'semaphore: leases per semaphore', integer(1, 10_000), 2)
    .addOption(new Option('--leader-recipe <name>', "leader: Curator's LeaderLatch or LeaderSelector (other workers ignore it)").choices([...LEADER_RECIPES]).default('latch'))
    .option('--seed <n>', 'seed for every random choice (default: a random one, recorded)', integer(0, 2 ** 31 - 1))
    .option('--nodes <n>', 'ZooKeeper servers', integer(1, 9), 3)
    .option('--tick-time <ms>', 'ZooKeeper tickTime (sessions may last 2 to 20 ticks)', integer(10, 10_000), 200)
    .addOption(new Option('--zk-version <version>', 'ZooKeeper server version (3.9.6 is fetched into .cache/debs)').choices([...ZOOKEEPER_VERSIONS]).default(DEFAULT_ZOOKEEPER_VERSION))
    .addOption(new Option('--backend <name>', 'where the ensemble runs: auto is docker when a daemon answers, else local; external is one you started').choices([...BACKENDS]).default('auto'))
    .option('--connect <servers>', 'with --backend external: the ensemble, host:port[,host:port...]')
    .option('--results <dir>', 'where runs are written', 'results')
    .allowExcessArguments(false);
}

interface RunFlags {
  recipe: RunConfig['recipe']; worker?: string; workload: RunConfig['workload']; nemesis: NemesisName[];
  timeLimit: number; clients: number; workers: number; locks: number; hold: number; sessionTimeout: number;
  acquireTimeout: number; nemesisInterval: number; snapshotInterval: number; fencing: boolean; permits: number; leaderRecipe: LeaderRecipe; seed?: number; nodes: number; tickTime: number; zkVersion: ZooKeeperVersion;
  backend: RunConfig['backend']; connect?: string; results: string;
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
  const serverFaults = flags.nemesis.filter((name) => SERVER_NEMESES.includes(name));
  if (flags.backend === 'external' && serverFaults.length > 0) {
    throw new UserError(`--nemesis ${serverFaults.join(',')} acts on servers, which --backend external does not own.`);
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
    snapshotIntervalS: flags.snapshotInterval,
    fencing: flags.fencing,
    // Only where they mean something, so every other run's config and command stay as they were.
    ...(flags.workload === 'semaphore' ? { permits: flags.permits } : {}),
    ...(flags.workload === 'leader' ? { leaderRecipe: flags.leaderRecipe } : {}),
    seed: flags.seed ?? randomInt(0, 2 ** 31 - 1),
    nodes: flags.nodes,
    tickTimeMs: flags.tickTime,
    zkVersion: flags.zkVersion,
    backend: flags.backend,
    ...(flags.connect === undefined ? {} : { connect: flags.connect }),
    results: flags.results,
  };
}

/** Flags the compare matrix sets for each run; every other flag of a run passes through to every run unchanged. */
const MATRIX_FLAGS = new Set(['--recipe', '--worker', '--workload', '--nemesis', '--seed', '--results']);

type CompareFlags = Omit<RunFlags, 'recipe' | 'worker' | 'workload' | 'nemesis' | 'seed'> & {
  recipes: RunConfig['recipe'][]; nemesis: Scenario[]; workload: RunConfig['workload'][]; runs: number; seed?: number;
};

/** The run's own options (so new ones join by themselves), minus the matrix's; `passThrough` collects them as typed. */
function compareCommand(passThrough: string[]): Command {
  const command = new Command('compare')
    .description('run a matrix, recipes × scenarios (× workloads) × k seeds, each an ordinary run with its report; write compare-<time>/index.html and compare.json')
    .requiredOption('--recipes <list>', `recipes, comma separated: ${RECIPE_CHOICES.join(', ')}`, parseRecipes)
    .addOption(new Option('--nemesis <list>', 'scenarios, comma separated: a nemesis, several joined with + (kill+pause+partition), all, or none')
      .argParser(parseScenarios).default(parseScenarios('none'), 'none'))
    .option('--workload <list>', `workloads, comma separated: ${WORKLOADS.join(', ')}`, parseWorkloads, ['mutex'])
    .option('--runs <k>', 'runs (seeds) per cell', integer(1, 1_000), 1)
    .option('--seed <n>', 'run i of every cell uses seed + i (default: a random one, recorded)', integer(0, 2 ** 31 - 1))
    .option('--results <dir>', 'the comparison goes to <dir>/compare-<time>/', 'results')
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
  return runCompare({ recipes: flags.recipes, scenarios: flags.nemesis, workloads: flags.workload, runs: flags.runs, firstSeed, results: flags.results, passThrough });
}

async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.crashed;
  const program = runCommand().exitOverride().action(async (flags: RunFlags) => {
    const config = toRunConfig(flags);
    const { runTest } = await import('./runner.ts');
    exitCode = await runTest(config);
  });
  const passThrough: string[] = [];
  // Positional options: flags after `compare` are the subcommand's, even those both commands know.
  program.enablePositionalOptions().addCommand(compareCommand(passThrough).exitOverride().action(async (flags: CompareFlags) => {
    exitCode = await compare(flags, passThrough);
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
    if (error instanceof ClusterError) {
      // A missing prerequisite or a refused resource (not root, no Java, a busy subnet): said as it is.
      console.error(`jepsen: ${error.message}`);
      return EXIT.environment;
    }
    console.error(`jepsen: the run crashed: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env['JEPSEN_DEBUG'] !== undefined && error instanceof Error) console.error(error.stack);
    return EXIT.crashed;
  }
}

process.exitCode = await main(process.argv.slice(2));
