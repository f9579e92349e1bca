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
import type { LostUpdateAnomaly, ResourceSummary, ResourceWrite, StaleWriteAnomaly } from './types.ts';

interface Entry {
  write: ResourceWrite;
  op: TrackedOp | null;
  acknowledged: boolean;
  overwrittenBy: ResourceWrite | null;
}

interface ResourceState {
  summary: ResourceSummary;
  highestToken: ResourceWrite | null;
  highestImplicit: ResourceWrite | null;
  /** Accepted writes not overwritten yet, values increasing upwards. */
  live: Entry[];
}

export class FencingCheck implements TrackerListener {
  fencedWrites = 0;
  private readonly resources = new Map<string, ResourceState>();
  /** Entries of fenced-writes still waiting for their answer. */
  private readonly awaitingAnswer = new Map<number, Entry>();
  /** Which resource each lock's writes went to, to name the resource of a write it never saw. */
  private readonly resourceOfLock = new Map<string, string>();
  private readonly stale: StaleWriteAnomaly[] = [];
  private readonly lost: LostUpdateAnomaly[] = [];
  private finalValues: SnapshotLine['resources'] | null = null;

  opInvoked(op: TrackedOp): void {
    if (op.f === 'fenced-write') this.fencedWrites++;
  }

  write(write: ResourceWrite, op: TrackedOp | null, opPending: boolean): void {
    const state = this.stateOf(write.resource);
    if (op?.lock != null) this.resourceOfLock.set(op.lock, write.resource);
    const entry: Entry = { write, op, acknowledged: false, overwrittenBy: null };
    if (op !== null && opPending) this.awaitingAnswer.set(op.id, entry);
    if (!write.accepted) {
      state.summary.rejected++;
      return;
    }
    state.summary.accepted++;
    this.checkToken(state, write);
    while (state.live.length > 0 && state.live[state.live.length - 1]!.write.value >= write.value) {
      const overwritten = state.live.pop()!;
      overwritten.overwrittenBy = write;
      if (overwritten.acknowledged) this.lose(overwritten, 'overwritten', null);
    }
    state.live.push(entry);
  }

  opCompleted(op: TrackedOp): void {
    if (op.f !== 'fenced-write') return;
    const entry = this.awaitingAnswer.get(op.id);
    this.awaitingAnswer.delete(op.id);
    if (op.outcome !== 'ok') return;
    const resource = entry?.write.resource ?? this.resourceOfLock.get(op.lock ?? '') ?? `(unrecorded, lock ${op.lock ?? 'unknown'})`;
    this.stateOf(resource).summary.acknowledged++;
    if (entry === undefined) {
      this.lost.push(lostUpdate(resource, op, null, 'missing-from-final', null, null, 'the resource never recorded the write'));
    } else if (!entry.write.accepted) {
      this.lose(entry, 'missing-from-final', null, 'the resource had rejected it');
    } else if (entry.overwrittenBy !== null) {
      this.lose(entry, 'overwritten', null);
    } else {
      entry.acknowledged = true;
    }
  }

  snapshot(line: SnapshotLine): void {
    if (line.final) this.finalValues = line.resources;
  }

  hasFinalValues(): boolean {
    return this.finalValues !== null;
  }

  /** Acknowledged increments above the final counter are missing from it. */
  anomalies(): Array<StaleWriteAnomaly | LostUpdateAnomaly> {
    for (const [resource, state] of this.resources) {
      const finalValue = this.finalValues?.[resource]?.value;
      if (finalValue === undefined) continue;
      state.summary.finalValue = finalValue;
      for (let i = state.live.length - 1; i >= 0 && state.live[i]!.write.value > finalValue; i--) {
        const entry = state.live[i]!;
        if (entry.acknowledged) this.lose(entry, 'missing-from-final', finalValue, `the final counter is ${finalValue}`);
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
    const highestToken = highest === null ? null : (tokenKind === 'fence' ? highest.token : highest.implicitToken);
    if (highest !== null && highestToken !== null && token < highestToken) {
      this.stale.push(staleWrite(write, highest, tokenKind));
      return;
    }
    if (highestToken === null || token > highestToken) {
      if (tokenKind === 'fence') state.highestToken = write;
      else state.highestImplicit = write;
    }
  }

  private lose(entry: Entry, cause: LostUpdateAnomaly['cause'], finalValue: number | null, why?: string): void {
    if (entry.op === null) return;
    const reason = why ?? (entry.overwrittenBy === null ? '' : `the resource then accepted ${describeWrite(entry.overwrittenBy)}`);
    this.lost.push(lostUpdate(entry.write.resource, entry.op, entry.write, cause, entry.overwrittenBy, finalValue, reason));
  }

  private stateOf(resource: string): ResourceState {
    let state = this.resources.get(resource);
    if (state === undefined) {
      state = { summary: { accepted: 0, rejected: 0, acknowledged: 0, finalValue: null }, highestToken: null, highestImplicit: null, live: [] };
      this.resources.set(resource, state);
    }
    return state;
  }
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
  op: TrackedOp,
  write: ResourceWrite | null,
  cause: LostUpdateAnomaly['cause'],
  overwrittenBy: ResourceWrite | null,
  finalValue: number | null,
  reason: string,
): LostUpdateAnomaly {
  const value = write?.value ?? op.value ?? 0;
  const acknowledged = op.completeTime === null ? '' : `, acknowledged at ${at(op.completeTime)}`;
  return {
    type: 'lost-update',
    resource,
    op: summarize(op),
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
