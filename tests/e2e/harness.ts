/**
 * End-to-end harness: runs the real CLI (`node --import tsx src/cli.ts`) as a child process against real
 * ensembles, each run in its own temporary results directory, and reads back what a user would: the exit code,
 * history.jsonl, results.json, config.json and results/latest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AnomalyType, Results } from '../../checker/types.ts';
import type { RunConfig } from '../../src/config.ts';
import type { HistoryLine } from '../../ground/history.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');

/** What a finished CLI process left: its exit code and output. */
export interface CliOutcome {
  /** null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A spawned CLI: the process, and its outcome once it exits. */
export interface CliProcess {
  child: ChildProcess;
  exited: Promise<CliOutcome>;
}

/**
 * Spawns a TypeScript entry point of the project the way a user's `npm run` would, minus npm. `detached` puts it in
 * a process group of its own, so that a test can signal the group as a terminal's Ctrl-C does.
 */
export function spawnScript(script: string, args: string[], options: { detached?: boolean } = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, script), ...args], {
    cwd: REPO,
    detached: options.detached ?? false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CliOutcome>((resolveExit, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolveExit({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/**
 * Waits for a spawned CLI to exit within `boundMs`; past it, SIGTERM (the CLI tears its run down), then SIGKILL,
 * and the wait fails with the end of what it printed.
 */
export async function exitWithin(cli: CliProcess, boundMs: number): Promise<CliOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<'overdue'>((resolveOverdue) => (timer = setTimeout(() => resolveOverdue('overdue'), boundMs)));
  const first = await Promise.race([cli.exited, overdue]).finally(() => clearTimeout(timer));
  if (first !== 'overdue') return first;
  cli.child.kill('SIGTERM');
  const killer = setTimeout(() => cli.child.kill('SIGKILL'), 30_000);
  const outcome = await cli.exited.finally(() => clearTimeout(killer));
  throw new Error(`${describeCli(cli)} did not exit within ${boundMs} ms\n${tail(outcome.stderr)}`);
}

function describeCli(cli: CliProcess): string {
  return cli.child.spawnargs.slice(3).join(' ');
}

/** The last lines of an output, with progress-line carriage returns turned into lines. */
export function tail(text: string, lines = 25): string {
  return text.replace(/\r/g, '\n').split('\n').filter((line) => line.trim() !== '').slice(-lines).join('\n');
}

export async function scratchDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'zkj-e2e-'));
}

/** One parsed history: the lines that parsed, in order, and the complete lines that did not. */
export interface ParsedHistory {
  lines: HistoryLine[];
  unparsable: { line: number; text: string }[];
  /** A last line without its newline: the writer was cut off mid-line. */
  truncatedTail: boolean;
}

export async function parseHistory(path: string): Promise<ParsedHistory> {
  const text = await readFile(path, 'utf8');
  const rows = text.split('\n');
  // The text after the last newline is empty, or a line the writer was cut off in: never a complete line.
  const truncatedTail = rows.at(-1) !== '';
  const complete = rows.slice(0, -1);
  const lines: HistoryLine[] = [];
  const unparsable: ParsedHistory['unparsable'] = [];
  complete.forEach((row, index) => {
    try {
      lines.push(JSON.parse(row) as HistoryLine);
    } catch {
      unparsable.push({ line: index + 1, text: row.slice(0, 200) });
    }
  });
  return { lines, unparsable, truncatedTail };
}

/** A finished `npm run jepsen` run as its results directory holds it. */
export interface JepsenRun {
  args: string[];
  outcome: CliOutcome;
  resultsDir: string;
  /** results/latest, resolved. */
  runDir: string;
  history: ParsedHistory;
  results: Results;
  config: RunConfig & { runId: string };
}

/** Looks at the system while the CLI runs (e.g. at its containers); must settle by the time the CLI has exited. */
export type Observer = (cli: CliProcess) => Promise<void>;

/**
 * Runs the CLI with `args` plus `--results <a fresh temporary directory>` and reads back what it wrote; `observe`,
 * if given, runs beside it. The CLI is always waited for, even when the observer fails.
 */
export async function runJepsen(args: string[], boundMs: number, observe?: Observer): Promise<JepsenRun> {
  const resultsDir = await scratchDirectory();
  const cli = spawnScript('src/cli.ts', [...args, '--results', resultsDir]);
  const observed = observe?.(cli).then(() => undefined, (error: unknown) => error ?? new Error('the observer failed'));
  const outcome = await exitWithin(cli, boundMs);
  const observerError = await observed;
  if (observerError !== undefined) throw observerError;
  const latest = join(resultsDir, 'latest');
  if (!existsSync(latest)) throw new Error(`jepsen ${args.join(' ')} exited ${outcome.code} without a run directory\n${tail(outcome.stderr)}`);
  const runDir = await realpath(latest);
  const readJson = async <T>(name: string): Promise<T> => JSON.parse(await readFile(join(runDir, name), 'utf8')) as T;
  return {
    args,
    outcome,
    resultsDir,
    runDir,
    history: await parseHistory(join(runDir, 'history.jsonl')),
    results: await readJson<Results>('results.json'),
    config: await readJson<JepsenRun['config']>('config.json'),
  };
}

/** A run the CLI refuses: its exit code and what it printed (its scratch results directory goes afterwards). */
export async function refusedRun(args: string[], boundMs: number): Promise<CliOutcome> {
  const resultsDir = await scratchDirectory();
  try {
    return await exitWithin(spawnScript('src/cli.ts', [...args, '--results', resultsDir]), boundMs);
  } finally {
    await rm(resultsDir, { recursive: true, force: true });
  }
}

/** The node worker with its features taken out of init_ok: a worker of protocol revision 1.0. */
export const FEATURELESS_WORKER = `node --import tsx workloads/workers/node/main.ts --recipe safe | sed -u 's/,"features":\\[[^]]*\\]//'`;

/**
 * Declares one run for the tests of the enclosing `describe`: it starts in beforeAll (so several assertions share
 * it) and its temporary directory goes in afterAll. The returned getter gives the finished run.
 */
export function useJepsenRun(args: string[], boundMs: number, observe?: Observer): () => JepsenRun {
  let run: JepsenRun | undefined;
  beforeAll(async () => {
    run = await runJepsen(args, boundMs, observe);
  }, boundMs + 40_000);
  afterAll(async () => {
    if (run !== undefined) await rm(run.resultsDir, { recursive: true, force: true });
  });
  return () => {
    if (run === undefined) throw new Error(`the run did not finish: jepsen ${args.join(' ')}`);
    return run;
  };
}

/** Every anomaly type results.json reports, over all checks, with repeats removed. */
export function anomalyTypes(results: Results): AnomalyType[] {
  return [...new Set(Object.values(results.checkers).flatMap((check) => check.anomalies.map((anomaly) => anomaly.type)))].sort();
}

/** A line for assertion messages: how the run ended and what the checker said. */
export function summary(run: JepsenRun): string {
  const checks = Object.entries(run.results.checkers).map(([name, check]) => `${name}=${String(check.valid)}[${check.anomalies.map((a) => a.type).join(',')}]`);
  return `jepsen ${run.args.join(' ')} → exit ${run.outcome.code}, valid=${String(run.results.valid)} ${checks.join(' ')}\n${tail(run.outcome.stdout, 12)}`;
}

type Line<K extends HistoryLine['kind']> = Extract<HistoryLine, { kind: K }>;

export function linesOf<K extends HistoryLine['kind']>(history: ParsedHistory, kind: K): Line<K>[] {
  return history.lines.filter((line): line is Line<K> => line.kind === kind);
}

/**
 * The contract for a run that completed: a parseable history with the header first, one completion at most
 * per invoke and never before it, every fault started and healed, one final snapshot of every lock, an end line
 * "completed" last; config.json with the seed; results/latest pointing at the run; results.json for the same run.
 */
export function expectCompleteRun(run: JepsenRun, seed: number): void {
  const { history, config } = run;
  expect(history.unparsable, 'unparsable history lines').toEqual([]);
  expect(history.truncatedTail, 'history ends mid-line').toBe(false);

  const [header] = history.lines;
  expect(header?.kind).toBe('header');
  if (header?.kind !== 'header') return;
  expect(header.version).toBe(1);
  expect(header.runId).toBe(config.runId);
  expect(header.config['seed']).toBe(seed);
  expect(config.seed).toBe(seed);
  expect(linesOf(history, 'header')).toHaveLength(1);

  const invokes = new Map<number, Line<'op'>>();
  const completions = new Map<number, Line<'op'>[]>();
  for (const op of linesOf(history, 'op')) {
    if (op.type === 'invoke') {
      expect(invokes.has(op.id), `op ${op.id} invoked twice`).toBe(false);
      invokes.set(op.id, op);
      continue;
    }
    const invoke = invokes.get(op.id);
    expect(invoke, `op ${op.id} completed (${op.type}) before or without its invoke`).toBeDefined();
    expect([op.f, op.client, op.lock]).toEqual([invoke!.f, invoke!.client, invoke!.lock]);
    completions.set(op.id, [...(completions.get(op.id) ?? []), op]);
  }
  expect(invokes.size, 'client operations in the history').toBeGreaterThan(0);
  const doubled = [...completions].filter(([, done]) => done.length > 1).map(([id]) => id);
  expect(doubled, 'ops with more than one completion').toEqual([]);

  const faults = new Map<number, Line<'nemesis'>[]>();
  for (const line of linesOf(history, 'nemesis')) faults.set(line.id, [...(faults.get(line.id) ?? []), line]);
  for (const [id, lines] of faults) {
    expect(lines.map((line) => line.type), `fault ${id}: start, then stop`).toEqual(['start', 'stop']);
    expect(lines[1]!.f).toBe(lines[0]!.f);
    expect(config.nemesis).toContain(lines[0]!.f);
  }

  const snapshots = linesOf(history, 'snapshot').filter((snapshot) => snapshot.final);
  expect(snapshots, 'final snapshots').toHaveLength(1);
  const locks = Array.from({ length: config.locks }, (_, index) => `L${index + 1}`);
  // The leader workload's names are elections: the snapshot lists them apart from locks.
  expect(Object.keys((config.workload === 'leader' ? snapshots[0]!.elections : snapshots[0]!.locks) ?? {}).sort()).toEqual(locks.sort());
  expect(snapshots[0]!.sessions.length).toBeGreaterThan(0);

  const last = history.lines.at(-1);
  expect(last?.kind).toBe('end');
  expect(last?.kind === 'end' ? last.reason : undefined).toBe('completed');

  expect(run.results.run.seed).toBe(seed);
  expect(run.results.history.end).toBe('completed');
  expect(run.results.history.finalSnapshot).toBe(true);
}

/** results/latest is a link to the run's own directory, beside it. */
export async function expectLatestPointsAt(run: JepsenRun): Promise<void> {
  const target = await readlink(join(run.resultsDir, 'latest'));
  expect(resolve(run.resultsDir, target)).toBe(run.runDir);
  expect(target).toBe(run.config.runId);
}

/** The complete-run test every completed run gets; `seed` must be the one its flags gave. */
export function itRecordsACompleteRun(run: () => JepsenRun, seed: number): void {
  it('records a complete, parseable history, config.json with the seed and results/latest pointing at the run', async () => {
    expectCompleteRun(run(), seed);
    await expectLatestPointsAt(run());
  });
}
