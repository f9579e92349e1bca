/**
 * The data a report page carries inline: already digested and downsampled on the Node side, so the browser only
 * draws. Times are seconds since the run started (the history's monotonic nanoseconds / 1e9).
 * Shared by the builder (Node) and the page script (browser); types only.
 */
import type { Outcome } from '../../ground/history.ts';

export const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'info'];

/** A nemesis fault from its start to its stop (or to the end of the run when it was never healed). */
export interface FaultWindow {
  f: string;
  description: string;
  start: number;
  end: number;
  healed: boolean;
}

/** A moment worth marking on a timeline: a reply the proxy dropped, a session that expired. */
export interface EventMark {
  time: number;
  label: string;
  lock?: string;
}

/**
 * One bar of a lock timeline, as a tuple to keep long runs small: [client index into `clients`, start, end,
 * hold windows it stands for (bars closer than a pixel are merged in long runs), 1 if the run ended before the
 * client released].
 */
export type HoldBar = [client: number, start: number, end: number, holds: number, open: 0 | 1];

/** Two clients holding the same lock at once: the red part of a timeline. */
export interface OverlapBar {
  clients: [string, string];
  start: number;
  end: number;
}

export interface LockTimeline {
  lock: string;
  acquires: number;
  clients: string[];
  bars: HoldBar[];
  overlaps: OverlapBar[];
  /** Windows were merged at this resolution in seconds (0: every window drawn as it is). */
  mergedBelow: number;
}

/**
 * A point of the latency plot, as a tuple: [invoke time, latency in ms, index into `functions`, index into
 * OUTCOMES, operations it stands for (in long runs one point stands for every alike operation of a plot cell)].
 */
export type LatencyPoint = [time: number, latencyMs: number, f: number, outcome: number, count: number];

export interface PercentileLinePoint {
  time: number;
  f: string;
  quantile: string;
  latencyMs: number;
}

export interface ThroughputPoint {
  time: number;
  outcome: Outcome;
  perSecond: number;
}

/** A small timeline drawn under an anomaly: only the windows, marks and faults around it, at full resolution. */
export interface AnomalyFigure {
  kind: 'windows';
  from: number;
  to: number;
  rows: string[];
  bars: { row: string; start: number; end: number; tone: 'hold' | 'overlap' | 'waiting' | 'op'; label: string }[];
  marks: EventMark[];
  faults: FaultWindow[];
}

export interface WriteFigure {
  kind: 'writes';
  from: number;
  to: number;
  writes: { time: number; client: string; token: number | null; value: number; accepted: boolean; stale: boolean }[];
  faults: FaultWindow[];
}

export interface ReportData {
  duration: number;
  faults: FaultWindow[];
  marks: EventMark[];
  locks: LockTimeline[];
  /** Operation names the latency points index. */
  functions: string[];
  latency: LatencyPoint[];
  latencyDownsampled: boolean;
  percentilesOverTime: PercentileLinePoint[];
  throughput: ThroughputPoint[];
  throughputBinSeconds: number;
  /** Figure per anomaly, by the anomaly's index in the report's list. */
  figures: Record<number, AnomalyFigure | WriteFigure>;
}
