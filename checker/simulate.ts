/**
 * A model lock service that turns a schedule (which client acts next, on which lock, after how long) into a
 * history that a correct run would record, optionally with one injected violation. The property tests draw
 * schedules with fast-check; the benchmark draws them lazily from a seeded generator. Lines come out one at a
 * time, so a history of any length costs constant memory to produce.
 *
 * The model is a fair FIFO lock: an acquire on a free lock succeeds at once, otherwise it queues; a release
 * (invoke and answer in one step) hands the lock to the next in the queue, so no acquire ever waits while the
 * lock is free. Holders of a fenced-counter lock read the counter, then write value + 1 with their token.
 *
 * With `readWrite`, the same queue is a fair read/write lock (workload rwlock): readers share it, a writer needs
 * it to itself, and nobody overtakes the queue; a release admits the queue's head, and with it every reader up to
 * the next writer. A writer may downgrade: acquire the read side (at once: it holds the write side), release the
 * write side, go on as a reader.
 */
import { HISTORY_VERSION, type HistoryLine, type LockAccess, type LockChild, type OpFunction, type OpLine, type Outcome } from '../ground/history.ts';

export interface Step {
  client: number;
  lock: number;
  /** Time that passes before the client acts. */
  dtNs: number;
  /** A try-lock instead of a blocking acquire (when the client is idle). */
  tryLock: boolean;
  /** readWrite: a read acquire instead of a write acquire (when the client is idle). */
  read?: boolean;
  /** readWrite: a write acquire that ends in a downgrade. */
  downgrade?: boolean;
}

export type Violation = 'double-holder' | 'stale-write' | 'lost-update' | 'leaked-node' | 'stuck-acquire';

export interface SimulationOptions {
  clients: number;
  locks: number;
  /** Holders read and increment the lock's counter through the fenced resource. */
  fencedCounter: boolean;
  /** The recipe gives tokens (czxid); without, tokens are null. */
  tokens: boolean;
  /** The resource rejects a token lower than the highest it accepted. */
  fencing: boolean;
  sessionTimeoutMs: number;
  holdMs: number;
  /** A mid-run snapshot every this many steps (0: none). */
  snapshotEvery: number;
  /** A nemesis fault starts or stops every this many steps (0: none). */
  faultEvery: number;
  /** A read/write lock (workload rwlock) instead of a mutex; takes precedence over fencedCounter. */
  readWrite?: boolean;
  /** One violation, injected at the first step at or after `atStep` where it can happen (else at the end). */
  violation?: { type: Violation; atStep: number };
}

/** The side of a read/write lock a client wants or holds; undefined for the mutex. */
type Access = LockAccess | undefined;

type ClientState =
  | { kind: 'idle' }
  | { kind: 'waiting'; lock: number; op: number; access: Access; downgrade: boolean }
  | { kind: 'holding'; lock: number; phase: 'read' | 'write' | 'downgrade' | 'release'; read: number; access: Access };

interface Client {
  name: string;
  worker: string;
  session: string;
  state: ClientState;
}

interface Lock {
  name: string;
  /** The mutex's holder, or the write side's. */
  holder: number | null;
  /** Clients holding the read side. */
  readers: Set<number>;
  queue: number[];
  /** Nodes of the holder and the waiters, by client (the write side's, for a read/write lock)… */
  nodes: Map<number, LockChild>;
  /** …and of the read side's holders and waiters. */
  readNodes: Map<number, LockChild>;
  orphans: LockChild[];
  counter: number;
  highestToken: number | null;
}

const LINE_GAP_NS = 1_000;
const MS_NS = 1e6;

export function* simulate(steps: Iterable<Step>, options: SimulationOptions): Generator<HistoryLine> {
  yield* new Simulation(options).run(steps);
}

class Simulation {
  private time = 0;
  private nextOp = 0;
  private nextZxid = 1;
  private nextSequence = 0;
  private nextFault = 0;
  private openFault: number | null = null;
  private injected = false;
  private readonly clients: Client[];
  private readonly locks: Lock[];
  private readonly out: HistoryLine[] = [];

  constructor(private readonly options: SimulationOptions) {
    this.clients = Array.from({ length: options.clients }, (_, i) => ({
      name: `c${i}`,
      worker: `w${Math.floor(i / 4)}`,
      session: `0x${(0x1000 + i).toString(16)}`,
      state: { kind: 'idle' },
    }));
    this.locks = Array.from({ length: options.locks }, (_, i) => ({
      name: `L${i}`, holder: null, readers: new Set(), queue: [], nodes: new Map(), readNodes: new Map(), orphans: [], counter: 0, highestToken: null,
    }));
  }

  *run(steps: Iterable<Step>): Generator<HistoryLine> {
    const { options } = this;
    yield {
      kind: 'header', version: HISTORY_VERSION, runId: 'simulated', startedAt: '1970-01-01T00:00:00.000Z',
      config: {
        recipe: 'model', workload: options.readWrite ? 'rwlock' : options.fencedCounter ? 'fenced-counter' : 'mutex', nemesis: 'pause', seed: 0,
        fencing: options.fencing ? 'on' : 'off', sessionTimeoutMs: options.sessionTimeoutMs, holdMs: options.holdMs, timeLimitS: 60,
      },
    };
    for (const client of this.clients) {
      this.emit({ kind: 'worker', time: this.tick(), worker: client.worker, client: client.name, event: 'connected', session: client.session });
    }
    let index = 0;
    for (const step of steps) {
      this.time += Math.max(0, Math.round(step.dtNs));
      const violation = options.violation;
      if (violation !== undefined && !this.injected && index >= violation.atStep) this.tryInject(violation.type, false);
      this.act(step.client % this.clients.length, step.lock % this.locks.length, step);
      if (options.snapshotEvery > 0 && index % options.snapshotEvery === options.snapshotEvery - 1) this.snapshot(false);
      if (options.faultEvery > 0 && index % options.faultEvery === 0) this.toggleFault();
      index++;
      yield* this.flush();
    }
    this.drain();
    if (options.violation !== undefined && !this.injected) {
      this.tryInject(options.violation.type, true);
      this.drain();
    }
    if (this.openFault !== null) this.toggleFault();
    this.snapshot(true);
    this.emit({ kind: 'end', time: this.tick(), reason: 'completed' });
    yield* this.flush();
  }

  private *flush(): Generator<HistoryLine> {
    for (const line of this.out) yield line;
    this.out.length = 0;
  }

  /** Every line gets its own instant, in the order it is written. */
  private tick(): number {
    this.time += LINE_GAP_NS;
    return this.time;
  }

  private emit(line: HistoryLine): void {
    this.out.push(line);
  }

  private act(clientIndex: number, lockIndex: number, step: Step): void {
    const client = this.clients[clientIndex]!;
    const state = client.state;
    const access: Access = this.options.readWrite ? (step.read ? 'read' : 'write') : undefined;
    if (state.kind === 'idle') this.acquire(clientIndex, lockIndex, step.tryLock ? 'try' : 'blocking', access, access === 'write' && step.downgrade === true);
    else if (state.kind === 'holding') this.advanceHolder(clientIndex, state);
  }

  private acquire(clientIndex: number, lockIndex: number, mode: 'try' | 'blocking', access: Access = undefined, downgrade = false): void {
    const client = this.clients[clientIndex]!;
    const lock = this.locks[lockIndex]!;
    const op = this.invoke(clientIndex, 'acquire', { lock: lock.name, mode, ...accessField(access) });
    // Nobody overtakes the queue; readers share with readers.
    const free = lock.holder === null && lock.queue.length === 0 && (access === 'read' || lock.readers.size === 0);
    if (mode === 'try' && !free) {
      this.complete(op, clientIndex, 'acquire', 'fail', { lock: lock.name, error: 'lock is held', ...accessField(access) });
      return;
    }
    this.nodesOf(lock, access).set(clientIndex, this.newNode(lock, client));
    client.state = { kind: 'waiting', lock: lockIndex, op, access, downgrade };
    if (free) {
      this.grant(clientIndex, lockIndex);
      return;
    }
    lock.queue.push(clientIndex);
  }

  /** The client's pending acquire (its waiting state) gets the lock. */
  private grant(clientIndex: number, lockIndex: number): void {
    const lock = this.locks[lockIndex]!;
    const { op, access, downgrade } = this.clients[clientIndex]!.state as Extract<ClientState, { kind: 'waiting' }>;
    const node = this.nodesOf(lock, access).get(clientIndex)!;
    if (access === 'read') lock.readers.add(clientIndex);
    else lock.holder = clientIndex;
    this.complete(op, clientIndex, 'acquire', 'ok', { lock: lock.name, node: node.path, token: this.tokenOf(node), ...accessField(access) });
    const phase = downgrade ? 'downgrade' : this.options.fencedCounter && !this.options.readWrite ? 'read' : 'release';
    this.clients[clientIndex]!.state = { kind: 'holding', lock: lockIndex, phase, read: 0, access };
  }

  /** After a release: the queue's head gets the lock if it can, and with a reader every reader up to the next writer. */
  private admit(lockIndex: number): void {
    const lock = this.locks[lockIndex]!;
    for (;;) {
      const next = lock.queue[0];
      if (next === undefined || lock.holder !== null) return;
      const reader = (this.clients[next]!.state as Extract<ClientState, { kind: 'waiting' }>).access === 'read';
      if (!reader && lock.readers.size > 0) return;
      lock.queue.shift();
      this.grant(next, lockIndex);
      if (!reader) return;
    }
  }

  /** A writer downgrades: takes the read side at once (it holds the write side), then releases the write side. */
  private downgrade(clientIndex: number, state: Extract<ClientState, { kind: 'holding' }>): void {
    const lock = this.locks[state.lock]!;
    const client = this.clients[clientIndex]!;
    const op = this.invoke(clientIndex, 'acquire', { lock: lock.name, mode: 'blocking', access: 'read' });
    lock.readNodes.set(clientIndex, this.newNode(lock, client));
    client.state = { kind: 'waiting', lock: state.lock, op, access: 'read', downgrade: false };
    this.grant(clientIndex, state.lock);
    this.releaseSide(clientIndex, state.lock, 'write');
  }

  private advanceHolder(clientIndex: number, state: Extract<ClientState, { kind: 'holding' }>): void {
    if (state.phase === 'downgrade') {
      this.downgrade(clientIndex, state);
    } else if (state.phase === 'read') {
      state.read = this.read(clientIndex, state.lock);
      state.phase = 'write';
    } else if (state.phase === 'write') {
      this.write(clientIndex, state.lock, state.read + 1, this.tokenOf(this.locks[state.lock]!.nodes.get(clientIndex)!));
      state.phase = 'release';
    } else {
      this.release(clientIndex, state.lock);
    }
  }

  private read(clientIndex: number, lockIndex: number): number {
    const lock = this.locks[lockIndex]!;
    const op = this.invoke(clientIndex, 'read', {});
    this.complete(op, clientIndex, 'read', 'ok', { value: lock.counter });
    return lock.counter;
  }

  private write(clientIndex: number, lockIndex: number, value: number, token: number | null): void {
    const lock = this.locks[lockIndex]!;
    const client = this.clients[clientIndex]!;
    const op = this.invoke(clientIndex, 'fenced-write', { lock: lock.name, value });
    const accepted = !this.options.fencing || token === null || lock.highestToken === null || token >= lock.highestToken;
    this.emit({ kind: 'resource', time: this.tick(), resource: `counter-${lock.name}`, client: client.name, token, value, accepted });
    if (accepted) {
      lock.counter = value;
      if (token !== null && (lock.highestToken === null || token > lock.highestToken)) lock.highestToken = token;
    }
    this.complete(op, clientIndex, 'fenced-write', accepted ? 'ok' : 'fail', accepted ? {} : { error: 'stale token' });
  }

  /** Release invoked and answered at once; the lock goes to the next in the queue. */
  private release(clientIndex: number, lockIndex: number): void {
    const { access } = this.clients[clientIndex]!.state as Extract<ClientState, { kind: 'holding' }>;
    this.clients[clientIndex]!.state = { kind: 'idle' };
    this.releaseSide(clientIndex, lockIndex, access);
  }

  private releaseSide(clientIndex: number, lockIndex: number, access: Access): void {
    const lock = this.locks[lockIndex]!;
    const op = this.invoke(clientIndex, 'release', { lock: lock.name, ...accessField(access) });
    this.nodesOf(lock, access).delete(clientIndex);
    this.complete(op, clientIndex, 'release', 'ok', { lock: lock.name, ...accessField(access) });
    if (access === 'read') lock.readers.delete(clientIndex);
    else if (lock.holder === clientIndex) lock.holder = null;
    this.admit(lockIndex);
  }

  private nodesOf(lock: Lock, access: Access): Map<number, LockChild> {
    return access === 'read' ? lock.readNodes : lock.nodes;
  }

  /** Runs every client to idle: holders finish and release, waiters get the lock in turn. */
  private drain(): void {
    for (let moved = true; moved; ) {
      moved = false;
      this.clients.forEach((client, index) => {
        if (client.state.kind !== 'holding') return;
        this.advanceHolder(index, client.state);
        moved = true;
      });
    }
  }

  private invoke(clientIndex: number, f: OpFunction, fields: Partial<OpLine>): number {
    const client = this.clients[clientIndex]!;
    const id = this.nextOp++;
    this.emit({ kind: 'op', id, type: 'invoke', time: this.tick(), f, client: client.name, worker: client.worker, ...fields });
    return id;
  }

  private complete(id: number, clientIndex: number, f: OpFunction, outcome: Outcome, fields: Partial<OpLine>): void {
    const client = this.clients[clientIndex]!;
    this.emit({ kind: 'op', id, type: outcome, time: this.tick(), f, client: client.name, worker: client.worker, session: client.session, ...fields });
  }

  private newNode(lock: Lock, client: Client): LockChild {
    const czxid = this.nextZxid++;
    // join() gives one flat string, as JSON.parse gives the reader; a template literal gives a rope of several
    // objects, which would make each node the checker keeps cost it several times what a real one does.
    const name = [czxid.toString(16).padStart(32, '0'), '__lock__', String(this.nextSequence++).padStart(10, '0')].join('');
    return { name, path: ['/locks/', lock.name, '/', name].join(''), czxid, ephemeralOwner: client.session };
  }

  private tokenOf(node: LockChild): number | null {
    return this.options.tokens ? node.czxid : null;
  }

  private snapshot(final: boolean): void {
    const locks: Record<string, LockChild[]> = {};
    const resources: Record<string, { value: number; highestToken: number | null }> = {};
    for (const lock of this.locks) {
      locks[lock.name] = [...lock.nodes.values(), ...lock.readNodes.values(), ...lock.orphans].map((node) => ({ ...node }));
      if (this.options.fencedCounter) resources[`counter-${lock.name}`] = { value: lock.counter, highestToken: lock.highestToken };
    }
    this.emit({ kind: 'snapshot', time: this.tick(), final, locks, sessions: this.clients.map((client) => client.session), resources });
  }

  private toggleFault(): void {
    if (this.openFault === null) {
      this.openFault = this.nextFault++;
      this.emit({ kind: 'nemesis', id: this.openFault, type: 'start', time: this.tick(), f: 'pause', description: 'SIGSTOP zk1', value: { nodes: [1] } });
      this.emit({ kind: 'proxy', time: this.tick(), event: 'latency', clientHost: 'w0', detail: '5 ms' });
    } else {
      this.emit({ kind: 'nemesis', id: this.openFault, type: 'stop', time: this.tick(), f: 'pause', description: 'SIGCONT zk1', value: { nodes: [1] } });
      this.openFault = null;
    }
  }

  /** Injects the violation if the state allows (an idle client, and a held or a free lock as needed). */
  private tryInject(type: Violation, atEnd: boolean): void {
    const idle = this.clients.findIndex((client) => client.state.kind === 'idle');
    if (type === 'leaked-node' || type === 'stuck-acquire') {
      // Free enough for a reader (readers may hold) of a read/write lock; free for the mutex.
      const freeLock = this.locks.findIndex((lock) => lock.holder === null && lock.queue.length === 0);
      if (idle === -1 || freeLock === -1) return;
      this.injected = true;
      if (type === 'leaked-node') this.leak(idle, freeLock);
      else this.stuck(idle, freeLock);
      return;
    }
    if (this.options.readWrite) {
      if (idle === -1) return;
      const held = this.locks.findIndex((lock) => lock.holder !== null || lock.readers.size > 0);
      if (held !== -1) {
        this.injected = true;
        this.intrude(idle, held);
      } else if (atEnd) {
        // At the end every client is idle: one reads a lock so that another can wrongly write it.
        this.acquire(idle, 0, 'blocking', 'read');
        this.tryInject(type, atEnd);
      }
      return;
    }
    const held = this.locks.findIndex((lock) => lock.holder !== null && (lock.queue.length > 0 || (idle !== -1 && idle !== lock.holder)));
    if (held !== -1) {
      this.injected = true;
      this.secondHolder(type, held, idle);
    } else if (atEnd) {
      // At the end every client is idle: one takes a lock so that another can wrongly take it too.
      this.acquire(idle, 0, 'blocking');
      this.tryInject(type, atEnd);
    }
  }

  /**
   * P2: the holder's session expired under it, so the lock went to the next in the queue (or to an idle client
   * that asked for it) while the old holder still believes it holds it. The old holder then skips its own
   * write, except in stale-write (it writes after the new holder) and lost-update (it writes after both read,
   * before the new holder writes).
   */
  private secondHolder(type: Violation, lockIndex: number, idle: number): void {
    const lock = this.locks[lockIndex]!;
    const holder = lock.holder!;
    const holderState = this.clients[holder]!.state as Extract<ClientState, { kind: 'holding' }>;
    const holderToken = this.tokenOf(lock.nodes.get(holder)!);
    lock.nodes.delete(holder); // its session expired: ZooKeeper deleted its node
    lock.holder = null;
    const next = lock.queue.shift();
    if (next !== undefined) this.grant(next, lockIndex);
    else this.acquire(idle, lockIndex, 'blocking');
    const intruder = lock.holder!;
    holderState.phase = 'release';
    if (type === 'double-holder') return;
    const intruderState = this.clients[intruder]!.state as Extract<ClientState, { kind: 'holding' }>;
    const holderRead = this.read(holder, lockIndex);
    const intruderRead = this.read(intruder, lockIndex);
    if (type === 'lost-update') this.write(holder, lockIndex, holderRead + 1, holderToken);
    this.write(intruder, lockIndex, intruderRead + 1, this.tokenOf(lock.nodes.get(intruder)!));
    if (type === 'stale-write') this.write(holder, lockIndex, holderRead + 1, holderToken);
    intruderState.phase = 'release';
  }

  /**
   * A writer let in beside the lock's holders, the lock's state untouched (Curator 5.4.0's writer after a
   * downgrade, CURATOR-621): its window overlaps theirs.
   */
  private intrude(clientIndex: number, lockIndex: number): void {
    const lock = this.locks[lockIndex]!;
    const client = this.clients[clientIndex]!;
    const op = this.invoke(clientIndex, 'acquire', { lock: lock.name, mode: 'blocking', access: 'write' });
    const node = this.newNode(lock, client);
    lock.nodes.set(clientIndex, node);
    this.complete(op, clientIndex, 'acquire', 'ok', { lock: lock.name, node: node.path, token: this.tokenOf(node), access: 'write' });
    client.state = { kind: 'holding', lock: lockIndex, phase: 'release', read: 0, access: 'write' };
  }

  /** The side a violation's acquire takes: write (or read, for a stuck reader) on a read/write lock. */
  private violationAccess(access: LockAccess): Access {
    return this.options.readWrite ? access : undefined;
  }

  /** P1: a try-lock whose cleanup delete the proxy swallowed: the node stays, owned by a live session. */
  private leak(clientIndex: number, lockIndex: number): void {
    const lock = this.locks[lockIndex]!;
    const client = this.clients[clientIndex]!;
    const access = accessField(this.violationAccess('write'));
    const op = this.invoke(clientIndex, 'acquire', { lock: lock.name, mode: 'try', ...access });
    const node = this.newNode(lock, client);
    lock.orphans.push(node);
    this.emit({ kind: 'proxy', time: this.tick(), event: 'request-dropped', clientHost: client.worker, session: client.session, op: 'delete', path: node.path });
    this.complete(op, clientIndex, 'acquire', 'info', { lock: lock.name, error: 'connection loss', ...access });
  }

  /**
   * A blocking acquire on a free lock (a reader, on a read/write lock nobody writes) that gets nowhere for three
   * times the liveness bound, then gives up. A server fault in force is healed first: time under one does not count
   * towards the bound, and a deadlock outlasts the faults that made it.
   */
  private stuck(clientIndex: number, lockIndex: number): void {
    if (this.openFault !== null) this.toggleFault();
    const lock = this.locks[lockIndex]!;
    const access = accessField(this.violationAccess('read'));
    const op = this.invoke(clientIndex, 'acquire', { lock: lock.name, mode: 'blocking', timeoutMs: 1, ...access });
    this.time += 3 * (2 * this.options.sessionTimeoutMs + this.options.holdMs) * MS_NS;
    this.complete(op, clientIndex, 'acquire', 'fail', { lock: lock.name, error: 'timeout', ...access });
  }
}

/** `access` on op lines of a read/write lock only, so that mutex histories stay as they were. */
function accessField(access: Access): { access?: LockAccess } {
  return access === undefined ? {} : { access };
}
