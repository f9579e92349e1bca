/**
 * One pass over a history, keeping only what the report draws: each completed operation as four numbers, each hold
 * window, each fault and marked event, the resource's writes and the final snapshot.
 * A million operations stay a few tens of megabytes.
 */
import { posix } from 'node:path';
import { readHistory } from '../../ground/history-reader.ts';
import type { HistoryLine, OpFunction, OpLine, Outcome, ResourceLine, SnapshotLine } from '../../ground/history.ts';
import type { EventMark, FaultWindow } from './model.ts';

export const OP_FUNCTIONS: readonly OpFunction[] = ['acquire', 'release', 'read', 'fenced-write', 'campaign', 'resign'];
const OUTCOME_CODES: readonly Outcome[] = ['ok', 'fail', 'info'];
const NS_PER_S = 1e9;
/** Beyond this many marks the timelines only get clutter; the count of the rest is kept. */
const MARK_LIMIT = 5_000;
/** Distinct error texts kept; a worker that puts ids in its messages would otherwise make one per operation. */
const ERROR_TEXT_LIMIT = 200;

/** Completed operations as parallel columns: invoke time and latency in seconds, function and outcome as codes. */
export class OpColumns {
  length = 0;
  invoke = new Float64Array(1024);
  latency = new Float64Array(1024);
  fCode = new Uint8Array(1024);
  outcomeCode = new Uint8Array(1024);

  push(invoke: number, latency: number, f: OpFunction, outcome: Outcome): void {
    if (this.length === this.invoke.length) this.grow();
    this.invoke[this.length] = invoke;
    this.latency[this.length] = latency;
    this.fCode[this.length] = OP_FUNCTIONS.indexOf(f);
    this.outcomeCode[this.length] = OUTCOME_CODES.indexOf(outcome);
    this.length += 1;
  }

  f(index: number): OpFunction {
    return OP_FUNCTIONS[this.fCode[index]!]!;
  }

  outcome(index: number): Outcome {
    return OUTCOME_CODES[this.outcomeCode[index]!]!;
  }

  private grow(): void {
    const grown = <T extends Float64Array | Uint8Array>(column: T): T => {
      const next = new (column.constructor as new (n: number) => T)(column.length * 2);
      next.set(column);
      return next;
    };
    this.invoke = grown(this.invoke);
    this.latency = grown(this.latency);
    this.fCode = grown(this.fCode);
    this.outcomeCode = grown(this.outcomeCode);
  }
}

/** [acquire ok, release invoked] of one client on one lock; `open` when the run ended first. */
export interface ClientHold {
  client: string;
  start: number;
  end: number;
  open: boolean;
  node?: string;
  token?: number | null;
  session?: string;
}

export interface Digest {
  runId?: string;
  startedAt?: string;
  headerConfig?: Record<string, unknown>;
  /** Seconds from the start to the last line (or the end line). */
  endTime: number;
  endReason?: string;
  endDetail?: string;
  ops: OpColumns;
  /** Completions that carried an error text, by function, outcome and text (at most ERROR_TEXT_LIMIT texts). */
  errors: Map<string, { f: OpFunction; outcome: Outcome; error: string; count: number }>;
  /** Operations invoked but never completed, by function. */
  pending: Map<OpFunction, number>;
  windows: Map<string, ClientHold[]>;
  acquiresByLock: Map<string, number>;
  faults: FaultWindow[];
  marks: EventMark[];
  marksOmitted: number;
  writes: ResourceLine[];
  finalSnapshot?: SnapshotLine;
  /** Lock directory (parent of the lock nodes) → lock name, learnt from acquire replies. */
  lockDirectories: Map<string, string>;
  /** Lines that could not be read (a torn last line, say) or did not fit: counted, and the rest still drawn. */
  unreadableLines: number;
}

export async function digestHistory(historyPath: string): Promise<Digest> {
  const digest: Digest = {
    endTime: 0,
    ops: new OpColumns(),
    pending: new Map(),
    errors: new Map(),
    windows: new Map(),
    acquiresByLock: new Map(),
    faults: [],
    marks: [],
    marksOmitted: 0,
    writes: [],
    lockDirectories: new Map(),
    unreadableLines: 0,
  };
  // Only operations in flight: a few per client, so keeping their lines whole costs little.
  const invoked = new Map<number, OpLine>();
  const openWindows = new Map<string, ClientHold>();
  const faultStarts = new Map<number, FaultWindow>();
  const markPaths: (string | undefined)[] = [];
  const seconds = (time: number): number => time / NS_PER_S;
  const addMark = (mark: EventMark, path?: string): void => {
    if (digest.marks.length >= MARK_LIMIT) {
      digest.marksOmitted += 1;
      return;
    }
    digest.marks.push(mark);
    markPaths.push(path);
  };

  const onOp = (line: OpLine, time: number): void => {
    if (line.type === 'invoke') {
      invoked.set(line.id, line);
      if (line.f === 'release' && line.lock !== undefined) {
        const key = `${line.client}\u0000${line.lock}`;
        const window = openWindows.get(key);
        if (window !== undefined) {
          window.end = time;
          window.open = false;
          openWindows.delete(key);
        }
      }
      return;
    }
    const invoke = invoked.get(line.id);
    if (invoke === undefined) {
      digest.unreadableLines += 1;
      return;
    }
    invoked.delete(line.id);
    digest.ops.push(seconds(invoke.time), time - seconds(invoke.time), invoke.f, line.type);
    if (line.error !== undefined) {
      const key = `${invoke.f}\u0000${line.type}\u0000${line.error}`;
      const known = digest.errors.get(key);
      if (known !== undefined) known.count += 1;
      else if (digest.errors.size < ERROR_TEXT_LIMIT) digest.errors.set(key, { f: invoke.f, outcome: line.type, error: line.error, count: 1 });
    }
    const lock = line.lock ?? invoke.lock;
    if (invoke.f !== 'acquire' || lock === undefined) return;
    digest.acquiresByLock.set(lock, (digest.acquiresByLock.get(lock) ?? 0) + 1);
    // An `info` acquire does not make its client believe it holds the lock (src/history.ts).
    if (line.type !== 'ok') return;
    if (line.node !== undefined) digest.lockDirectories.set(posix.dirname(line.node), lock);
    const key = `${invoke.client}\u0000${lock}`;
    if (openWindows.has(key)) return;
    const window: ClientHold = {
      client: invoke.client, start: time, end: time, open: true,
      ...(line.node === undefined ? {} : { node: line.node }),
      ...(line.token === undefined ? {} : { token: line.token }),
      ...(line.session === undefined ? {} : { session: line.session }),
    };
    openWindows.set(key, window);
    const windows = digest.windows.get(lock) ?? [];
    windows.push(window);
    digest.windows.set(lock, windows);
  };

  const add = (line: HistoryLine): void => {
    if (line.kind === 'header') {
      digest.runId = line.runId;
      digest.startedAt = line.startedAt;
      digest.headerConfig = line.config;
      return;
    }
    const time = seconds(line.time);
    if (Number.isFinite(time)) digest.endTime = Math.max(digest.endTime, time);
    switch (line.kind) {
      case 'op':
        onOp(line, time);
        break;
      case 'nemesis': {
        if (line.type === 'start') {
          const fault: FaultWindow = { f: line.f, description: line.description, start: time, end: time, healed: false };
          faultStarts.set(line.id, fault);
          digest.faults.push(fault);
        } else {
          const fault = faultStarts.get(line.id);
          if (fault !== undefined) Object.assign(fault, { end: time, healed: true });
          faultStarts.delete(line.id);
        }
        break;
      }
      case 'proxy': {
        const what = [line.event, line.op, line.path, line.zxid === undefined ? undefined : `zxid ${line.zxid}`, line.detail];
        addMark({ time, label: `proxy: ${what.filter((part) => part !== undefined && part !== '').join(' ')}` }, line.path);
        break;
      }
      case 'worker':
        if (line.event === 'expired' || line.event === 'crashed') {
          const who = [line.client ?? line.worker, line.session === undefined ? undefined : `session ${line.session}`];
          addMark({ time, label: `${who.filter(Boolean).join(' ')} ${line.event}${line.detail === undefined ? '' : `: ${line.detail}`}` });
        }
        break;
      case 'resource':
        digest.writes.push(line);
        break;
      case 'snapshot':
        if (line.final) digest.finalSnapshot = line;
        break;
      case 'end':
        digest.endReason = line.reason;
        if (line.detail !== undefined) digest.endDetail = line.detail;
        break;
    }
  };
  await readHistory(historyPath, { add, unreadable: () => { digest.unreadableLines += 1; } });

  for (const window of openWindows.values()) window.end = digest.endTime;
  for (const fault of faultStarts.values()) fault.end = digest.endTime;
  for (const open of invoked.values()) digest.pending.set(open.f, (digest.pending.get(open.f) ?? 0) + 1);
  digest.marks.forEach((mark, index) => {
    const path = markPaths[index];
    if (path === undefined) return;
    const lock = digest.lockDirectories.get(path) ?? digest.lockDirectories.get(posix.dirname(path));
    if (lock !== undefined) mark.lock = lock;
  });
  return digest;
}
