/**
 * fencing: what the fenced resource saw, in arrival order (`resource` lines).
 * - stale-write: an accepted write whose token is lower than one already accepted. Without tokens (a recipe
 *   that gives none), the start of the writer's hold window stands in for its token.
 * - lost-update: the workload increments (read v, write v + 1), so the accepted writes that still count form an
 *   increasing stack of values; an accepted write of v pops every entry ≥ v (they are overwritten). An
 *   acknowledged increment that is popped, that the resource rejected or never saw, or whose value is above the
 *   final counter, is lost.
 */
import type { SnapshotLine } from '../src/history.ts';
import { at, write as describeWrite } from './describe.ts';
import { summarize, type TrackedOp, type TrackerListener } from './tracker.ts';
import type { LostUpdateAnomaly, OpSummary, ResourceSummary, ResourceWrite, StaleWriteAnomaly } from './types.ts';

/** A write whose fenced-write has not been answered yet. */
interface Unanswered {
  write: ResourceWrite;
  op: TrackedOp;
  /** Position in the resource's live writes while it counts; -1 once overwritten or if rejected. */
  index: number;
  overwrittenBy: ResourceWrite | null;
}

interface ResourceState {
  name: string;
  /** The lock whose holders write this resource (from the fenced-write operations). */
  lock: string | null;
  summary: ResourceSummary;
  highestToken: ResourceWrite | null;
  highestImplicit: ResourceWrite | null;
  live: LiveWrites;
}

export class FencingCheck implements TrackerListener {
  fencedWrites = 0;
  private readonly resources = new Map<string, ResourceState>();
  private readonly unanswered = new Map<number, Unanswered>();
  /** Which resource each lock's writes went to, to name the resource of a write it never saw. */
  private readonly resourceOfLock = new Map<string, string>();
  private readonly writers = new Interned<Writer>((writer) => `${writer.client}\u0000${writer.worker}\u0000${writer.session}`);
  private readonly lastWriterOfClient = new Map<string, { writer: Writer; index: number }>();
  private readonly stale: StaleWriteAnomaly[] = [];
  private readonly lost: LostUpdateAnomaly[] = [];
  private finalValues: SnapshotLine['resources'] | null = null;

  opInvoked(op: TrackedOp): void {
    if (op.f === 'fenced-write') this.fencedWrites++;
  }

  write(write: ResourceWrite, op: TrackedOp | null, opPending: boolean): void {
    const state = this.stateOf(write.resource);
    if (op?.lock != null && state.lock !== op.lock) {
      state.lock = op.lock;
      this.resourceOfLock.set(op.lock, write.resource);
    }
    const unanswered: Unanswered | null = op !== null && opPending ? { write, op, index: -1, overwrittenBy: null } : null;
    if (unanswered !== null) this.unanswered.set(unanswered.op.id, unanswered);
    if (!write.accepted) {
      state.summary.rejected++;
      return;
    }
    state.summary.accepted++;
    this.checkToken(state, write);
    const live = state.live;
    while (live.length > 0 && live.value(live.length - 1) >= write.value) {
      const top = live.length - 1;
      if (live.acknowledged(top)) this.lost.push(this.lostFromLive(state, top, 'overwritten', write, null));
      else {
        const pending = this.unanswered.get(live.opId(top));
        if (pending !== undefined) {
          pending.overwrittenBy = write;
          pending.index = -1;
        }
      }
      live.pop();
    }
    if (unanswered !== null) unanswered.index = live.length;
    live.push(write, op, op === null ? -1 : this.writerIndexOf(op));
  }

  opCompleted(op: TrackedOp): void {
    if (op.f !== 'fenced-write') return;
    const unanswered = this.unanswered.get(op.id);
    this.unanswered.delete(op.id);
    if (op.outcome !== 'ok') return;
    const resource = unanswered?.write.resource ?? this.resourceOfLock.get(op.lock ?? '') ?? `(unrecorded, lock ${op.lock ?? 'unknown'})`;
    const state = this.stateOf(resource);
    state.summary.acknowledged++;
    if (unanswered === undefined) {
      this.lost.push(lostUpdate(resource, summarize(op), null, 'missing-from-final', null, null, 'the resource never recorded the write', op.value ?? 0));
    } else if (!unanswered.write.accepted) {
      this.lost.push(lostUpdate(resource, summarize(op), unanswered.write, 'missing-from-final', null, null, 'the resource had rejected it'));
    } else if (unanswered.overwrittenBy !== null) {
      this.lost.push(lostUpdate(resource, summarize(op), unanswered.write, 'overwritten', unanswered.overwrittenBy, null, overwrittenReason(unanswered.overwrittenBy)));
    } else {
      state.live.acknowledge(unanswered.index, op);
    }
  }

  snapshot(line: SnapshotLine): void {
    if (line.final) this.finalValues = line.resources;
  }

  /** Acknowledged increments above the final counter are missing from it. */
  anomalies(): Array<StaleWriteAnomaly | LostUpdateAnomaly> {
    for (const [resource, state] of this.resources) {
      const finalValue = this.finalValues?.[resource]?.value;
      if (finalValue === undefined) continue;
      state.summary.finalValue = finalValue;
      for (let i = state.live.length - 1; i >= 0 && state.live.value(i) > finalValue; i--) {
        if (state.live.acknowledged(i)) this.lost.push(this.lostFromLive(state, i, 'missing-from-final', null, finalValue));
      }
    }
    return [...this.stale, ...this.lost].sort((a, b) => a.span.start - b.span.start);
  }

  summaries(): Record<string, ResourceSummary> {
    return Object.fromEntries([...this.resources].map(([name, state]) => [name, state.summary]));
  }

  private checkToken(state: ResourceState, write: ResourceWrite): void {
    const tokenKind = write.token !== null ? 'fence' : 'implicit';
    const token = write.token ?? write.implicitToken;
    if (token === null) return;
    const highest = tokenKind === 'fence' ? state.highestToken : state.highestImplicit;
    const highestToken = highest === null ? null : tokenKind === 'fence' ? highest.token : highest.implicitToken;
    if (highest !== null && highestToken !== null && token < highestToken) {
      this.stale.push(staleWrite(write, highest, tokenKind));
      return;
    }
    if (highestToken === null || token > highestToken) {
      if (tokenKind === 'fence') state.highestToken = write;
      else state.highestImplicit = write;
    }
  }

  private lostFromLive(state: ResourceState, index: number, cause: LostUpdateAnomaly['cause'], by: ResourceWrite | null, finalValue: number | null): LostUpdateAnomaly {
    const write = state.live.write(index, state.name, this.writers);
    const op = state.live.op(index, this.writers, state.lock);
    const reason = by !== null ? overwrittenReason(by) : `the final counter is ${finalValue ?? 'unknown'}`;
    return lostUpdate(state.name, op, write, cause, by, finalValue, reason);
  }

  /** A client's writer changes only with its session: remember each client's last one. */
  private writerIndexOf(op: TrackedOp): number {
    const cached = this.lastWriterOfClient.get(op.client);
    if (cached !== undefined && cached.writer.worker === op.worker && cached.writer.session === op.session) return cached.index;
    const writer = writerOf(op);
    const index = this.writers.indexOf(writer);
    this.lastWriterOfClient.set(op.client, { writer, index });
    return index;
  }

  private stateOf(resource: string): ResourceState {
    let state = this.resources.get(resource);
    if (state === undefined) {
      state = { name: resource, lock: null, summary: { accepted: 0, rejected: 0, acknowledged: 0, finalValue: null }, highestToken: null, highestImplicit: null, live: new LiveWrites() };
      this.resources.set(resource, state);
    }
    return state;
  }
}

/** Who wrote: the fields of an operation summary that stay the same from one write of a client to the next. */
interface Writer {
  client: string;
  worker: string;
  session: string | null;
}

function writerOf(op: TrackedOp): Writer {
  return { client: op.client, worker: op.worker, session: op.session };
}

/** Distinct values numbered once, so that a number can stand for them in packed arrays. */
class Interned<T> {
  private readonly byKey = new Map<string, number>();
  readonly values: T[] = [];

  constructor(private readonly keyOf: (value: T) => string) {}

  indexOf(value: T): number {
    const key = this.keyOf(value);
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.values.length;
      this.values.push(value);
      this.byKey.set(key, index);
    }
    return index;
  }
}

const FIELDS = { value: 0, time: 1, token: 2, implicitToken: 3, opId: 4, writer: 5, invokeTime: 6, completeTime: 7 } as const;
const STRIDE = 8;

/**
 * The accepted writes that still count on one resource, values increasing upwards, packed STRIDE numbers per
 * write (64 bytes): a long run accepts millions, and any of them may later be overwritten or be missing
 * from the final counter, so all are kept, as compactly as the report still allows naming them.
 */
class LiveWrites {
  private readonly data: number[] = [];

  get length(): number {
    return this.data.length / STRIDE;
  }

  push(write: ResourceWrite, op: TrackedOp | null, writer: number): void {
    this.data.push(
      write.value, write.time, write.token ?? Number.NaN, write.implicitToken ?? Number.NaN, op?.id ?? -1, writer,
      op?.invokeTime ?? Number.NaN, Number.NaN,
    );
  }

  pop(): void {
    this.data.length -= STRIDE;
  }

  value(index: number): number {
    return this.field(index, 'value');
  }

  opId(index: number): number {
    return this.field(index, 'opId');
  }

  acknowledged(index: number): boolean {
    return !Number.isNaN(this.field(index, 'completeTime'));
  }

  acknowledge(index: number, op: TrackedOp): void {
    this.data[index * STRIDE + FIELDS.completeTime] = op.completeTime ?? op.invokeTime;
  }

  /** Only acknowledged writes are asked for, so their writer is known. */
  write(index: number, resource: string, writers: Interned<Writer>): ResourceWrite {
    const opId = this.field(index, 'opId');
    return {
      time: this.field(index, 'time'),
      resource,
      client: writers.values[this.field(index, 'writer')]!.client,
      value: this.value(index),
      accepted: true,
      token: nullIfNaN(this.field(index, 'token')),
      implicitToken: nullIfNaN(this.field(index, 'implicitToken')),
      op: opId === -1 ? null : opId,
    };
  }

  op(index: number, writers: Interned<Writer>, lock: string | null): OpSummary {
    const writer = writers.values[this.field(index, 'writer')]!;
    return {
      id: this.opId(index),
      f: 'fenced-write',
      ...writer,
      lock,
      mode: null,
      invokeTime: this.field(index, 'invokeTime'),
      completeTime: this.field(index, 'completeTime'),
      outcome: 'ok',
      error: null,
    };
  }

  private field(index: number, name: keyof typeof FIELDS): number {
    return this.data[index * STRIDE + FIELDS[name]]!;
  }
}

function nullIfNaN(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

function overwrittenReason(by: ResourceWrite): string {
  return `the resource then accepted ${describeWrite(by)}`;
}

function staleWrite(write: ResourceWrite, newer: ResourceWrite, tokenKind: StaleWriteAnomaly['tokenKind']): StaleWriteAnomaly {
  const compared = tokenKind === 'fence' ? 'token' : 'hold window (no tokens: the later hold is the newer)';
  return {
    type: 'stale-write',
    resource: write.resource,
    write,
    newer,
    tokenKind,
    span: { start: newer.time, end: write.time },
    ops: [newer.op, write.op].filter((id): id is number => id !== null),
    events: [],
    explanation: `${write.resource} accepted ${describeWrite(write)} after it had accepted ${describeWrite(newer)}, which has a newer ${compared}.`,
  };
}

function lostUpdate(
  resource: string,
  op: OpSummary,
  write: ResourceWrite | null,
  cause: LostUpdateAnomaly['cause'],
  overwrittenBy: ResourceWrite | null,
  finalValue: number | null,
  reason: string,
  value = write?.value ?? 0,
): LostUpdateAnomaly {
  const acknowledged = op.completeTime === null ? '' : `, acknowledged at ${at(op.completeTime)}`;
  return {
    type: 'lost-update',
    resource,
    op,
    value,
    write,
    cause,
    overwrittenBy,
    finalValue,
    span: { start: write?.time ?? op.invokeTime, end: overwrittenBy?.time ?? op.completeTime ?? op.invokeTime },
    ops: [op.id, ...(overwrittenBy?.op != null ? [overwrittenBy.op] : [])],
    events: [],
    explanation: `${op.client}'s increment of ${resource} to ${value} (fenced-write #${op.id}${acknowledged}) is lost: ${reason}.`,
  };
}
