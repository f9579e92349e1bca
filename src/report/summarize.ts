/**
 * From a digested history and the checker's results to what the page draws: downsampled series, lock timelines
 * (busiest first), one small full-resolution figure per anomaly, and the percentile table.
 */
import * as hdr from 'hdr-histogram-js';
import type { Anomaly, Results } from '../../checker/types.ts';
import type { OpFunction, Outcome } from '../../ground/history.ts';
import { OP_FUNCTIONS, type ClientHold, type Digest } from './digest.ts';
import {
  OUTCOMES, type AnomalyFigure, type EventMark, type FaultWindow, type HoldBar, type LatencyPoint, type LockTimeline,
  type OverlapBar, type PercentileLinePoint, type ReportData, type ThroughputPoint, type WriteFigure,
} from './model.ts';

/** Below this many operations every one is a point of the latency plot. */
const RAW_LATENCY_POINTS = 20_000;
/** Plot cells for long runs: time slices × latency slices per decade; one point per occupied cell and outcome. */
const LATENCY_TIME_CELLS = 600;
const LATENCY_CELLS_PER_DECADE = 20;
const SERIES_BINS = 120;
/** Hold windows closer than this share of the run are drawn as one bar (a pixel of a wide timeline). */
const TIMELINE_RESOLUTION = 1 / 2_000;
/** Figures beyond this many anomalies of one type would only bloat the file; their words stay. */
const FIGURES_PER_TYPE = 100;
const FIGURE_BAR_LIMIT = 400;
const NS = 1e9;

export interface PercentileRow {
  f: OpFunction;
  outcome: Outcome;
  count: number;
  /** Milliseconds, by percentile label. */
  values: Record<string, number>;
}

export const PERCENTILES: readonly [string, number][] = [
  ['p50', 50], ['p90', 90], ['p95', 95], ['p99', 99], ['p99.9', 99.9], ['max', 100],
];

export function listAnomalies(results: Results | undefined): Anomaly[] {
  if (results === undefined) return [];
  return Object.values(results.checkers).flatMap((check) => check.anomalies as Anomaly[]);
}

export function summarize(digest: Digest, results: Results | undefined): { data: ReportData; percentiles: PercentileRow[] } {
  const duration = Math.max(digest.endTime, 1e-3);
  const anomalies = listAnomalies(results);
  const binSeconds = niceStep(duration / SERIES_BINS);
  const figures: ReportData['figures'] = {};
  const drawnPerType = new Map<string, number>();
  anomalies.forEach((anomaly, index) => {
    const drawn = drawnPerType.get(anomaly.type) ?? 0;
    if (drawn >= FIGURES_PER_TYPE) return;
    drawnPerType.set(anomaly.type, drawn + 1);
    figures[index] = figureFor(anomaly, digest);
  });
  return {
    data: {
      duration,
      faults: digest.faults,
      marks: digest.marks,
      locks: lockTimelines(digest, anomalies, duration),
      functions: [...OP_FUNCTIONS],
      latency: latencyPoints(digest),
      latencyDownsampled: digest.ops.length > RAW_LATENCY_POINTS,
      percentilesOverTime: percentilesOverTime(digest, binSeconds),
      throughput: throughput(digest, binSeconds),
      throughputBinSeconds: binSeconds,
      figures,
    },
    percentiles: percentileRows(digest),
  };
}

/** 1, 2 or 5 times a power of ten, at least `raw`: bins people can read off an axis. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  return [1, 2, 5, 10].map((factor) => factor * power).find((step) => step >= raw) ?? 10 * power;
}

function lockTimelines(digest: Digest, anomalies: Anomaly[], duration: number): LockTimeline[] {
  const overlaps = new Map<string, OverlapBar[]>();
  for (const anomaly of anomalies) {
    if (anomaly.type !== 'double-holder') continue;
    const list = overlaps.get(anomaly.lock) ?? [];
    list.push({
      clients: [anomaly.windows[0].client, anomaly.windows[1].client],
      start: anomaly.overlap.start / NS, end: anomaly.overlap.end / NS,
    });
    overlaps.set(anomaly.lock, list);
  }
  const locks = new Set([...digest.acquiresByLock.keys(), ...overlaps.keys()]);
  const resolution = duration * TIMELINE_RESOLUTION;
  return [...locks]
    .map((lock) => {
      const windows = digest.windows.get(lock) ?? [];
      const merge = windows.length > 2 / TIMELINE_RESOLUTION;
      const clients = [...new Set(windows.map((window) => window.client))].sort(naturalOrder);
      const clientIndex = new Map(clients.map((client, index) => [client, index]));
      return {
        lock,
        acquires: digest.acquiresByLock.get(lock) ?? 0,
        clients,
        bars: holdBars(windows, merge ? resolution : 0).map((bar): HoldBar =>
          [clientIndex.get(bar.client)!, rounded(bar.start), rounded(bar.end), bar.holds, bar.open ? 1 : 0]),
        overlaps: overlaps.get(lock) ?? [],
        mergedBelow: merge ? resolution : 0,
      };
    })
    .sort((a, b) => b.overlaps.length - a.overlaps.length || b.acquires - a.acquires || naturalOrder(a.lock, b.lock));
}

export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

interface MergedHold {
  client: string;
  start: number;
  end: number;
  holds: number;
  open: boolean;
}

/** Long runs' numbers carry a tenth of a millisecond, no more: the page is smaller and no pixel moves. */
const rounded = (value: number): number => Math.round(value * 1e4) / 1e4;

/** Per client, windows in time order; a window starting within `mergeBelow` of the previous bar's end joins it. */
export function holdBars(windows: ClientHold[], mergeBelow: number): MergedHold[] {
  const bars: MergedHold[] = [];
  const lastByClient = new Map<string, MergedHold>();
  for (const window of [...windows].sort((a, b) => a.start - b.start)) {
    const last = lastByClient.get(window.client);
    if (last !== undefined && window.start - last.end < mergeBelow) {
      last.end = Math.max(last.end, window.end);
      last.holds += 1;
      last.open ||= window.open;
      continue;
    }
    const bar: MergedHold = { client: window.client, start: window.start, end: window.end, holds: 1, open: window.open };
    bars.push(bar);
    lastByClient.set(window.client, bar);
  }
  return bars;
}

function latencyPoints(digest: Digest): LatencyPoint[] {
  const { ops } = digest;
  const point = (index: number, count: number): LatencyPoint => [
    rounded(ops.invoke[index]!), Number(Math.max(ops.latency[index]! * 1e3, 1e-3).toPrecision(4)), ops.fCode[index]!, ops.outcomeCode[index]!, count,
  ];
  if (ops.length <= RAW_LATENCY_POINTS) return Array.from({ length: ops.length }, (_, index) => point(index, 1));
  // One real operation stands for each occupied cell, so outliers (the interesting ones) always stay visible.
  const cellSeconds = Math.max(digest.endTime, 1e-3) / LATENCY_TIME_CELLS;
  const cells = new Map<string, { index: number; count: number }>();
  for (let index = 0; index < ops.length; index += 1) {
    const latencyCell = Math.floor(Math.log10(Math.max(ops.latency[index]!, 1e-6)) * LATENCY_CELLS_PER_DECADE);
    const key = `${ops.fCode[index]} ${ops.outcomeCode[index]} ${Math.floor(ops.invoke[index]! / cellSeconds)} ${latencyCell}`;
    const cell = cells.get(key);
    if (cell === undefined) cells.set(key, { index, count: 1 });
    else cell.count += 1;
  }
  return [...cells.values()].map((cell) => point(cell.index, cell.count));
}

function throughput(digest: Digest, binSeconds: number): ThroughputPoint[] {
  const { ops } = digest;
  const bins = Math.ceil(Math.max(digest.endTime, binSeconds) / binSeconds) + 1;
  const counts = OUTCOMES.map(() => new Float64Array(bins));
  for (let index = 0; index < ops.length; index += 1) {
    const bin = Math.floor((ops.invoke[index]! + ops.latency[index]!) / binSeconds);
    counts[ops.outcomeCode[index]!]![Math.min(bin, bins - 1)]! += 1;
  }
  return OUTCOMES.flatMap((outcome, code) =>
    Array.from(counts[code]!, (count, bin) => ({ time: bin * binSeconds, outcome, perSecond: count / binSeconds })));
}

// Highest first, so the median is drawn last, on top.
const QUANTILES: readonly [string, number][] = [['max', 1], ['p99', 0.99], ['p50', 0.5]];

function percentilesOverTime(digest: Digest, binSeconds: number): PercentileLinePoint[] {
  const { ops } = digest;
  const groups = new Map<string, { f: OpFunction; time: number; latencies: number[] }>();
  for (let index = 0; index < ops.length; index += 1) {
    if (ops.outcome(index) !== 'ok') continue;
    const time = Math.floor(ops.invoke[index]! / binSeconds) * binSeconds;
    const key = `${ops.fCode[index]} ${time}`;
    const group = groups.get(key) ?? { f: ops.f(index), time, latencies: [] };
    group.latencies.push(ops.latency[index]! * 1e3);
    groups.set(key, group);
  }
  return [...groups.values()].flatMap(({ f, time, latencies }) => {
    latencies.sort((a, b) => a - b);
    return QUANTILES.map(([quantile, q]) => ({
      time, f, quantile, latencyMs: Math.max(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!, 1e-3),
    }));
  });
}

function percentileRows(digest: Digest): PercentileRow[] {
  const { ops } = digest;
  const histograms = new Map<string, hdr.Histogram>();
  const counts = new Map<string, number>();
  for (let index = 0; index < ops.length; index += 1) {
    const key = `${ops.fCode[index]} ${ops.outcomeCode[index]}`;
    let histogram = histograms.get(key);
    if (histogram === undefined) {
      histogram = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, autoResize: true });
      histograms.set(key, histogram);
    }
    histogram.recordValue(Math.max(1, Math.round(ops.latency[index]! * 1e6)));
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const rows: PercentileRow[] = [];
  OP_FUNCTIONS.forEach((f, fCode) => OUTCOMES.forEach((outcome, outcomeCode) => {
    const histogram = histograms.get(`${fCode} ${outcomeCode}`);
    if (histogram === undefined) return;
    const values = Object.fromEntries(PERCENTILES.map(([label, percentile]) =>
      [label, (percentile === 100 ? histogram.maxValue : histogram.getValueAtPercentile(percentile)) / 1e3]));
    rows.push({ f, outcome, count: counts.get(`${fCode} ${outcomeCode}`)!, values });
    histogram.destroy();
  }));
  return rows;
}

// ---- One figure per anomaly: only what is around it, at full resolution. ----

function overlapping(faults: FaultWindow[], from: number, to: number): FaultWindow[] {
  return faults.filter((fault) => fault.end >= from && fault.start <= to);
}

function marksBetween(marks: EventMark[], from: number, to: number, lock?: string): EventMark[] {
  return marks.filter((mark) => mark.time >= from && mark.time <= to && (lock === undefined || mark.lock === undefined || mark.lock === lock));
}

/** The range [from, to] widened by a margin, so the bars do not touch the frame. */
function padded(from: number, to: number, duration: number): [number, number] {
  const margin = Math.max((to - from) * 0.15, 0.05);
  return [Math.max(0, from - margin), Math.min(duration, to + margin)];
}

function windowFigure(digest: Digest, lock: string, range: [number, number], focus: AnomalyFigure['bars'], focusRows: string[]): AnomalyFigure {
  const [from, to] = padded(range[0], range[1], digest.endTime);
  const others = (digest.windows.get(lock) ?? [])
    .filter((window) => window.end >= from && window.start <= to)
    .filter((window) => !focus.some((bar) => bar.tone === 'hold' && bar.row === window.client && bar.start === window.start));
  const bars = holdBars(others, others.length > FIGURE_BAR_LIMIT ? (to - from) / 1_000 : 0).slice(0, FIGURE_BAR_LIMIT)
    .map((bar) => ({ row: bar.client, start: bar.start, end: bar.end, tone: 'hold' as const, label: `${bar.client} holds ${lock}${bar.holds > 1 ? ` (${bar.holds} windows)` : ''}` }));
  const rows = [...new Set([...focusRows, ...[...new Set(bars.map((bar) => bar.row))].sort(naturalOrder)])];
  return {
    kind: 'windows', from, to, rows, bars: [...bars, ...focus],
    marks: marksBetween(digest.marks, from, to, lock), faults: overlapping(digest.faults, from, to),
  };
}

function figureFor(anomaly: Anomaly, digest: Digest): AnomalyFigure | WriteFigure {
  const end = digest.endTime;
  switch (anomaly.type) {
    case 'double-holder': {
      const [first, second] = anomaly.windows;
      const windowBar = (window: typeof first) => ({
        row: window.client, start: window.start / NS, end: (window.end ?? end * NS) / NS, tone: 'hold' as const,
        label: `${window.client} holds ${anomaly.lock} (token ${window.token ?? 'none'})`,
      });
      const overlap = (row: string) => ({
        row, start: anomaly.overlap.start / NS, end: anomaly.overlap.end / NS, tone: 'overlap' as const,
        label: `both ${first.client} and ${second.client} hold ${anomaly.lock}`,
      });
      const bars = [windowBar(first), windowBar(second), overlap(first.client), overlap(second.client)];
      return windowFigure(digest, anomaly.lock, [first.start / NS, Math.max(bars[0]!.end, bars[1]!.end)], bars, [first.client, second.client]);
    }
    case 'leaked-node': {
      const created = anomaly.createdBy;
      const bars: AnomalyFigure['bars'] = [];
      const ownerRow = anomaly.owner.client ?? anomaly.owner.session;
      const start = created === null ? anomaly.span.start / NS : created.invokeTime / NS;
      if (created !== null) {
        bars.push({
          row: ownerRow, start, end: (created.completeTime ?? end * NS) / NS, tone: 'op',
          label: `op ${created.id}: ${created.mode ?? ''} acquire of ${anomaly.lock} → ${created.outcome}${created.error === null ? '' : ` (${created.error})`}`,
        });
      }
      const leakRow = `node ${anomaly.node.name}`;
      bars.push({ row: leakRow, start: (created?.completeTime ?? anomaly.span.start) / NS, end: anomaly.seen.last / NS, tone: 'waiting', label: `${anomaly.node.path} stays, owned by ${anomaly.owner.session}` });
      // The leak matters from its creation on; the figure stops a few seconds later unless the run ends first.
      return windowFigure(digest, anomaly.lock, [start, Math.min(anomaly.seen.last / NS, start + 10)], bars, [ownerRow, leakRow]);
    }
    case 'stuck-acquire': {
      const acquire = anomaly.acquire;
      const start = acquire === null ? anomaly.span.start / NS : acquire.invokeTime / NS;
      const bars: AnomalyFigure['bars'] = acquire === null ? [] : [{
        row: acquire.client, start, end: (acquire.completeTime ?? end * NS) / NS, tone: 'waiting',
        label: `op ${acquire.id}: ${acquire.client} waits for ${anomaly.lock} (${acquire.outcome})`,
      }];
      const rows = acquire === null ? [] : [acquire.client];
      return windowFigure(digest, anomaly.lock, [Math.max(0, start - 5), (anomaly.span.end / NS)], bars, rows);
    }
    case 'double-leader': {
      const bars = anomaly.windows.flatMap((window) => [
        { row: window.client, start: window.start / NS, end: (window.end ?? end * NS) / NS, tone: 'hold' as const, label: `${window.client} leads ${anomaly.election} (token ${window.token ?? 'none'})` },
        { row: window.client, start: anomaly.overlap.start / NS, end: anomaly.overlap.end / NS, tone: 'overlap' as const, label: `both ${anomaly.windows[0].client} and ${anomaly.windows[1].client} lead ${anomaly.election}` },
      ]);
      return windowFigure(digest, anomaly.election, [anomaly.windows[0].start / NS, Math.max(bars[0]!.end, bars[2]!.end)], bars, anomaly.windows.map((window) => window.client));
    }
    case 'no-leader': {
      const row = `nobody leads ${anomaly.election}`;
      const bars = [{ row, start: anomaly.leaderless.start / NS, end: anomaly.leaderless.end / NS, tone: 'waiting' as const, label: `candidates ${anomaly.candidates.join(', ')}` }];
      return windowFigure(digest, anomaly.election, [Math.max(0, anomaly.leaderless.start / NS - 2), anomaly.leaderless.end / NS], bars, [row]);
    }
    case 'over-permits': {
      const bars = anomaly.windows.flatMap((window) => [
        { row: window.client, start: window.start / NS, end: (window.end ?? end * NS) / NS, tone: 'hold' as const, label: `${window.client} holds a lease of ${anomaly.lock}` },
        { row: window.client, start: anomaly.overlap.start / NS, end: anomaly.overlap.end / NS, tone: 'overlap' as const, label: `${anomaly.windows.length} hold ${anomaly.lock}, which has ${anomaly.permits} permits` },
      ]);
      const first = Math.min(...anomaly.windows.map((window) => window.start)) / NS;
      return windowFigure(digest, anomaly.lock, [first, anomaly.overlap.end / NS], bars, anomaly.windows.map((window) => window.client));
    }
    case 'stale-write':
    case 'lost-update': {
      const focus = anomaly.write;
      const from = Math.min(anomaly.span.start, anomaly.span.end) / NS;
      const to = Math.max(anomaly.span.start, anomaly.span.end) / NS;
      // The writes before the anomaly show the order it broke, so the figure looks further back than forward.
      const rangeFrom = Math.max(0, from - Math.max(2, to - from));
      const rangeTo = Math.min(end, to + Math.max(0.5, (to - from) * 0.2));
      const writes = digest.writes
        .filter((write) => write.resource === anomaly.resource && write.time / NS >= rangeFrom && write.time / NS <= rangeTo)
        .slice(0, FIGURE_BAR_LIMIT)
        .map((write) => ({
          time: write.time / NS, client: write.client, token: write.token, value: write.value, accepted: write.accepted,
          stale: focus !== null && write.time === focus.time && write.client === focus.client,
        }));
      return { kind: 'writes', from: rangeFrom, to: rangeTo, writes, faults: overlapping(digest.faults, rangeFrom, rangeTo) };
    }
  }
}
