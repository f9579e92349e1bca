/**
 * `npm run bench -- checker [sizes]`: the checker on generated histories of 10^5, 10^6 and 10^7 operations
 * (or the comma-separated sizes given) over many locks and clients. Each size runs in a child process so that
 * its peak memory is its own. Histories are generated lazily by the model lock service (checker/simulate.ts) in
 * batches; only the checker's time on each batch is measured.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HistoryLine } from '../src/history.ts';
import { createChecker } from './index.ts';
import { simulate, type SimulationOptions, type Step } from './simulate.ts';

const DEFAULT_SIZES = [1e5, 1e6, 1e7];
const BATCH_LINES = 1 << 16;
const CLIENTS = 256;
const LOCKS = 1024;

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
  /** Wall-clock seconds in the checker. */
  checkSeconds: number;
  /** CPU seconds (user + system) in the checker: what it costs when other work shares the cores. */
  checkCpuSeconds: number;
  peakRssMiB: number;
  peakHeapMiB: number;
  /** Heap still in use after a full collection once every line was fed: what the checker keeps. */
  retainedHeapMiB: number;
  valid: boolean | 'unknown';
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

/** Checks a generated history of about `operations` operations; returns what it cost. */
function measure(operations: number): Measurement {
  const checker = createChecker();
  let ops = 0;
  const history = simulate(steps(42, () => ops >= operations), SIMULATION);
  const batch: HistoryLine[] = [];
  let lines = 0;
  let checkNs = 0n;
  let checkCpuMicros = 0;
  let peakRss = 0;
  let peakHeap = 0;
  for (let done = false; !done; ) {
    batch.length = 0;
    for (let result = history.next(); ; result = history.next()) {
      if (result.done === true) {
        done = true;
        break;
      }
      batch.push(result.value);
      if (result.value.kind === 'op' && result.value.type === 'invoke') ops++;
      if (batch.length === BATCH_LINES) break;
    }
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    for (const line of batch) checker.add(line);
    checkNs += process.hrtime.bigint() - started;
    const used = process.cpuUsage(cpu);
    checkCpuMicros += used.user + used.system;
    lines += batch.length;
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed);
  }
  batch.length = 0;
  (globalThis as { gc?: () => void }).gc?.();
  const retainedHeap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const results = checker.finish();
  checkNs += process.hrtime.bigint() - started;
  const used = process.cpuUsage(cpu);
  checkCpuMicros += used.user + used.system;
  const MiB = 1024 * 1024;
  return { operations: ops, lines, checkSeconds: Number(checkNs) / 1e9, checkCpuSeconds: checkCpuMicros / 1e6, peakRssMiB: peakRss / MiB, peakHeapMiB: peakHeap / MiB, retainedHeapMiB: retainedHeap / MiB, valid: results.valid };
}

function parseSizes(args: string[]): number[] {
  if (args.length === 0) return DEFAULT_SIZES;
  const sizes = args.join(',').split(',').map(Number);
  if (sizes.some((size) => !Number.isFinite(size) || size < 1)) {
    console.error('bench checker: sizes are positive numbers, e.g. 1e5,1e6');
    process.exit(254);
  }
  return sizes;
}

export async function run(args: string[]): Promise<void> {
  console.log(`checker benchmark: ${CLIENTS} clients, ${LOCKS} locks, fenced counter, try-locks 30%; one child process per size`);
  console.log('operations   lines        wall s   ops/s (wall)   cpu s    ops/s (cpu)    peak RSS MiB   peak heap MiB   retained MiB   verdict');
  for (const size of parseSizes(args)) {
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--measure', String(size)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    if (child.status !== 0) {
      console.error(`bench checker: the run of ${size} operations failed: ${child.stderr.trim().split('\n').at(-1) ?? child.signal}`);
      process.exit(255);
    }
    const m = JSON.parse(child.stdout) as Measurement;
    console.log(
      [
        String(m.operations).padEnd(12),
        String(m.lines).padEnd(12),
        m.checkSeconds.toFixed(2).padEnd(8),
        Math.round(m.operations / m.checkSeconds).toLocaleString('en').padEnd(14),
        m.checkCpuSeconds.toFixed(2).padEnd(8),
        Math.round(m.operations / m.checkCpuSeconds).toLocaleString('en').padEnd(14),
        m.peakRssMiB.toFixed(0).padEnd(14),
        m.peakHeapMiB.toFixed(0).padEnd(15),
        m.retainedHeapMiB.toFixed(0).padEnd(14),
        String(m.valid),
      ].join(' '),
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === '--measure') {
  console.log(JSON.stringify(measure(Number(process.argv[3]))));
}
