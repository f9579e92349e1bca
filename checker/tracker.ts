/**
 * The bookkeeping every check shares, done once per line: operations paired by id, hold windows (who believes
 * it holds which lock), which session belongs to which client, and what each client is doing on each lock.
 * It keeps open things only (pending operations, open windows) plus a constant amount per client and lock,
 * so memory follows the concurrency of the run, not its length.
 *
 * Cost: a history is millions of lines, so each line does as few hash lookups as it can. A client's record
 * (found by name once per invoke) leads to what it does on its lock (`ClientLockActivity`), which leads to the
 * lock's record; a completion reaches all of them through its pending operation, without any lookup.
 *
 * Read/write locks (ops with `access`): a client holds at most one window per side of a lock, so a client that
 * downgrades (acquire write, acquire read, release write) has two open windows on it for a moment; the release
 * of one side closes that side's window.
 */
import type { OpLine, ProxyLine, ResourceLine, WorkerLine } from '../ground/history.ts';
import type { HoldWindow, Nanos, NodeOwner, OpSummary } from './types.ts';

export interface TrackedOp extends OpSummary {
  node: string | null;
  token: number | null;
  value: number | null;
  /** fenced-write: start of the writer's hold window when it invoked the write (stands in for a null token). */
  implicitToken: Nanos | null;
  /** What the client does on the operation's lock (null when the operation names no lock). */
  activity: ClientLockActivity | null;
  /** The client's record, so that the answer finds it without a lookup. */
  trackedClient: TrackedClient;
}

/** A lock as the tracker knows it. */
export interface TrackedLock {
  name: string;
  /** 0, 1, 2… in order of first appearance: checks keep their per-lock state in arrays indexed by it. */
  index: number;
  /** Open hold windows, in the order they opened; at most one per client and side. */
  windows: HoldWindow[];
  /** A counting semaphore's permits, from the acquires that named them (workload semaphore); absent: a lock. */
  permits?: number;
}

/** What the checks hear from the tracker; each listener implements the events it needs. */
export interface TrackerListener {
  opInvoked(op: TrackedOp): void;
  opCompleted(op: TrackedOp): void;
  /** Called after the window is registered as open on `lock`. */
  windowOpened(window: HoldWindow, lock: TrackedLock): void;
  /** Called after the window is removed from the open ones of `lock`. */
  windowClosed(window: HoldWindow, lock: TrackedLock): void;
}

/** What one client does on one lock: a few numbers and references, so clients × locks of them stay cheap. */
export interface ClientLockActivity {
  lock: TrackedLock;
  /** The client's open window on the lock: the exclusive lock or the write side. */
  window: HoldWindow | null;
  /** The client's open window on the read side of the lock. */
  readWindow: HoldWindow | null;
  pendingAcquires: number;
  /** Pending releases and fenced writes on this lock. */
  pendingOthers: number;
  lastCompletion: Nanos;
  /** The client's latest acquire of the lock, pending or answered (with its node then): for leak attribution. */
  latestAcquire: TrackedOp | null;
}

export interface TrackedClient {
  name: string;
  /** By the lock's index (a map by name: +12 % CPU at 10^6 ops, 1024 locks, in cache misses: instructions equal). */
  activities: Array<ClientLockActivity | undefined>;
  /** Latest acquire, any lock: the proxy names a session, not a lock. */
  lastAcquire: TrackedOp | null;
  lastWrite: TrackedOp | null;
}

interface SessionOwner {
  client: TrackedClient;
  worker: string;
}

/** An inconsistency of the history itself (a completion without an invoke, a repeated id). */
export type HistoryProblem = string;

export class Tracker {
  lastTime: Nanos = 0;
  private readonly pending = new Map<number, TrackedOp>();
  private readonly clients = new Map<string, TrackedClient>();
  private readonly locks = new Map<string, TrackedLock>();
  private readonly ownerOfSession = new Map<string, SessionOwner>();
  // The acquire itself, not a copy: it was still in progress at the drop, and its answer comes later.
  private readonly droppedDeletes = new Map<string, { line: ProxyLine; acquire: OpSummary | null }>();

  /** The listeners of each event, in the order they were added. */
  private readonly invoked: Array<Pick<TrackerListener, 'opInvoked'>> = [];
  private readonly completed: Array<Pick<TrackerListener, 'opCompleted'>> = [];
  private readonly opened: Array<Pick<TrackerListener, 'windowOpened'>> = [];
  private readonly closed: Array<Pick<TrackerListener, 'windowClosed'>> = [];

  /** From now on `listener` hears the events it implements. */
  listen(listener: Partial<TrackerListener>): void {
    if (listener.opInvoked !== undefined) this.invoked.push(listener as Pick<TrackerListener, 'opInvoked'>);
    if (listener.opCompleted !== undefined) this.completed.push(listener as Pick<TrackerListener, 'opCompleted'>);
    if (listener.windowOpened !== undefined) this.opened.push(listener as Pick<TrackerListener, 'windowOpened'>);
    if (listener.windowClosed !== undefined) this.closed.push(listener as Pick<TrackerListener, 'windowClosed'>);
  }

  /** Every line's time goes through here: the end of the history is the latest time seen. */
  observeTime(time: Nanos): void {
    if (time > this.lastTime) this.lastTime = time;
  }

  /** Returns a problem description when the line makes no sense, else null. */
  op(line: OpLine): HistoryProblem | null {
    return line.type === 'invoke' ? this.invoke(line) : this.complete(line);
  }

  worker(line: WorkerLine): void {
    if (line.client !== undefined && line.session !== undefined) this.noteSession(this.clientNamed(line.client), line.worker, line.session);
  }

  /** The proxy acted on a delete: remember which acquire made the node, while the client is still doing it. */
  proxy(line: ProxyLine): void {
    if (line.op !== 'delete' || line.path === undefined) return;
    const acquire = line.session === undefined ? null : (this.ownerOfSession.get(line.session)?.client.lastAcquire ?? null);
    this.droppedDeletes.set(line.path, { line, acquire });
  }

  droppedDeleteOf(path: string): { line: ProxyLine; acquire: OpSummary | null } | null {
    return this.droppedDeletes.get(path) ?? null;
  }

  /** The fenced-write that sent a write the resource saw: the client's latest, if it has the same value. */
  fencedWriteOf(line: ResourceLine): TrackedOp | null {
    const candidate = this.clients.get(line.client)?.lastWrite ?? null;
    return candidate !== null && candidate.value === line.value ? candidate : null;
  }

  /** The lock named so, known from now on (a snapshot may name a lock before any operation does). */
  lock(name: string): TrackedLock {
    let lock = this.locks.get(name);
    if (lock === undefined) {
      lock = { name, index: this.locks.size, windows: [] };
      this.locks.set(name, lock);
    }
    return lock;
  }

  isPending(opId: number): boolean {
    return this.pending.has(opId);
  }

  pendingOps(): IterableIterator<TrackedOp> {
    return this.pending.values();
  }

  ownerOf(session: string): NodeOwner {
    const owner = this.ownerOfSession.get(session);
    return { session, client: owner?.client.name ?? null, worker: owner?.worker ?? null };
  }

  /** The client's latest acquire of the lock (with its node and outcome once answered). */
  lastAcquireOf(client: string, lock: string): TrackedOp | null {
    return this.activityIfAny(client, lock)?.latestAcquire ?? null;
  }

  /** The client holds the lock (open window, either side) or waits for it (acquire pending). */
  isAcquiring(client: string, lock: string): boolean {
    const activity = this.activityIfAny(client, lock);
    return activity !== null && (activity.window !== null || activity.readWindow !== null || activity.pendingAcquires > 0);
  }

  /**
   * Whether the client accounts for node `path` of `lock` at `time`: it holds the lock with that node (or with a
   * node it never named), or it has an operation on the lock in progress, or it finished one within `graceNs`
   * (a snapshot is not atomic: a node deleted just before the answer may still be listed).
   */
  claimsNode(client: string, lock: string, path: string, time: Nanos, graceNs: Nanos): boolean {
    const activity = this.activityIfAny(client, lock);
    if (activity === null) return false;
    const window = activity.window;
    if (window !== null && (window.node === null || window.node === path)) return true;
    const readWindow = activity.readWindow;
    if (readWindow !== null && (readWindow.node === null || readWindow.node === path)) return true;
    return activity.pendingAcquires + activity.pendingOthers > 0 || time - activity.lastCompletion <= graceNs;
  }

  private invoke(line: OpLine): HistoryProblem | null {
    if (this.pending.has(line.id)) return `operation ${line.id} invoked twice`;
    const op: TrackedOp = {
      id: line.id,
      f: line.f,
      client: line.client,
      worker: line.worker,
      lock: line.lock ?? null,
      mode: line.mode ?? null,
      access: line.access ?? null,
      invokeTime: line.time,
      completeTime: null,
      outcome: 'pending',
      session: line.session ?? null,
      error: null,
      node: null,
      token: line.token ?? null,
      value: line.value ?? null,
      implicitToken: null,
      activity: null,
      trackedClient: this.clientNamed(line.client),
    };
    this.pending.set(op.id, op);
    const client = op.trackedClient;
    if (op.session !== null) this.noteSession(client, op.worker, op.session);
    const activity = op.lock === null ? null : this.activityOf(client, op.lock);
    op.activity = activity;
    if (activity !== null) {
      if (op.f === 'acquire') {
        if (line.permits !== undefined) activity.lock.permits = line.permits;
        activity.pendingAcquires++;
        activity.latestAcquire = op;
        client.lastAcquire = op;
      } else {
        activity.pendingOthers++;
      }
      if (op.f === 'fenced-write') op.implicitToken = activity.window?.start ?? null;
    }
    if (op.f === 'fenced-write') client.lastWrite = op;
    for (const listener of this.invoked) listener.opInvoked(op);
    if (op.f === 'release' && activity !== null) this.closeWindow(activity, op);
    return null;
  }

  private complete(line: OpLine): HistoryProblem | null {
    const op = this.pending.get(line.id);
    if (op === undefined) return `operation ${line.id} completed (${line.type}) without a pending invoke`;
    this.pending.delete(line.id);
    op.completeTime = line.time;
    op.outcome = line.type === 'invoke' ? 'pending' : line.type;
    op.error = line.error ?? null;
    if (line.session !== undefined) {
      op.session = line.session;
      this.noteSession(op.trackedClient, op.worker, line.session);
    }
    if (line.node !== undefined) op.node = line.node;
    if (line.token !== undefined) op.token = line.token;
    if (op.f === 'read' && line.value !== undefined) op.value = line.value;
    const activity = op.activity;
    if (activity !== null) {
      if (op.f === 'acquire') {
        activity.pendingAcquires--;
      } else {
        activity.pendingOthers--;
      }
      activity.lastCompletion = line.time;
    }
    for (const listener of this.completed) listener.opCompleted(op);
    if (op.f === 'acquire' && op.outcome === 'ok' && activity !== null) this.openWindow(activity, op);
    return null;
  }

  /** An acquire answered ok opens the client's window, unless it already holds the lock, that side (re-entry). */
  private openWindow(activity: ClientLockActivity, acquire: TrackedOp): void {
    const read = acquire.access === 'read';
    if ((read ? activity.readWindow : activity.window) !== null) return;
    const lock = activity.lock;
    const window: HoldWindow = {
      lock: lock.name,
      client: acquire.client,
      worker: acquire.worker,
      session: acquire.session,
      node: acquire.node,
      token: acquire.token,
      access: acquire.access,
      start: acquire.completeTime ?? acquire.invokeTime,
      end: null,
      acquireOp: acquire.id,
      releaseOp: null,
    };
    if (read) activity.readWindow = window;
    else activity.window = window;
    lock.windows.push(window);
    for (const listener of this.opened) listener.windowOpened(window, lock);
  }

  /** Invoking release ends the belief of holding, whatever the release answers. */
  private closeWindow(activity: ClientLockActivity, release: TrackedOp): void {
    const read = release.access === 'read';
    const window = read ? activity.readWindow : activity.window;
    if (window === null) return;
    const lock = activity.lock;
    if (read) activity.readWindow = null;
    else activity.window = null;
    removeFrom(lock.windows, window);
    window.end = release.invokeTime;
    window.releaseOp = release.id;
    for (const listener of this.closed) listener.windowClosed(window, lock);
  }

  /** The first client to claim a session owns it until another client claims it (its worker is the first one's). */
  private noteSession(client: TrackedClient, worker: string, session: string): void {
    if (this.ownerOfSession.get(session)?.client !== client) this.ownerOfSession.set(session, { client, worker });
  }

  private clientNamed(name: string): TrackedClient {
    let client = this.clients.get(name);
    if (client === undefined) {
      client = { name, activities: [], lastAcquire: null, lastWrite: null };
      this.clients.set(name, client);
    }
    return client;
  }

  private activityOf(client: TrackedClient, lockName: string): ClientLockActivity {
    const lock = this.lock(lockName);
    let activity = client.activities[lock.index];
    if (activity === undefined) {
      activity = { lock, window: null, readWindow: null, pendingAcquires: 0, pendingOthers: 0, lastCompletion: -Infinity, latestAcquire: null };
      client.activities[lock.index] = activity;
    }
    return activity;
  }

  private activityIfAny(client: string, lock: string): ClientLockActivity | null {
    const index = this.locks.get(lock)?.index;
    return index === undefined ? null : (this.clients.get(client)?.activities[index] ?? null);
  }
}

/** Removes one element, keeping the order of the rest (splice would allocate an array for what it removes). */
function removeFrom<T>(array: T[], element: T): void {
  const index = array.indexOf(element);
  for (let i = index; i < array.length - 1; i++) array[i] = array[i + 1]!;
  array.pop();
}

/** A copy without the tracker's working fields, for results.json. */
export function summarize(op: OpSummary): OpSummary {
  return {
    id: op.id,
    f: op.f,
    client: op.client,
    worker: op.worker,
    lock: op.lock,
    mode: op.mode,
    access: op.access,
    invokeTime: op.invokeTime,
    completeTime: op.completeTime,
    outcome: op.outcome,
    session: op.session,
    error: op.error,
  };
}
