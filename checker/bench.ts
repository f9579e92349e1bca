/**
 * `npm run bench -- checker [sizes] [--reader <operations,...>]`: the checker on generated histories of 10^5,
 * 10^6 and 10^7 operations (or the comma-separated sizes given) over many locks and clients, then the reader and
 * the reader + checker (what `npm run check` does) on a generated history.jsonl of 10^6 operations (or each
 * size given; `--reader 0` skips them). `npm run bench -- checker from-disk` is the reader rows alone, at 10^6
 * and 10^7 operations. Each reader + checker row is held against the goals (GOAL_OPS_PER_WALL_SECOND,
 * GOAL_PEAK_RSS_MiB); when one is missed, the same run is profiled and its top functions printed, per thread.
 * Each measurement runs in a child process so that its memory is its own.
 *
 * Rates are given per CPU second (user + system, from process.cpuUsage) and per wall second: other work on the
 * machine stretches wall time, CPU time much less. Histories are generated lazily by the model lock service
 * (checker/simulate.ts) in batches; only the checker's time on each batch is measured.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readHistory } from '../ground/history-reader.ts';
import type { HistoryLine } from '../ground/history.ts';
import { createChecker } from './index.ts';
import { simulate, type SimulationOptions, type Step } from './simulate.ts';

const DEFAULT_SIZES = [1e5, 1e6, 1e7];
const DEFAULT_READER_OPERATIONS = [1e6];
const FROM_DISK_OPERATIONS = [1e6, 1e7];
/** What `npm run check` should reach: a stored run checked at this rate, in this much memory. */
const GOAL_OPS_PER_WALL_SECOND = 500_000;
const GOAL_PEAK_RSS_MiB = 1024;
const PROFILE_TOP_FUNCTIONS = 12;
const BATCH_LINES = 16_384;
const CLIENTS = 256;
const LOCKS = 1024;
const MiB = 1024 * 1024;

const SIMULATION: SimulationOptions = {
  clients: CLIENTS,
  locks: LOCKS,
  fencedCounter: true,
  tokens: true,
  fencing: true,
  sessionTimeoutMs: 1000,
  holdMs: 100,
  snapshotEvery: 100_000,
  faultEvery: 10_000,
};

interface Measurement {
  operations: number;
  lines: number;
  /** Wall-clock seconds in what is measured. */
  seconds: number;
  /** CPU seconds (user + system, every thread) in what is measured. */
  cpuSeconds: number;
  /** The kernel's peak resident set of the child process. */
  peakRssMiB: number;
  /** Peak of the JavaScript heap plus typed arrays (the checker keeps its fenced writes in typed arrays). */
  peakMemoryMiB: number;
  /** The same after a full collection once every line was fed: what the checker keeps. */
  retainedMiB: number;
  valid: boolean | 'unknown' | null;
}

type Gc = (options?: { type: 'minor' | 'major' }) => void;
const gc = (globalThis as { gc?: Gc }).gc;

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Heap and typed arrays in use (of the calling thread: the reader's worker has its own), in bytes. */
function memoryInUse(): number {
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
}

/**
 * Steps from a fixed-seed xorshift generator: the same history every time, produced as it is consumed. It stops
 * once `enough()` says so (the simulator then lets every client finish and takes the final snapshot).
 */
function* steps(seed: number, enough: () => boolean): Generator<Step> {
  let state = seed | 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  while (!enough()) yield { client: Math.floor(next() * CLIENTS), lock: Math.floor(next() * LOCKS), dtNs: next() * 200_000, tryLock: next() < 0.3 };
}

/** The generated history of about `operations` operations, line by line; `count()` says how many so far. */
function generated(operations: number): { lines: Generator<HistoryLine>; count: () => number } {
  let invoked = 0;
  const lines = simulate(steps(42, () => invoked >= operations), SIMULATION);
  function* counted(): Generator<HistoryLine> {
    for (const line of lines) {
      if (line.kind === 'op' && line.type === 'invoke') invoked++;
      yield line;
    }
  }
  return { lines: counted(), count: () => invoked };
}

/** Times `work` in wall and CPU time, adding to `into`. */
function timed(into: { seconds: number; cpuSeconds: number }, work: () => void): void {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  work();
  into.seconds += Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  into.cpuSeconds += (used.user + used.system) / 1e6;
}

/** Checks a generated history of about `operations` operations; returns what it cost. */
function measureChecker(operations: number): Measurement {
  const checker = createChecker();
  const history = generated(operations);
  const batch: HistoryLine[] = [];
  const cost = { seconds: 0, cpuSeconds: 0 };
  let lines = 0;
  let peakMemory = 0;
  for (let done = false; !done; ) {
    batch.length = 0;
    for (let result = history.lines.next(); ; result = history.lines.next()) {
      if (result.done === true) {
        done = true;
        break;
      }
      batch.push(result.value);
      if (batch.length === BATCH_LINES) break;
    }
    // Two minor collections, untimed, clear the generator's garbage and move the batch out of the young
    // generation: the timed part then pays for the collections that the checker's own allocations cause.
    gc?.({ type: 'minor' });
    gc?.({ type: 'minor' });
    timed(cost, () => {
      for (const line of batch) checker.add(line);
    });
    lines += batch.length;
    peakMemory = Math.max(peakMemory, memoryInUse());
  }
  batch.length = 0;
  gc?.();
  const retained = memoryInUse();
  let valid: Measurement['valid'] = null;
  timed(cost, () => {
    valid = checker.finish().valid;
  });
  return { operations: history.count(), lines, ...cost, peakRssMiB: peakRssMiB(), peakMemoryMiB: peakMemory / MiB, retainedMiB: retained / MiB, valid };
}

/** Writes a generated history of about `operations` operations to `path`, as the runner would. */
async function writeHistory(path: string, operations: number): Promise<{ operations: number; lines: number }> {
  const out = createWriteStream(path);
  const history = generated(operations);
  let text = '';
  let lines = 0;
  for (const line of history.lines) {
    text += `${JSON.stringify(line)}\n`;
    lines++;
    if (text.length < MiB) continue;
    const flushed = out.write(text);
    text = '';
    if (!flushed) await once(out, 'drain');
  }
  out.end(text);
  await finished(out);
  return { operations: history.count(), lines };
}

/** Reads `path` with the history reader, into the checker (`withChecker`) or into a sink that only counts. */
async function measureReader(path: string, operations: number, withChecker: boolean): Promise<Measurement> {
  let lines = 0;
  const checker = createChecker();
  const sink = withChecker ? checker : { add: () => void lines++, unreadable: () => void lines++ };
  const cost = { seconds: 0, cpuSeconds: 0 };
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let peakMemory = 0;
  const sampler = setInterval(() => {
    peakMemory = Math.max(peakMemory, memoryInUse());
  }, 50);
  await readHistory(path, sink);
  const results = withChecker ? checker.finish() : null;
  if (results !== null) lines = results.history.lines;
  clearInterval(sampler);
  cost.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  cost.cpuSeconds = (used.user + used.system) / 1e6;
  gc?.();
  return { operations, lines, ...cost, peakRssMiB: peakRssMiB(), peakMemoryMiB: peakMemory / MiB, retainedMiB: memoryInUse() / MiB, valid: results?.valid ?? null };
}

interface Arguments {
  sizes: number[];
  readerOperations: number[];
}

function parseArguments(args: string[]): Arguments {
  const bad = (): never => {
    console.error('bench checker: usage: npm run bench -- checker [1e5,1e6,...] [--reader <operations,... ; 0 to skip>]  |  npm run bench -- checker from-disk');
    process.exit(254);
  };
  const list = (text: string): number[] => text.split(',').map(Number);
  if (args.length === 1 && args[0] === 'from-disk') return { sizes: [], readerOperations: FROM_DISK_OPERATIONS };
  const readerAt = args.indexOf('--reader');
  const readerOperations = readerAt === -1 ? DEFAULT_READER_OPERATIONS : list(args[readerAt + 1] ?? 'none').filter((size) => size !== 0);
  const rest = readerAt === -1 ? args : [...args.slice(0, readerAt), ...args.slice(readerAt + 2)];
  const sizes = rest.length === 0 ? DEFAULT_SIZES : list(rest.join(','));
  if ([...sizes, ...readerOperations].some((size) => !Number.isFinite(size) || size < 1)) bad();
  return { sizes, readerOperations };
}

/** Runs one measurement in a child process (its own memory), prints its row and returns it. */
function runChild(label: string, childArgs: string[], nodeArgs: string[] = []): Measurement {
  const child = spawnSync(process.execPath, ['--expose-gc', ...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url), ...childArgs], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) {
    console.error(`bench checker: ${label} failed: ${child.stderr.trim().split('\n').at(-1) ?? child.signal}`);
    process.exit(255);
  }
  const m = JSON.parse(child.stdout) as Measurement;
  const rate = (seconds: number): string => Math.round(m.operations / seconds).toLocaleString('en');
  console.log(row([label, String(m.operations), String(m.lines), m.cpuSeconds.toFixed(2), rate(m.cpuSeconds), m.seconds.toFixed(2), rate(m.seconds),
    m.peakRssMiB.toFixed(0), m.peakMemoryMiB.toFixed(0), m.retainedMiB.toFixed(0), String(m.valid ?? '')]));
  return m;
}

/** Holds a reader + checker row against the goals; a missed goal gets the profile of the same run. */
function judgeAgainstGoals(m: Measurement, path: string): void {
  const rate = m.operations / m.seconds;
  const fast = rate >= GOAL_OPS_PER_WALL_SECOND;
  const small = m.peakRssMiB <= GOAL_PEAK_RSS_MiB;
  const verdict = (met: boolean): string => (met ? 'met' : 'NOT MET');
  console.log(`  goal at ${m.operations} ops: ${Math.round(rate).toLocaleString('en')} ops/wall s against ${GOAL_OPS_PER_WALL_SECOND.toLocaleString('en')}: ${verdict(fast)}; ` +
    `peak RSS ${m.peakRssMiB.toFixed(0)} MiB against ${GOAL_PEAK_RSS_MiB} MiB: ${verdict(small)}`);
  if (fast && small) return;
  const directory = mkdtempSync(join(tmpdir(), 'checker-profile-'));
  try {
    runChild('  (profiled)', ['--check', path, String(m.operations)], ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
    for (const file of readdirSync(directory).sort()) printTopFunctions(join(directory, file));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function of one thread's profile. node --cpu-prof writes one per thread: the main thread's
 * (thread 0), the reader's, and tsx's module loader threads, idle once the code is loaded (left out).
 */
function printTopFunctions(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nameOf = new Map(profile.nodes.map((node) => [node.id, `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').at(-1)?.split('?')[0] ?? ''}`.trim()]));
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const name = nameOf.get(id) ?? '?';
    const us = profile.timeDeltas[i] ?? 0;
    selfUs.set(name, (selfUs.get(name) ?? 0) + us);
    totalUs += us;
  });
  const main = /\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] === '0';
  const reader = [...selfUs.keys()].some((name) => name.startsWith('parseHistoryLine '));
  if (!main && !reader) return;
  console.log(`  profile, ${main ? 'main thread' : 'reader thread'}: ${(totalUs / 1e6).toFixed(2)} s sampled; self time of the top functions`);
  for (const [name, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, PROFILE_TOP_FUNCTIONS)) {
    console.log(`    ${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${name}`);
  }
}

const WIDTHS = [-17, -9, -9, 6, 10, 6, 10, 9, 12, 9, 8];

/** Negative widths pad on the right (text), positive on the left (numbers). */
function row(cells: string[]): string {
  return cells.map((cell, i) => (WIDTHS[i]! < 0 ? cell.padEnd(-WIDTHS[i]!) : cell.padStart(WIDTHS[i]!))).join('  ');
}

export async function run(args: string[]): Promise<void> {
  const { sizes, readerOperations } = parseArguments(args);
  console.log(`checker benchmark: ${CLIENTS} clients, ${LOCKS} locks, fenced counter, try-locks 30%; one child process per row`);
  console.log('memory in MiB; heap+ta: JavaScript heap plus typed arrays; retained: the same after a full collection at the end');
  console.log(row(['', 'ops', 'lines', 'cpu s', 'ops/cpu s', 'wall s', 'ops/wall s', 'peak RSS', 'peak heap+ta', 'retained', 'verdict']));
  for (const size of sizes) runChild('checker', ['--measure', String(size)]);
  for (const size of readerOperations) {
    const directory = mkdtempSync(join(tmpdir(), 'checker-bench-'));
    try {
      const path = join(directory, 'history.jsonl');
      const { operations } = await writeHistory(path, size);
      runChild('reader alone', ['--read', path, String(operations)]);
      judgeAgainstGoals(runChild('reader + checker', ['--check', path, String(operations)]), path);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, first, second] = process.argv.slice(2);
  if (mode === '--measure') console.log(JSON.stringify(measureChecker(Number(first))));
  if (mode === '--read' || mode === '--check') console.log(JSON.stringify(await measureReader(first!, Number(second), mode === '--check')));
}
