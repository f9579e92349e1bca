/**
 * `npm run jepsen -- compare`: recipes × scenarios × workloads × k seeds, each run an ordinary child run of
 * src/cli.ts (its own directory and report under compare-<time>/runs/), one after the other since two ensembles
 * on two cores starve each other. After every run it rewrites compare.json and index.html, so a matrix cut short
 * still shows what it found. A comparison reports; it does not judge: the exit code says whether every run ran.
 * With --baseline it also says which cells changed since an earlier comparison; --junit and GITHUB_STEP_SUMMARY
 * give CI the verdicts in the forms CI reads (src/junit.ts, src/step-summary.ts).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError } from 'commander';
import type { Results } from '../checker/types.ts';
import { renderComparePage } from './compare-page.ts';
import {
  anomalyCounts, changesSince, COMPARE_VERSION, describeDifferences, parseCompareDocument, plural, summarizeCell,
  type CellRun, type CompareDocument, type Scenario,
} from './compare-summary.ts';
import { NEMESIS_NAMES, type NemesisName } from '../nemesis/index.ts';
import { RECIPE_NAMES } from '../workloads/recipes.ts';
import { WORKLOAD_NAMES, type WorkloadName } from '../workloads/workloads.ts';
import { EXIT, UserError } from '../ground/errors.ts';
import { cellSuite, writeJUnit } from './junit.ts';
import { appendStepSummary, compareStepSummary } from './step-summary.ts';

const CLI_PATH = fileURLToPath(new URL('./cli.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Exit codes of a run that mean every other run would fail the same way: stop the matrix there. */
const FATAL_FOR_ALL = new Set<number>([EXIT.environment, EXIT.badArguments]);
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export interface CompareOptions {
  recipes: string[];
  scenarios: Scenario[];
  workloads: WorkloadName[];
  runs: number;
  /** Run i of every cell uses firstSeed + i. */
  firstSeed: number;
  /** The compare directory goes under it: <results>/compare-<time>/. */
  results: string;
  /** Flags of the normal run given unchanged to every run. */
  passThrough: string[];
  /** Write JUnit XML here at the end (src/junit.ts). */
  junit?: string;
  /** Report the cells that changed since this comparison. */
  baseline?: LoadedBaseline;
}

export interface LoadedBaseline {
  /** Absolute path of its compare.json. */
  path: string;
  document: CompareDocument;
  /** The format version it was written with. */
  version: number;
}

/** A compare.json to compare with, of any version this suite reads; anything else is a one-line UserError. */
export async function readBaseline(path: string): Promise<LoadedBaseline> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError(`--baseline ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  try {
    return { path: resolve(path), ...parseCompareDocument(text) };
  } catch (error) {
    throw new UserError(`--baseline ${path}: ${(error as Error).message}`);
  }
}

function commaList(text: string): string[] {
  return [...new Set(text.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
}

function choicesList<T extends string>(choices: readonly T[], what: string) {
  return (text: string): T[] => {
    const items = commaList(text);
    if (items.length === 0) throw new InvalidArgumentError(`expected at least one ${what}.`);
    for (const item of items) {
      if (!(choices as readonly string[]).includes(item)) throw new InvalidArgumentError(`unknown ${what} '${item}'; choose from ${choices.join(', ')}.`);
    }
    return items as T[];
  };
}

export const parseRecipes = choicesList(RECIPE_NAMES, 'recipe');
export const parseWorkloads = choicesList(WORKLOAD_NAMES, 'workload');

/** `lost-delete,none,kill+pause+partition`: commas separate scenarios, `+` joins nemeses into one, `all` is every nemesis at once. */
export function parseScenarios(text: string): Scenario[] {
  const names = commaList(text);
  if (names.length === 0) throw new InvalidArgumentError('expected at least one scenario (a nemesis, a+b, all or none).');
  return names.map((name) => {
    if (name === 'none') return { name, nemesis: [] };
    if (name === 'all') return { name, nemesis: [...NEMESIS_NAMES] };
    const nemesis = [...new Set(name.split('+').map((part) => part.trim()))];
    for (const part of nemesis) {
      if (!(NEMESIS_NAMES as readonly string[]).includes(part)) {
        throw new InvalidArgumentError(`unknown nemesis '${part}' in scenario '${name}'; choose from ${NEMESIS_NAMES.join(', ')}, all or none.`);
      }
    }
    return { name: nemesis.join('+'), nemesis: nemesis as NemesisName[] };
  });
}

export function compareCommandLine(options: CompareOptions): string {
  return ['npm run jepsen -- compare', `--recipes ${options.recipes.join(',')}`, `--nemesis ${options.scenarios.map((scenario) => scenario.name).join(',')}`,
    `--workload ${options.workloads.join(',')}`, `--runs ${options.runs}`, `--seed ${options.firstSeed}`,
    ...options.passThrough.map((flag) => (/^[\w@.,+:/=-]+$/.test(flag) ? flag : JSON.stringify(flag)))].join(' ');
}

interface PlannedRun {
  recipe: string;
  workload: WorkloadName;
  scenario: Scenario;
  seed: number;
}

/** Seed by seed: a matrix cut short has every cell's first runs rather than some cells' every run. */
function plan(options: CompareOptions): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (let index = 0; index < options.runs; index++) {
    for (const workload of options.workloads) {
      for (const scenario of options.scenarios) {
        for (const recipe of options.recipes) runs.push({ recipe, workload, scenario, seed: options.firstSeed + index });
      }
    }
  }
  return runs;
}

async function runDirectories(runsDir: string): Promise<Set<string>> {
  const entries = await readdir(runsDir, { withFileTypes: true }).catch(() => []);
  return new Set(entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name));
}

async function lastLine(path: string): Promise<string | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const line = text.split('\n').map((candidate) => candidate.trim()).filter((candidate) => candidate !== '').at(-1);
  return line === undefined ? null : line.slice(0, 500);
}

/**
 * The matrix's one child at a time. It runs in its own process group so that a Ctrl-C reaches it once, from
 * us: a second signal would make the run skip its cleanup (src/cleanup.ts).
 */
class ChildRunner {
  private child: ReturnType<typeof spawn> | undefined;
  stoppedBy: keyof typeof SIGNAL_EXIT_CODES | undefined;
  /** The comparison writes one step summary for the matrix; a run would append its own. */
  private readonly env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'GITHUB_STEP_SUMMARY'));

  constructor() {
    for (const signal of Object.keys(SIGNAL_EXIT_CODES) as (keyof typeof SIGNAL_EXIT_CODES)[]) {
      process.on(signal, () => {
        this.stoppedBy ??= signal;
        this.child?.kill(signal);
      });
    }
  }

  async run(args: string[], logPath: string): Promise<{ exitCode: number | null; signal: string | null }> {
    if (this.stoppedBy !== undefined) return { exitCode: null, signal: this.stoppedBy };
    const log = await open(logPath, 'w');
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI_PATH, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', log.fd, log.fd], detached: true, env: this.env });
      this.child = child;
      return await new Promise((done, fail) => {
        child.once('error', fail);
        child.once('exit', (exitCode, signal) => done({ exitCode, signal }));
      });
    } finally {
      this.child = undefined;
      await log.close();
    }
  }
}

async function runOne(planned: PlannedRun, options: CompareOptions, dir: string, children: ChildRunner): Promise<CellRun> {
  const runsDir = join(dir, 'runs');
  const log = `logs/${planned.recipe}-${planned.workload}-${planned.scenario.name}-seed${planned.seed}.log`;
  const before = await runDirectories(runsDir);
  const started = Date.now();
  const { exitCode, signal } = await children.run([
    '--recipe', planned.recipe, '--workload', planned.workload, '--nemesis', planned.scenario.nemesis.join(',') || 'none',
    '--seed', String(planned.seed), '--results', runsDir, ...options.passThrough,
  ], join(dir, log));
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  // Runs happen one at a time, so the directory that appeared is this run's.
  const runId = [...await runDirectories(runsDir)].find((name) => !before.has(name)) ?? null;
  const results = runId === null ? undefined
    : await readFile(join(runsDir, runId, 'results.json'), 'utf8').then((text) => JSON.parse(text) as Results, () => undefined);
  const ranToVerdict = exitCode === EXIT.valid || exitCode === EXIT.invalid || exitCode === EXIT.unknown;
  const crashed = !ranToVerdict || results === undefined;
  const counts = results === undefined ? { anomalies: {}, tolerated: {} } : anomalyCounts(results);
  return {
    seed: planned.seed,
    runId,
    report: runId === null ? null : `runs/${runId}/report.html`,
    log,
    exitCode,
    signal,
    valid: results?.valid ?? null,
    crashed,
    error: crashed ? (await lastLine(join(dir, log))) ?? `exited with ${exitCode ?? signal}` : null,
    ...counts,
    seconds,
  };
}

function progressLine(index: number, total: number, planned: PlannedRun, run: CellRun): string {
  const counted = Object.entries(run.anomalies).map(([type, count]) => `${count} ${type}`).join(', ');
  const outcome = run.crashed ? `CRASHED (${run.error})` : `${run.valid === true ? 'VALID' : run.valid === false ? 'INVALID' : 'UNKNOWN'}${counted === '' ? '' : ` (${counted})`}`;
  const where = run.crashed ? run.log : run.report;
  return `[${String(index + 1).padStart(String(total).length)}/${total}] ${planned.recipe} · ${planned.workload} · ${planned.scenario.name} · seed ${planned.seed}: ${outcome}  ${run.seconds} s  ${where}`;
}

async function writeDocuments(dir: string, document: CompareDocument): Promise<void> {
  await writeFile(join(dir, 'compare.json'), `${JSON.stringify(document, null, 2)}\n`);
  await writeFile(join(dir, 'index.html'), renderComparePage(document));
}

function printChanges(document: CompareDocument): void {
  if (document.baseline === null) return;
  const { changes, id } = document.baseline;
  console.log(changes.length === 0 ? `compare: since ${id}: no cell changed` : `compare: since ${id}: ${plural(changes.length, 'cell')} changed, new anomalies first`);
  for (const change of changes) console.log(`  ${change.text}`);
}

/** What CI reads: the changes since the baseline printed, the JUnit file, the step summary. */
async function reportToCi(document: CompareDocument, dir: string, options: CompareOptions): Promise<void> {
  printChanges(document);
  const files = [join(dir, 'index.html'), join(dir, 'compare.json')];
  if (options.junit !== undefined) {
    const loadResults = (run: CellRun): Promise<Results | undefined> =>
      readFile(join(dir, 'runs', run.runId!, 'results.json'), 'utf8').then((text) => JSON.parse(text) as Results, () => undefined);
    const suites = [];
    for (const cell of document.cells) suites.push(await cellSuite(cell, dir, document.startedAt, loadResults));
    await writeJUnit(options.junit, document.id, suites);
    files.push(resolve(options.junit));
    console.log(`compare: JUnit ${resolve(options.junit)}`);
  }
  await appendStepSummary(compareStepSummary(document, dir, files));
}

/** Runs the matrix and writes <results>/compare-<time>/{compare.json,index.html}; returns the exit code. */
export async function runCompare(options: CompareOptions): Promise<number> {
  const startedAt = new Date().toISOString();
  const id = `compare-${startedAt.replace(/[:.]/g, '-')}`;
  const dir = resolve(options.results, id);
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'runs'), { recursive: true });
  const planned = plan(options);
  const finished: { planned: PlannedRun; run: CellRun }[] = [];
  const document = (finishedAt: string | null): CompareDocument => {
    const cells = options.workloads.flatMap((workload) => options.scenarios.flatMap((scenario) => options.recipes.map((recipe) =>
      summarizeCell(recipe, workload, scenario.name, finished
        .filter((done) => done.planned.recipe === recipe && done.planned.workload === workload && done.planned.scenario === scenario)
        .map((done) => done.run)))));
    return {
      version: COMPARE_VERSION,
      id,
      startedAt,
      finishedAt,
      complete: finished.length === planned.length,
      command: compareCommandLine(options),
      recipes: options.recipes,
      scenarios: options.scenarios,
      workloads: options.workloads,
      runsPerCell: options.runs,
      seeds: Array.from({ length: options.runs }, (_, index) => options.firstSeed + index),
      passThrough: options.passThrough,
      runsIndex: 'runs/index.html',
      cells,
      differences: describeDifferences(cells),
      baseline: options.baseline === undefined ? null : {
        document: relative(dir, options.baseline.path),
        id: options.baseline.document.id,
        startedAt: options.baseline.document.startedAt,
        version: options.baseline.version,
        changes: changesSince(cells, options.baseline.document.cells),
      },
    };
  };

  const cellCount = options.recipes.length * options.scenarios.length * options.workloads.length;
  console.log(`compare: ${plural(planned.length, 'run')} (${plural(cellCount, 'cell')} × ${options.runs}) → ${dir}`);
  await writeDocuments(dir, document(null));
  const children = new ChildRunner();
  let stopCode: number | undefined;
  for (const [index, next] of planned.entries()) {
    const run = await runOne(next, options, dir, children);
    // An interrupted run is not a result; what finished before it is.
    if (children.stoppedBy !== undefined) break;
    finished.push({ planned: next, run });
    console.log(progressLine(index, planned.length, next, run));
    await writeDocuments(dir, document(null));
    if (run.exitCode !== null && FATAL_FOR_ALL.has(run.exitCode)) {
      stopCode = run.exitCode;
      console.error(`compare: stopping, every run would fail the same way: ${run.error}`);
      break;
    }
  }
  const final = document(new Date().toISOString());
  await writeDocuments(dir, final);
  await reportToCi(final, dir, options);
  console.log(`compare: ${join(dir, 'index.html')}`);
  if (children.stoppedBy !== undefined) {
    console.error(`compare: stopped by ${children.stoppedBy}`);
    return SIGNAL_EXIT_CODES[children.stoppedBy];
  }
  if (stopCode !== undefined) return stopCode;
  return finished.some((done) => done.run.crashed) ? EXIT.crashed : EXIT.valid;
}
