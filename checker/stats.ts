/**
 * stats: counts per function and outcome, latency percentiles per function (HdrHistogram, microsecond
 * resolution), completions per time bucket, and the fault windows. Constant memory per function and bucket.
 */
import * as hdr from 'hdr-histogram-js';
import type { OpFunction, Outcome } from '../ground/history.ts';
import type { TrackedOp, TrackerListener } from './tracker.ts';
import type { FaultWindow, LatencySummary, Nanos, Stats } from './types.ts';

type Counts = Record<Outcome | 'pending', number>;

/** Throughput keeps at most this many buckets, however long the run. */
const MAX_BUCKETS = 10_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({ numberOfSignificantValueDigits: 3 });
}

/** What is kept per function: its counts, and its latency histogram once an operation completed. */
interface FunctionStats {
  counts: Counts;
  latency: hdr.Histogram | null;
}

export class StatsCollector implements Partial<TrackerListener> {
  /** One lookup per event finds both the counts and the histogram. */
  private readonly byFunction = new Map<OpFunction, FunctionStats>();
  /** The histograms in the order they were started (a function's first completion): results.json lists them so. */
  private readonly latencyInOrder: Array<[OpFunction, hdr.Histogram]> = [];
  private readonly throughput = { ok: [] as number[], fail: [] as number[], info: [] as number[] };

  constructor(private bucketNs: Nanos) {}

  opInvoked(op: TrackedOp): void {
    this.statsOf(op.f).counts.pending++;
  }

  opCompleted(op: TrackedOp): void {
    if (op.outcome === 'pending' || op.completeTime === null) return;
    const stats = this.statsOf(op.f);
    stats.counts.pending--;
    stats.counts[op.outcome]++;
    (stats.latency ?? this.startLatency(op.f, stats)).recordValue(Math.max(1, Math.round((op.completeTime - op.invokeTime) / 1000)));
    let bucket = Math.max(0, Math.floor(op.completeTime / this.bucketNs));
    while (bucket >= MAX_BUCKETS) {
      this.coarsen();
      bucket = Math.floor(bucket / 2);
    }
    const buckets = this.throughput[op.outcome];
    while (buckets.length <= bucket) buckets.push(0);
    buckets[bucket]!++;
  }

  /** A long run keeps a bounded number of buckets: two neighbours merge and the width doubles. */
  private coarsen(): void {
    this.bucketNs *= 2;
    for (const outcome of ['ok', 'fail', 'info'] as const) {
      const fine = this.throughput[outcome];
      this.throughput[outcome] = Array.from({ length: Math.ceil(fine.length / 2) }, (_, i) => fine[2 * i]! + (fine[2 * i + 1] ?? 0));
    }
  }

  /** Once. */
  finish(durationNs: Nanos, faults: FaultWindow[]): Stats {
    const buckets = Math.max(this.throughput.ok.length, this.throughput.fail.length, this.throughput.info.length);
    const padded = (values: number[]): number[] => [...values, ...new Array<number>(buckets - values.length).fill(0)];
    const counts: Stats['counts'] = {};
    for (const [f, stats] of this.byFunction) counts[f] = stats.counts;
    const latency: Stats['latency'] = {};
    for (const [f, histogram] of this.latencyInOrder) {
      latency[f] = summarizeLatency(histogram);
    }
    return {
      counts,
      latency,
      throughput: { bucketNs: this.bucketNs, ok: padded(this.throughput.ok), fail: padded(this.throughput.fail), info: padded(this.throughput.info) },
      faults,
      durationNs,
    };
  }

  private startLatency(f: OpFunction, stats: FunctionStats): hdr.Histogram {
    stats.latency = newHistogram();
    this.latencyInOrder.push([f, stats.latency]);
    return stats.latency;
  }

  private statsOf(f: OpFunction): FunctionStats {
    let stats = this.byFunction.get(f);
    if (stats === undefined) {
      stats = { counts: { ok: 0, fail: 0, info: 0, pending: 0 }, latency: null };
      this.byFunction.set(f, stats);
    }
    return stats;
  }
}

const MICROS_PER_MILLI = 1000;

function summarizeLatency(histogram: hdr.Histogram): LatencySummary {
  const ms = (micros: number): number => micros / MICROS_PER_MILLI;
  return {
    count: histogram.totalCount,
    min: ms(histogram.minNonZeroValue),
    mean: ms(histogram.mean),
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}
