/**
 * stats: counts per function and outcome, latency percentiles per function (HdrHistogram, microsecond
 * resolution), completions per time bucket, and the fault windows. Constant memory per function and bucket.
 */
import * as hdr from 'hdr-histogram-js';
import type { OpFunction, Outcome } from '../src/history.ts';
import type { TrackedOp, TrackerListener } from './tracker.ts';
import type { FaultWindow, LatencySummary, Nanos, Stats } from './types.ts';

type Counts = Record<Outcome | 'pending', number>;

/** Throughput keeps at most this many buckets, however long the run. */
const MAX_BUCKETS = 10_000;

let webAssemblyReady = false;

/** The WebAssembly histograms record about 7× faster than the JavaScript ones; they must be destroyed. */
function newHistogram(): hdr.Histogram {
  if (!webAssemblyReady) {
    hdr.initWebAssemblySync();
    webAssemblyReady = true;
  }
  return hdr.build({ useWebAssembly: true, numberOfSignificantValueDigits: 3 });
}

export class StatsCollector implements TrackerListener {
  private readonly counts = new Map<OpFunction, Counts>();
  private readonly latency = new Map<OpFunction, hdr.Histogram>();
  private readonly throughput = { ok: [] as number[], fail: [] as number[], info: [] as number[] };

  constructor(private bucketNs: Nanos) {}

  opInvoked(op: TrackedOp): void {
    this.countsOf(op.f).pending++;
  }

  opCompleted(op: TrackedOp): void {
    if (op.outcome === 'pending' || op.completeTime === null) return;
    const counts = this.countsOf(op.f);
    counts.pending--;
    counts[op.outcome]++;
    let histogram = this.latency.get(op.f);
    if (histogram === undefined) {
      histogram = newHistogram();
      this.latency.set(op.f, histogram);
    }
    histogram.recordValue(Math.max(1, Math.round((op.completeTime - op.invokeTime) / 1000)));
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

  /** Frees the histograms: call once. */
  finish(durationNs: Nanos, faults: FaultWindow[]): Stats {
    const buckets = Math.max(this.throughput.ok.length, this.throughput.fail.length, this.throughput.info.length);
    const padded = (values: number[]): number[] => [...values, ...new Array<number>(buckets - values.length).fill(0)];
    const latency: Stats['latency'] = {};
    for (const [f, histogram] of this.latency) {
      latency[f] = summarizeLatency(histogram);
      histogram.destroy();
    }
    return {
      counts: Object.fromEntries(this.counts),
      latency,
      throughput: { bucketNs: this.bucketNs, ok: padded(this.throughput.ok), fail: padded(this.throughput.fail), info: padded(this.throughput.info) },
      faults,
      durationNs,
    };
  }

  private countsOf(f: OpFunction): Counts {
    let counts = this.counts.get(f);
    if (counts === undefined) {
      counts = { ok: 0, fail: 0, info: 0, pending: 0 };
      this.counts.set(f, counts);
    }
    return counts;
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
