/**
 * Ctrl-C in the middle of a run. The CLI runs in a process group of its own and the whole group gets
 * SIGINT a couple of seconds after clients start, as from a terminal, while servers are being paused. It must exit
 * 130, leave a parseable history that says it was interrupted, leave nothing behind (namespaces, the bridge, the
 * iptables rule, ZooKeeper servers, the proxy, workers), and `npm run check` on it must answer "unknown".
 * SIGKILL gives the CLI no chance to clean up: at five moments of a run (set-up, clients running, faults in force),
 * the runner alone or its whole process group (as a CI timeout does) is killed, and the servers must still follow
 * their owner: the cluster's reaper removes servers, namespaces, links and rules, and what was recorded checks as
 * "unknown".
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Results } from '../../checker/types.ts';
import { randomFor } from '../../ground/random.ts';
import { STATE_DIR } from '../../cluster/resources.ts';
import { exitWithin, linesOf, parseHistory, scratchDirectory, spawnScript, tail, type CliOutcome, type ParsedHistory } from './harness.ts';

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const RUN_BOUND_MS = 120_000;
/** The CLI gives its cleanups 20 s after a signal; beyond that it is not cleaning up, it is stuck. */
const EXIT_AFTER_SIGNAL_BOUND_MS = 40_000;

interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22, so that a recycled pid is not taken for a survivor. */
  startTime: string;
}

/** pid, parent pid, state and start time of every process, from /proc. */
async function processTable(): Promise<Map<number, { ppid: number; state: string; startTime: string }>> {
  const table = new Map<number, { ppid: number; state: string; startTime: string }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // Fields after the command name, which sits in parentheses and may hold spaces: state, ppid, ..., starttime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    table.set(Number(entry), { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! });
  }
  return table;
}

async function descendantsOf(root: number): Promise<ProcessIdentity[]> {
  const table = await processTable();
  const found: ProcessIdentity[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, info] of table) {
      if (info.ppid !== parent) continue;
      found.push({ pid, startTime: info.startTime });
      queue.push(pid);
    }
  }
  return found;
}

async function survivors(processes: ProcessIdentity[]): Promise<ProcessIdentity[]> {
  const table = await processTable();
  return processes.filter(({ pid, startTime }) => {
    const now = table.get(pid);
    return now !== undefined && now.startTime === startTime && now.state !== 'Z';
  });
}

/** The local cluster whose state file names `pid` as its owner. */
async function clusterOwnedBy(pid: number): Promise<string | undefined> {
  for (const file of await readdir(STATE_DIR).catch(() => [] as string[])) {
    if (!file.endsWith('.json')) continue;
    const state = JSON.parse(await readFile(join(STATE_DIR, file), 'utf8').catch(() => '{}')) as { id?: string; ownerPid?: number };
    if (state.ownerPid === pid) return state.id;
  }
  return undefined;
}

async function serverProcessesOf(clusterId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv.includes(`-Dzkj.cluster=${clusterId}`)) pids.push(Number(entry));
  }
  return pids;
}

async function waitFor(what: string, condition: () => Promise<boolean>, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${boundMs} ms`);
    await sleep(100);
  }
}

describe('a run interrupted with SIGINT', () => {
  let scratch: string;
  let outcome: CliOutcome;
  let runDir: string;
  let clusterId: string | undefined;
  let children: ProcessIdentity[];
  let history: ParsedHistory;

  beforeAll(async () => {
    scratch = await scratchDirectory();
    // No --seed: the run must choose one and record it.
    const cli = spawnScript('src/cli.ts', [
      '--backend', 'local', '--recipe', 'node-safe', '--workload', 'mutex', '--nemesis', 'pause', '--nemesis-interval', '1',
      '--time-limit', '60', '--clients', '4', '--workers', '2', '--results', scratch,
    ], { detached: true });
    const pid = cli.child.pid!;
    try {
      const historyPath = join(scratch, 'latest', 'history.jsonl');
      await waitFor('client operation in the history', async () => (await readFile(historyPath, 'utf8').catch(() => '')).includes('"kind":"op"'), RUN_BOUND_MS);
      await sleep(2_000);
      clusterId = await clusterOwnedBy(pid);
      children = await descendantsOf(pid);
      process.kill(-pid, 'SIGINT');
      outcome = await exitWithin(cli, EXIT_AFTER_SIGNAL_BOUND_MS);
    } catch (error) {
      if (cli.child.exitCode === null) process.kill(-pid, 'SIGTERM');
      const ended = await cli.exited;
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tail(ended.stderr)}`);
    }
    runDir = join(scratch, 'latest');
    history = await parseHistory(join(runDir, 'history.jsonl'));
  }, RUN_BOUND_MS + EXIT_AFTER_SIGNAL_BOUND_MS + 20_000);

  afterAll(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('exits 130', () => {
    expect(outcome.code, tail(outcome.stderr)).toBe(130);
  });

  it('leaves a parseable history that ends "interrupted", with the seed it chose', async () => {
    expect(history.unparsable).toEqual([]);
    const [header] = history.lines;
    expect(header?.kind).toBe('header');
    const config = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as { seed: unknown };
    expect(Number.isInteger(config.seed)).toBe(true);
    expect(header?.kind === 'header' ? header.config['seed'] : undefined).toBe(config.seed);
    expect(linesOf(history, 'op').length).toBeGreaterThan(0);
    expect(linesOf(history, 'snapshot').filter((snapshot) => snapshot.final)).toEqual([]);
    const last = history.lines.at(-1);
    expect(last?.kind === 'end' ? last.reason : last).toBe('interrupted');
  });

  it('leaves no namespace, link, iptables rule, server, proxy or worker behind', async () => {
    expect(clusterId, 'the cluster the run owned').toBeDefined();
    expect(children.length, 'processes the run had started').toBeGreaterThanOrEqual(3 + 1 + 2);
    const namespaces = (await run('ip', ['netns', 'list'])).stdout;
    expect(namespaces).not.toContain(clusterId);
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    expect(links).not.toContain(clusterId);
    const forward = (await run('iptables', ['-w', '-S', 'FORWARD'])).stdout;
    expect(forward).not.toContain(`--comment ${clusterId}`);
    expect(await serverProcessesOf(clusterId!)).toEqual([]);
    expect(await survivors(children)).toEqual([]);
    expect(existsSync(join(STATE_DIR, `${clusterId}.json`))).toBe(false);
  });

  it('checks again as "unknown" (exit 2) without crashing', async () => {
    const check = await exitWithin(spawnScript('src/check-cli.ts', [runDir]), 60_000);
    expect(check.stderr).not.toMatch(/^\s+at /m);
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(2);
    const results = JSON.parse(await readFile(join(runDir, 'results.json'), 'utf8')) as Results;
    expect(results.valid).toBe('unknown');
    expect(results.history.end).toBe('interrupted');
  });
});

describe('a run SIGKILLed at five moments', () => {
  /** Seconds after the CLI starts, drawn once from a fixed seed so a failure names a moment that can be tried again. */
  const draw = randomFor(13, 'sigkill moments');
  const moments = Array.from({ length: 5 }, (_, index) => Number((2 + index * 2.5 + draw.float() * 2).toFixed(1)));
  /** Kills that found a cluster to reap: most moments fall after the ensemble is up. */
  let reaped = 0;
  const REAPED_BOUND_MS = 30_000;
  let scratch: string;

  beforeAll(async () => {
    scratch = await scratchDirectory();
  });

  afterAll(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it.each(moments.map((seconds, index) => [index, seconds, index % 2 === 0 ? 'runner alone' : 'whole process group'] as const))(
    'kill %i at %d s (%s): the reaper removes the servers, namespaces and rules; what was recorded checks as unknown',
    async (index, seconds, whom) => {
      const results = join(scratch, `run-${index}`);
      const cli = spawnScript('src/cli.ts', [
        '--backend', 'local', '--recipe', 'node-safe', '--workload', 'mutex', '--nemesis', 'kill,partition', '--nemesis-interval', '1',
        '--time-limit', '30', '--clients', '4', '--workers', '2', '--seed', String(index), '--results', results,
      ], { detached: true });
      const pid = cli.child.pid!;
      await sleep(seconds * 1000);
      const clusterId = await clusterOwnedBy(pid);
      process.kill(whom === 'runner alone' ? pid : -pid, 'SIGKILL');
      await cli.exited;

      if (clusterId !== undefined) {
        const leftovers = async (): Promise<string[]> => {
          const found: string[] = [];
          if ((await serverProcessesOf(clusterId)).length > 0) found.push('servers');
          if ((await run('ip', ['netns', 'list'])).stdout.includes(clusterId)) found.push('namespaces');
          if ((await run('ip', ['-o', 'link', 'show'])).stdout.includes(clusterId)) found.push('links');
          if ((await run('iptables', ['-w', '-S'])).stdout.includes(`--comment ${clusterId}`)) found.push('iptables rules');
          return found;
        };
        await waitFor(`the reaper of ${clusterId} to remove ${(await leftovers()).join(', ')}`, async () => (await leftovers()).length === 0, REAPED_BOUND_MS);
        reaped += 1;
      }

      const runDir = join(results, 'latest');
      if (!existsSync(join(runDir, 'history.jsonl'))) return; // killed before the run had a directory: nothing recorded
      const history = await parseHistory(join(runDir, 'history.jsonl'));
      expect(history.unparsable).toEqual([]);
      expect(history.lines[0]?.kind).toBe('header');
      const check = await exitWithin(spawnScript('src/check-cli.ts', [runDir]), 60_000);
      expect(check.stderr).not.toMatch(/^\s+at /m);
      expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(2);
    },
    90_000,
  );

  it('found a cluster to reap at three moments or more', () => {
    expect(reaped).toBeGreaterThanOrEqual(3);
  });
});
