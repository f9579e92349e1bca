/** `npm run jepsen -- [flags]`: parse, validate, run, and exit with the verdict (src/exit-codes.ts). */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { randomInt } from 'node:crypto';
import { BACKENDS, NEMESES, RECIPE_CHOICES, WORKLOADS, type NemesisName, type RunConfig } from './config.ts';
import { EXIT, UserError } from './exit-codes.ts';

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
    .option('--fencing <on|off>', 'fenced-counter: the resource rejects stale tokens', onOff, true)
    .option('--seed <n>', 'seed for every random choice (default: a random one, recorded)', integer(0, 2 ** 31 - 1))
    .option('--nodes <n>', 'ZooKeeper servers', integer(1, 9), 3)
    .option('--tick-time <ms>', 'ZooKeeper tickTime (sessions may last 2 to 20 ticks)', integer(10, 10_000), 200)
    .addOption(new Option('--backend <name>', 'where the ensemble runs: auto is docker when a daemon answers, else local').choices([...BACKENDS]).default('auto'))
    .option('--results <dir>', 'where runs are written', 'results')
    .allowExcessArguments(false);
}

interface RunFlags {
  recipe: RunConfig['recipe']; worker?: string; workload: RunConfig['workload']; nemesis: NemesisName[];
  timeLimit: number; clients: number; workers: number; locks: number; hold: number; sessionTimeout: number;
  acquireTimeout: number; nemesisInterval: number; fencing: boolean; seed?: number; nodes: number; tickTime: number;
  backend: RunConfig['backend']; results: string;
}

export function toRunConfig(flags: RunFlags): RunConfig {
  const minSession = 2 * flags.tickTime;
  const maxSession = 20 * flags.tickTime;
  // ZooKeeper clamps session timeouts silently; a run whose timeout is not the one asked for would mislead.
  if (flags.sessionTimeout < minSession || flags.sessionTimeout > maxSession) {
    throw new UserError(`--session-timeout ${flags.sessionTimeout} is outside what --tick-time ${flags.tickTime} allows (${minSession} to ${maxSession} ms).`);
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
    fencing: flags.fencing,
    seed: flags.seed ?? randomInt(0, 2 ** 31 - 1),
    nodes: flags.nodes,
    tickTimeMs: flags.tickTime,
    backend: flags.backend,
    results: flags.results,
  };
}

async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.crashed;
  const program = runCommand().exitOverride().action(async (flags: RunFlags) => {
    const config = toRunConfig(flags);
    const { runTest } = await import('./runner.ts');
    exitCode = await runTest(config);
  });
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

process.exitCode = await main(process.argv.slice(2));
