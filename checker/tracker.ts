/**
 * The bookkeeping every check shares, done once per line: operations paired by id, hold windows (who believes
 * it holds which lock), which session belongs to which client, and what each client is doing on each lock.
 * It keeps open things only (pending operations, open windows) plus a constant amount per client and lock,
 * so memory follows the concurrency of the run, not its length.
 */
import type { OpLine, ProxyLine, ResourceLine, WorkerLine } from '../src/history.ts';
import type { HoldWindow, Nanos, NodeOwner, OpSummary, ResourceWrite } from './types.ts';

export interface TrackedOp extends OpSummary {
  node: string | null;
  token: number | null;
  value: number | null;
  /** fenced-write: start of the writer's hold window when it invoked the write (stands in for a null token). */
  implicitToken: Nanos | null;
  /** The client's activity on the lock, looked up once at invoke. */
  activity: ClientLockActivity | null;
}

/** What the checks hear from the tracker; each implements the events it needs. */
export interface TrackerListener {
  opInvoked?(op: TrackedOp): void;
  opCompleted?(op: TrackedOp): void;
  /** Called after the window is registered as open. */
  windowOpened?(window: HoldWindow): void;
  /** Called after the window is removed from the open ones. */
  windowClosed?(window: HoldWindow): void;
}

/** What one client does on one lock: a few numbers and one reference, so clients × locks of them stay cheap. */
interface ClientLockActivity {
  pendingAcquires: number;
  /** Pending releases and fenced writes on this lock. */
  pendingOthers: number;
  lastCompletion: Nanos;
  /** The client's latest acquire of the lock, for leak attribution. */
  lastAcquire: TrackedOp | null;
}

/** An inconsistency of the history itself (a completion without an invoke, a repeated id). */
export type HistoryProblem = string;

const NO_WINDOWS: ReadonlyMap<string, HoldWindow> = new Map();

export class Tracker {
  lastTime: Nanos = 0;
  // One array per event, of bound handlers: calling them is much cheaper than probing each listener's methods.
  private readonly onOpInvoked: Array<(op: TrackedOp) => void> = [];
  private readonly onOpCompleted: Array<(op: TrackedOp) => void> = [];
  private readonly onWindowOpened: Array<(window: HoldWindow) => void> = [];
  private readonly onWindowClosed: Array<(window: HoldWindow) => void> = [];
  private readonly pending = new Map<number, TrackedOp>();
  private readonly openWindows = new Map<string, Map<string, HoldWindow>>();
  /** client → lock → activity (nested maps: no key string to build per line). */
  private readonly activity = new Map<string, Map<string, ClientLockActivity>>();
  private readonly ownerOfSession = new Map<string, { client: string; worker: string }>();
  private readonly lastAcquireOfClient = new Map<string, TrackedOp>();
  private readonly lastWriteOfClient = new Map<string, TrackedOp>();
  private readonly droppedDeletes = new Map<string, { line: ProxyLine; acquire: OpSummary | null }>();

  listen(listener: TrackerListener): void {
    if (listener.opInvoked !== undefined) this.onOpInvoked.push(listener.opInvoked.bind(listener));
    if (listener.opCompleted !== undefined) this.onOpCompleted.push(listener.opCompleted.bind(listener));
    if (listener.windowOpened !== undefined) this.onWindowOpened.push(listener.windowOpened.bind(listener));
    if (listener.windowClosed !== undefined) this.onWindowClosed.push(listener.windowClosed.bind(listener));
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
    if (line.client !== undefined && line.session !== undefined) this.noteSession(line.client, line.worker, line.session);
  }

  /** The proxy acted on a delete: remember which acquire made the node, while the client is still doing it. */
  proxy(line: ProxyLine): void {
    if (line.op !== 'delete' || line.path === undefined) return;
    const owner = line.session === undefined ? undefined : this.ownerOfSession.get(line.session);
    const acquire = owner === undefined ? undefined : this.lastAcquireOfClient.get(owner.client);
    this.droppedDeletes.set(line.path, { line, acquire: acquire === undefined ? null : summarize(acquire) });
  }

  droppedDeleteOf(path: string): { line: ProxyLine; acquire: OpSummary | null } | null {
    return this.droppedDeletes.get(path) ?? null;
  }

  /** Links a write seen by the resource to the fenced-write that sent it: the client's latest, same value. */
  resolveWrite(line: ResourceLine): { write: ResourceWrite; op: TrackedOp | null } {
    const candidate = this.lastWriteOfClient.get(line.client);
    const op = candidate !== undefined && candidate.value === line.value ? candidate : null;
    const write: ResourceWrite = {
      time: line.time,
      resource: line.resource,
      client: line.client,
      value: line.value,
      accepted: line.accepted,
      token: line.token,
      implicitToken: op?.implicitToken ?? null,
      op: op?.id ?? null,
    };
    return { write, op };
  }

  openWindowsOn(lock: string): ReadonlyMap<string, HoldWindow> {
    return this.openWindows.get(lock) ?? NO_WINDOWS;
  }

  isPending(opId: number): boolean {
    return this.pending.has(opId);
  }

  pendingOps(): IterableIterator<TrackedOp> {
    return this.pending.values();
  }

  ownerOf(session: string): NodeOwner {
    const owner = this.ownerOfSession.get(session);
    return { session, client: owner?.client ?? null, worker: owner?.worker ?? null };
  }

  /** The client's latest acquire of the lock (with its node and outcome once answered). */
  lastAcquireOf(client: string, lock: string): TrackedOp | null {
    return this.activity.get(client)?.get(lock)?.lastAcquire ?? null;
  }

  /** The client holds the lock (open window) or waits for it (acquire pending). */
  isAcquiring(client: string, lock: string): boolean {
    return this.openWindowsOn(lock).has(client) || (this.activity.get(client)?.get(lock)?.pendingAcquires ?? 0) > 0;
  }

  /**
   * Whether the client accounts for node `path` of `lock` at `time`: it holds the lock with that node (or with a
   * node it never named), or it has an operation on the lock in progress, or it finished one within `graceNs`
   * (a snapshot is not atomic: a node deleted just before the answer may still be listed).
   */
  claimsNode(client: string, lock: string, path: string, time: Nanos, graceNs: Nanos): boolean {
    const window = this.openWindowsOn(lock).get(client);
    if (window !== undefined && (window.node === null || window.node === path)) return true;
    const activity = this.activity.get(client)?.get(lock);
    if (activity === undefined) return false;
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
    };
    this.pending.set(op.id, op);
    if (op.session !== null) this.noteSession(op.client, op.worker, op.session);
    const lock = op.lock;
    if (lock !== null) {
      const activity = this.activityOf(op.client, lock);
      op.activity = activity;
      if (op.f === 'acquire') {
        activity.pendingAcquires++;
        activity.lastAcquire = op;
        this.lastAcquireOfClient.set(op.client, op);
      } else {
        activity.pendingOthers++;
      }
      if (op.f === 'fenced-write') op.implicitToken = this.openWindowsOn(lock).get(op.client)?.start ?? null;
    }
    if (op.f === 'fenced-write') this.lastWriteOfClient.set(op.client, op);
    for (const handler of this.onOpInvoked) handler(op);
    if (op.f === 'release' && lock !== null) this.closeWindow(lock, op);
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
      this.noteSession(op.client, op.worker, line.session);
    }
    if (line.node !== undefined) op.node = line.node;
    if (line.token !== undefined) op.token = line.token;
    if (op.f === 'read' && line.value !== undefined) op.value = line.value;
    const lock = op.lock;
    const activity = op.activity;
    op.activity = null; // a finished operation must not keep the activity (and its latest acquire) alive
    if (activity !== null) {
      if (op.f === 'acquire') activity.pendingAcquires--;
      else activity.pendingOthers--;
      activity.lastCompletion = line.time;
    }
    for (const handler of this.onOpCompleted) handler(op);
    if (op.f === 'acquire' && op.outcome === 'ok' && lock !== null) this.openWindow(lock, op);
    return null;
  }

  /** An acquire answered ok opens the client's window, unless it already holds the lock (re-entry). */
  private openWindow(lock: string, acquire: TrackedOp): void {
    let windows = this.openWindows.get(lock);
    if (windows === undefined) {
      windows = new Map();
      this.openWindows.set(lock, windows);
    }
    if (windows.has(acquire.client)) return;
    const window: HoldWindow = {
      lock,
      client: acquire.client,
      worker: acquire.worker,
      session: acquire.session,
      node: acquire.node,
      token: acquire.token,
      start: acquire.completeTime ?? acquire.invokeTime,
      end: null,
      acquireOp: acquire.id,
      releaseOp: null,
    };
    windows.set(acquire.client, window);
    for (const handler of this.onWindowOpened) handler(window);
  }

  /** Invoking release ends the belief of holding, whatever the release answers. */
  private closeWindow(lock: string, release: TrackedOp): void {
    const windows = this.openWindows.get(lock);
    const window = windows?.get(release.client);
    if (windows === undefined || window === undefined) return;
    windows.delete(release.client);
    window.end = release.invokeTime;
    window.releaseOp = release.id;
    for (const handler of this.onWindowClosed) handler(window);
  }

  private noteSession(client: string, worker: string, session: string): void {
    if (this.ownerOfSession.get(session)?.client !== client) this.ownerOfSession.set(session, { client, worker });
  }

  private activityOf(client: string, lock: string): ClientLockActivity {
    let locks = this.activity.get(client);
    if (locks === undefined) {
      locks = new Map();
      this.activity.set(client, locks);
    }
    let activity = locks.get(lock);
    if (activity === undefined) {
      activity = { pendingAcquires: 0, pendingOthers: 0, lastCompletion: -Infinity, lastAcquire: null };
      locks.set(lock, activity);
    }
    return activity;
  }
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
    invokeTime: op.invokeTime,
    completeTime: op.completeTime,
    outcome: op.outcome,
    session: op.session,
    error: op.error,
  };
}
