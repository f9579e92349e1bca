/**
 * `npm run bench -- checker [sizes] [--reader <operations>]`: the checker on generated histories of 10^5, 10^6
 * and 10^7 operations (or the comma-separated sizes given) over many locks and clients, then the reader and the
 * reader + checker (what `npm run check` does) on a generated history.jsonl of 10^6 operations (`--reader 0`
 * skips it). Each measurement runs in a child process so that its memory is its own.
 *
 * Rates are given per CPU second (user + system, from process.cpuUsage) and per wall second: other work on the
 * machine stretches wall time, CPU time much less. Histories are generated lazily by the model lock service
 * (checker/simulate.ts) in batches; only the checker's time on each batch is measured.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readHistory } from '../ground/history-reader.ts';
import type { HistoryLine } from '../ground/history.ts';
import { createChecker } from './index.ts';
import { simulate, type SimulationOptions, type Step } from './simulate.ts';

const DEFAULT_SIZES = [1e5, 1e6, 1e7];
const DEFAULT_READER_OPERATIONS = 1e6;
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
  /** CPU seconds (user + system) in what is measured. */
  cpuSeconds: number;
  peakRssMiB: number;
  /** Peak of the JavaScript heap plus typed arrays (the checker keeps its fenced writes in typed arrays). */
  peakMemoryMiB: number;
  /** The same after a full collection once every line was fed: what the checker keeps. */
  retainedMiB: number;
  valid: boolean | 'unknown' | null;
}

type Gc = (options?: { type: 'minor' | 'major' }) => void;
const gc = (globalThis as { gc?: Gc }).gc;

/** Heap and typed arrays in use, in bytes. */
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
  let peakRss = 0;
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
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakMemory = Math.max(peakMemory, memoryInUse());
  }
  batch.length = 0;
  gc?.();
  const retained = memoryInUse();
  let valid: Measurement['valid'] = null;
  timed(cost, () => {
    valid = checker.finish().valid;
  });
  return { operations: history.count(), lines, ...cost, peakRssMiB: peakRss / MiB, peakMemoryMiB: peakMemory / MiB, retainedMiB: retained / MiB, valid };
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
  let peakRss = 0;
  let peakMemory = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
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
  return { operations, lines, ...cost, peakRssMiB: peakRss / MiB, peakMemoryMiB: peakMemory / MiB, retainedMiB: memoryInUse() / MiB, valid: results?.valid ?? null };
}

interface Arguments {
  sizes: number[];
  readerOperations: number;
}

function parseArguments(args: string[]): Arguments {
  const bad = (): never => {
    console.error('bench checker: usage: npm run bench -- checker [1e5,1e6,...] [--reader <operations, 0 to skip>]');
    process.exit(254);
  };
  const readerAt = args.indexOf('--reader');
  const readerOperations = readerAt === -1 ? DEFAULT_READER_OPERATIONS : Number(args[readerAt + 1] ?? Number.NaN);
  const rest = readerAt === -1 ? args : [...args.slice(0, readerAt), ...args.slice(readerAt + 2)];
  const sizes = rest.length === 0 ? DEFAULT_SIZES : rest.join(',').split(',').map(Number);
  if (sizes.some((size) => !Number.isFinite(size) || size < 1) || !Number.isFinite(readerOperations) || readerOperations < 0) bad();
  return { sizes, readerOperations };
}

/** Runs one measurement in a child process (its own memory) and prints its row. */
function runChild(label: string, childArgs: string[]): void {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...childArgs], {
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
  if (readerOperations === 0) return;
  const directory = mkdtempSync(join(tmpdir(), 'checker-bench-'));
  try {
    const path = join(directory, 'history.jsonl');
    const { operations } = await writeHistory(path, readerOperations);
    runChild('reader alone', ['--read', path, String(operations)]);
    runChild('reader + checker', ['--check', path, String(operations)]);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, first, second] = process.argv.slice(2);
  if (mode === '--measure') console.log(JSON.stringify(measureChecker(Number(first))));
  if (mode === '--read' || mode === '--check') console.log(JSON.stringify(await measureReader(first!, Number(second), mode === '--check')));
}
