/**
 * liveness: a blocking acquire must not wait while nobody holds the lock. A lock is free while no hold window
 * is open on it; a waiter that stays pending (or gives up) through a free stretch longer than the bound is a
 * stuck acquire. The bound is measured over the stretch's time with no server fault in force (server-faults.ts):
 * a killed, paused or partitioned server holds up its clients until they move, and nothing owes progress then; a
 * deadlock outlasts the faults that made it and is found after they heal. Waiters are only examined when a long free stretch ends (then found among the pending
 * operations), or when they finish, so the cost is O(1) per operation. The final snapshot adds the static form: a lock whose lowest node belongs to a client
 * that is not acquiring it blocks every future acquire.
 *
 * Read/write locks: a read window counts as holding for writers, but a reader only ever waits for writers, so a
 * blocking read acquire is judged against the stretches with no write window open and no write acquire pending
 * (`reader-waited-without-writer`), the same way. A reader behind a writer that waits is left to that writer.
 */
import type { HeaderLine, HistoryLine, LockChild, SnapshotLine } from '../ground/history.ts';
import { doubtsWithFinal, judge, progressBound, type Check, type CheckContext, type CheckEnd, type RunningCheck } from './check.ts';
import { at, duration, owner as describeOwner } from './describe.ts';
import { lowestChild, PERSISTENT_OWNER } from './nodes.ts';
import { ServerFaultTime } from './server-faults.ts';
import { summarize, type ClientLockActivity, type TrackedLock, type TrackedOp, type Tracker } from './tracker.ts';
import type { HoldWindow, Interval, LivenessResult, Nanos, NodeOwner, StuckAcquireAnomaly } from './types.ts';


export const livenessCheck: Check<'liveness', LivenessResult> = {
  name: 'liveness',
  create: (context: CheckContext) => {
    const { boundNs, source } = progressBound(context);
    return new LivenessCheck(context.tracker, boundNs, source);
  },
};

interface LockState {
  lock: TrackedLock;
  /** Start of the current free stretch; null while someone holds the lock. */
  freeSince: Nanos | null;
  /** Write windows open and write acquires pending: what a reader may wait for. */
  writers: number;
  /** Start of the current stretch without writers; null while there are some. */
  writerlessSince: Nanos | null;
}

type WaitCause = 'waited-while-free' | 'reader-waited-without-writer';

class LivenessCheck implements RunningCheck<LivenessResult> {
  /** By the tracker's lock index. */
  private readonly states: LockState[] = [];
  /** The same, in the order they were first needed (a blocking acquire, a window): the end-of-run judgement goes through them in that order. */
  private readonly statesInOrder: LockState[] = [];
  /** Ids of the acquires already reported, so that each is reported once. */
  private readonly flagged = new Set<number>();
  private readonly found: Array<{ waiter: TrackedOp; freeSpan: Interval; unfaultedNs: Nanos; cause: WaitCause }> = [];
  private readonly serverFaults = new ServerFaultTime();
  private readonly unclaimedHeads: StuckAcquireAnomaly[] = [];
  private latestSnapshot: SnapshotLine | null = null;

  constructor(
    private readonly tracker: Tracker,
    private readonly boundNs: Nanos,
    private readonly boundSource: LivenessResult['boundSource'],
  ) {}

  line(line: Exclude<HistoryLine, HeaderLine>): void {
    if (line.kind === 'nemesis') this.serverFaults.line(line);
  }

  opInvoked(op: TrackedOp): void {
    if (isWaiter(op)) this.stateOf(op.activity.lock);
    if (op.access === 'write' && op.f === 'acquire' && op.activity !== null) this.writerArrives(this.stateOf(op.activity.lock), op.invokeTime);
  }

  opCompleted(op: TrackedOp): void {
    if (op.access === 'write' && op.f === 'acquire' && op.activity !== null) this.writerLeaves(this.stateOf(op.activity.lock), op.completeTime ?? op.invokeTime);
    if (!isWaiter(op)) return;
    const state = this.stateOf(op.activity.lock);
    if (op.access === 'read') {
      if (state.writerlessSince !== null) this.judge(op, state.writerlessSince, op.completeTime ?? op.invokeTime, 'reader-waited-without-writer');
    } else if (state.freeSince !== null) {
      this.judge(op, state.freeSince, op.completeTime ?? op.invokeTime, 'waited-while-free');
    }
  }

  windowOpened(window: HoldWindow, lock: TrackedLock): void {
    const state = this.stateOf(lock);
    if (window.access === 'write') this.writerArrives(state, window.start);
    if (state.freeSince === null) return;
    if (this.exceedsBound(state.freeSince, window.start)) {
      for (const waiter of this.waitersOn(lock, waitsForFreeLock)) this.judge(waiter, state.freeSince, window.start, 'waited-while-free');
    }
    state.freeSince = null;
  }

  windowClosed(window: HoldWindow, lock: TrackedLock): void {
    const state = this.stateOf(lock);
    if (window.access === 'write') this.writerLeaves(state, window.end ?? window.start);
    if (lock.windows.length === 0) state.freeSince = window.end;
  }

  /** A write acquire or window begins: a stretch without writers, if one was in course, ends; long, its readers were stuck. */
  private writerArrives(state: LockState, time: Nanos): void {
    const since = state.writerlessSince;
    state.writers++;
    if (since === null) return;
    if (this.exceedsBound(since, time)) {
      for (const reader of this.waitersOn(state.lock, waitsForWriters)) this.judge(reader, since, time, 'reader-waited-without-writer');
    }
    state.writerlessSince = null;
  }

  private writerLeaves(state: LockState, time: Nanos): void {
    if (--state.writers === 0) state.writerlessSince = time;
  }

  snapshot(line: SnapshotLine): void {
    this.latestSnapshot = line;
    if (!line.final) return;
    const live = new Set(line.sessions);
    for (const [lock, children] of Object.entries(line.locks)) {
      // A lease node at the head of a semaphore blocks nobody while permits are left: the semaphore check's.
      if (this.tracker.lock(lock).permits !== undefined) continue;
      const head = lowestChild(children);
      if (head === null) continue;
      if (head.ephemeralOwner !== PERSISTENT_OWNER && !live.has(head.ephemeralOwner)) continue; // vanishing with its session
      const owner = this.tracker.ownerOf(head.ephemeralOwner);
      if (owner.client !== null && this.tracker.isAcquiring(owner.client, lock)) continue;
      this.unclaimedHeads.push(this.unclaimedHead(lock, head, owner, line.time));
    }
  }

  result(end: CheckEnd): LivenessResult {
    const anomalies = this.anomalies(end.endTime);
    return { ...judge(anomalies, anomalies.length, doubtsWithFinal(end)), boundNs: this.boundNs, boundSource: this.boundSource };
  }

  /** Waiters still pending at the end wait through the free (or writerless) stretch in course, if any. */
  private anomalies(endTime: Nanos): StuckAcquireAnomaly[] {
    const waiters = this.waitersByLock(waitsForFreeLock);
    const readers = this.waitersByLock(waitsForWriters);
    for (const state of this.statesInOrder) {
      const index = state.lock.index;
      if (state.freeSince !== null) for (const waiter of waiters[index] ?? []) this.judge(waiter, state.freeSince, endTime, 'waited-while-free');
      if (state.writerlessSince !== null) for (const reader of readers[index] ?? []) this.judge(reader, state.writerlessSince, endTime, 'reader-waited-without-writer');
    }
    return [...this.found.map(({ waiter, freeSpan, unfaultedNs, cause }) => this.waitedTooLong(waiter, freeSpan, unfaultedNs, cause)), ...this.unclaimedHeads];
  }

  private judge(waiter: TrackedOp, freeSince: Nanos, until: Nanos, cause: WaitCause): void {
    const start = Math.max(freeSince, waiter.invokeTime);
    if (!this.exceedsBound(start, until) || this.flagged.has(waiter.id)) return;
    const unfaultedNs = this.unfaulted(start, until);
    this.flagged.add(waiter.id);
    this.found.push({ waiter, freeSpan: { start, end: until }, unfaultedNs, cause });
  }

  /** Whether [start, end] holds more than the bound of time with no server fault in force; a short span is not searched. */
  private exceedsBound(start: Nanos, end: Nanos): boolean {
    return end - start > this.boundNs && this.unfaulted(start, end) > this.boundNs;
  }

  /** The part of [start, end] with no server fault in force: what the bound is measured against. */
  private unfaulted(start: Nanos, end: Nanos): Nanos {
    return end - start - this.serverFaults.within(start, end);
  }

  private waitedTooLong(op: TrackedOp, freeSpan: Interval, unfaultedNs: Nanos, cause: WaitCause): StuckAcquireAnomaly {
    const lock = op.lock ?? '';
    const head = this.headOf(lock);
    const ending = op.outcome === 'pending' ? 'was still pending at the end' : `ended ${op.outcome} at ${at(op.completeTime ?? op.invokeTime)}`;
    const blocking = head === null ? '' : `; the lowest node of ${lock} in the latest snapshot is ${head.node.path}, owned by ${describeOwner(head.owner)}`;
    return {
      type: 'stuck-acquire',
      lock,
      cause,
      acquire: summarize(op),
      freeSpan,
      unfaultedNs,
      boundNs: this.boundNs,
      blockingNode: head?.node ?? null,
      blockingOwner: head?.owner ?? null,
      span: { start: op.invokeTime, end: op.completeTime ?? freeSpan.end },
      ops: [op.id],
      events: [],
      explanation:
        `${op.client}'s blocking ${op.access === null ? '' : `${op.access} `}acquire #${op.id} of ${lock}, invoked at ${at(op.invokeTime)}, waited ${duration(freeSpan.end - freeSpan.start)} ` +
        `(${at(freeSpan.start)} to ${at(freeSpan.end)}) while ${cause === 'waited-while-free' ? `no client held ${lock}` : `no client held or waited for the write side of ${lock}`}` +
        `${unfaultedNs < freeSpan.end - freeSpan.start ? `, ${duration(unfaultedNs)} of it with no server fault in force` : ''}, ` +
        `longer than the ${duration(this.boundNs)} bound, and ${ending}${blocking}.`,
    };
  }

  private unclaimedHead(lock: string, head: LockChild, owner: NodeOwner, time: Nanos): StuckAcquireAnomaly {
    const tracked = this.tracker.lock(lock);
    this.stateOf(tracked);
    const waiting = this.waitersOn(tracked, isWaiter)[0] ?? null;
    const who = owner.client === null ? 'a session no client of the history had' : 'whose client neither holds nor waits for it';
    return {
      type: 'stuck-acquire',
      lock,
      cause: 'lowest-node-unclaimed',
      acquire: waiting === null ? null : summarize(waiting),
      freeSpan: null,
      unfaultedNs: null,
      boundNs: null,
      blockingNode: { ...head },
      blockingOwner: owner,
      span: { start: waiting?.invokeTime ?? time, end: time },
      ops: waiting === null ? [] : [waiting.id],
      events: [],
      explanation:
        `In the final snapshot (${at(time)}) the lowest node of ${lock}, ${head.path}, belongs to ${describeOwner(owner)}, ` +
        `${who}; every acquire of ${lock} queues behind it until that session ends.`,
    };
  }

  private headOf(lock: string): { node: LockChild; owner: NodeOwner } | null {
    const node = lowestChild(this.latestSnapshot?.locks[lock] ?? []);
    return node === null ? null : { node: { ...node }, owner: this.tracker.ownerOf(node.ephemeralOwner) };
  }

  /** The blocking acquires of `lock` of one kind still pending, in the order they were invoked. */
  private waitersOn(lock: TrackedLock, kind: (op: TrackedOp) => op is Waiter): TrackedOp[] {
    return [...this.tracker.pendingOps()].filter((op) => kind(op) && op.activity.lock === lock);
  }

  /** Every lock's waiters of one kind at once, by lock index: one pass over the pending operations. */
  private waitersByLock(kind: (op: TrackedOp) => op is Waiter): TrackedOp[][] {
    const byLock: TrackedOp[][] = [];
    for (const op of this.tracker.pendingOps()) {
      if (kind(op)) (byLock[op.activity.lock.index] ??= []).push(op);
    }
    return byLock;
  }

  private stateOf(lock: TrackedLock): LockState {
    let state = this.states[lock.index];
    if (state === undefined) {
      state = { lock, freeSince: 0, writers: 0, writerlessSince: 0 };
      this.states[lock.index] = state;
      this.statesInOrder.push(state);
    }
    return state;
  }
}

type Waiter = TrackedOp & { activity: ClientLockActivity };

/** A blocking acquire (a missing mode counts as blocking) of a named lock: the kind of operation that can be stuck. */
function isWaiter(op: TrackedOp): op is Waiter {
  return op.f === 'acquire' && op.mode !== 'try' && op.activity !== null;
}

/** Waits for nobody to hold the lock: an exclusive or write acquire. */
function waitsForFreeLock(op: TrackedOp): op is Waiter {
  return isWaiter(op) && op.access !== 'read';
}

/** Waits only for writers: a read acquire. */
function waitsForWriters(op: TrackedOp): op is Waiter {
  return isWaiter(op) && op.access === 'read';
}
