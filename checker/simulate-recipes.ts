/**
 * Model services for the recipes beyond the mutex, as simulate.ts is for locks: a schedule (which client acts next,
 * after how long) becomes the history a correct run would record, with one violation on request. The property
 * tests draw schedules with fast-check.
 *
 * - Election: candidates queue in campaign order; the head leads at once (a leadership event right after its
 *   campaign's ok, or right after its predecessor's resign). A leader writes the election's counter with its token
 *   (read, then value + 1), then resigns; a waiting candidate may give up (resign). Some campaigns are answered
 *   info (the candidate resigns next, as the workload does) and one may stay pending at the end.
 * - Semaphore: a fair FIFO semaphore of `permits` leases; an acquire on a free lease succeeds at once, otherwise
 *   it queues (or, a try, fails); a release admits the queue's head. Lease nodes sit under `leases/`. Some tries are
 *   answered info (their node already given up), and one acquire stays pending at the end.
 */
import { HISTORY_VERSION, type HistoryLine, type LockChild, type OpFunction, type OpLine, type Outcome } from '../ground/history.ts';

export interface RecipeStep {
  client: number;
  /** Time that passes before the client acts. */
  dtNs: number;
  /** Election: a waiting candidate gives up; semaphore: an idle client tries instead of waiting. */
  giveUp: boolean;
  /** Election: the campaign's answer is lost (info). */
  unknown: boolean;
}

export type ElectionViolation = 'double-leader' | 'no-leader';
export type SemaphoreViolation = 'over-permits' | 'leaked-node';

interface Common {
  clients: number;
  sessionTimeoutMs: number;
  holdMs: number;
  /** A server fault (one of three servers killed: the quorum stays) starts or stops every this many steps (0: none). */
  faultEvery: number;
}

export interface ElectionOptions extends Common {
  fencing: boolean;
  violation?: { type: ElectionViolation; atStep: number };
}

export interface SemaphoreOptions extends Common {
  permits: number;
  violation?: { type: SemaphoreViolation; atStep: number };
}

const LINE_GAP_NS = 1_000;
const MS_NS = 1e6;

/** What both models share: the clock, op ids, sessions, the header, faults and the line buffer. */
class Recorder {
  time = 0;
  private nextOp = 0;
  private nextZxid = 1;
  private nextFault = 0;
  private openFault: number | null = null;
  readonly out: HistoryLine[] = [];

  constructor(readonly clients: number) {}

  tick(): number {
    this.time += LINE_GAP_NS;
    return this.time;
  }

  name(client: number): string {
    return `c${client}`;
  }

  worker(client: number): string {
    return `w${client % 3}`;
  }

  session(client: number): string {
    return `0x${(0x2000 + client).toString(16)}`;
  }

  zxid(): number {
    return this.nextZxid++;
  }

  header(workload: string, config: Record<string, unknown>): void {
    this.out.push({
      kind: 'header', version: HISTORY_VERSION, runId: 'simulated', startedAt: '1970-01-01T00:00:00.000Z',
      config: { recipe: 'model', workload, nemesis: 'kill', seed: 0, nodes: 3, timeLimitS: 60, ...config },
    });
    for (let client = 0; client < this.clients; client++) {
      this.out.push({ kind: 'worker', time: this.tick(), worker: this.worker(client), client: this.name(client), event: 'connected', session: this.session(client) });
    }
  }

  invoke(client: number, f: OpFunction, fields: Partial<OpLine>): number {
    const id = this.nextOp++;
    this.out.push({ kind: 'op', id, type: 'invoke', time: this.tick(), f, client: this.name(client), worker: this.worker(client), ...fields });
    return id;
  }

  complete(id: number, client: number, f: OpFunction, outcome: Outcome, fields: Partial<OpLine>): void {
    this.out.push({ kind: 'op', id, type: outcome, time: this.tick(), f, client: this.name(client), worker: this.worker(client), session: this.session(client), ...fields });
  }

  toggleFault(): void {
    if (this.openFault === null) {
      this.openFault = this.nextFault++;
      this.out.push({ kind: 'nemesis', id: this.openFault, type: 'start', time: this.tick(), f: 'kill', description: 'SIGKILL zk1', value: { node: 1, leader: false } });
    } else {
      this.out.push({ kind: 'nemesis', id: this.openFault, type: 'stop', time: this.tick(), f: 'kill', description: 'restart zk1', value: { node: 1, leader: false } });
      this.openFault = null;
    }
  }

  finish(snapshot: Omit<Extract<HistoryLine, { kind: 'snapshot' }>, 'kind' | 'time' | 'final' | 'sessions'>): void {
    if (this.openFault !== null) this.toggleFault();
    const sessions = Array.from({ length: this.clients }, (_, client) => this.session(client));
    this.out.push({ kind: 'snapshot', time: this.tick(), final: true, sessions, ...snapshot });
    this.out.push({ kind: 'end', time: this.tick(), reason: 'completed' });
  }

  *flush(): Generator<HistoryLine> {
    for (const line of this.out) yield line;
    this.out.length = 0;
  }

  boundNs(common: Common): number {
    return (2 * common.sessionTimeoutMs + common.holdMs) * MS_NS;
  }
}

type Candidate = { kind: 'idle' } | { kind: 'waiting'; node: LockChild } | { kind: 'leading'; node: LockChild; read: number | null } | { kind: 'unknown' };

export function* simulateElection(steps: Iterable<RecipeStep>, options: ElectionOptions): Generator<HistoryLine> {
  const recorder = new Recorder(options.clients);
  const election = 'E1';
  const states: Candidate[] = Array.from({ length: options.clients }, () => ({ kind: 'idle' }));
  /** Candidates in campaign order; the head leads. */
  const queue: number[] = [];
  let counter = 0;
  let highestToken = 0;
  let injected = false;
  let sequence = 0;
  recorder.header('leader', { fencing: options.fencing ? 'on' : 'off', sessionTimeoutMs: options.sessionTimeoutMs, holdMs: options.holdMs });

  const elect = (client: number): void => {
    const state = states[client] as Extract<Candidate, { kind: 'waiting' }>;
    states[client] = { kind: 'leading', node: state.node, read: null };
    recorder.out.push({
      kind: 'worker', time: recorder.tick(), worker: recorder.worker(client), client: recorder.name(client), event: 'leadership', election,
      leading: true, token: state.node.czxid, node: state.node.path, session: recorder.session(client),
    });
  };
  const electHead = (): void => {
    const head = queue[0];
    if (head !== undefined && states[head]!.kind === 'waiting') elect(head);
  };
  const resign = (client: number): void => {
    const op = recorder.invoke(client, 'resign', { election });
    const wasHead = queue[0] === client;
    queue.splice(queue.indexOf(client), 1);
    states[client] = { kind: 'idle' };
    recorder.complete(op, client, 'resign', 'ok', { election });
    if (wasHead) electHead();
  };
  const write = (client: number, state: Extract<Candidate, { kind: 'leading' }>): void => {
    if (state.read === null) {
      const op = recorder.invoke(client, 'read', { election });
      recorder.complete(op, client, 'read', 'ok', { election, value: counter });
      state.read = counter;
      return;
    }
    const value = state.read + 1;
    const op = recorder.invoke(client, 'fenced-write', { election, value });
    const accepted = !options.fencing || state.node.czxid >= highestToken;
    recorder.out.push({ kind: 'resource', time: recorder.tick(), resource: election, client: recorder.name(client), token: state.node.czxid, value, accepted });
    if (accepted) {
      counter = value;
      highestToken = Math.max(highestToken, state.node.czxid);
    }
    recorder.complete(op, client, 'fenced-write', accepted ? 'ok' : 'fail', { election, value, ...(accepted ? {} : { error: 'rejected' }) });
    resign(client);
  };
  /** After an unanswered campaign the client resigns; the service never had it. */
  const resignUnknown = (client: number): void => {
    const op = recorder.invoke(client, 'resign', { election });
    states[client] = { kind: 'idle' };
    recorder.complete(op, client, 'resign', 'fail', { election, error: 'not campaigning' });
  };
  /** double-leader: a waiting candidate is told it leads beside the leader. no-leader: the head waits past the bound. */
  const inject = (type: ElectionViolation): boolean => {
    const waiting = queue.slice(1).find((client) => states[client]!.kind === 'waiting');
    if (type === 'double-leader') {
      if (queue[0] === undefined || states[queue[0]]!.kind !== 'leading' || waiting === undefined) return false;
      elect(waiting);
      // It resigns right away: the model's queue stays as it was.
      recorder.out.push({ kind: 'worker', time: recorder.tick(), worker: recorder.worker(waiting), client: recorder.name(waiting), event: 'leadership', election, leading: false });
      states[waiting] = { kind: 'waiting', node: (states[waiting] as Extract<Candidate, { kind: 'leading' }>).node };
      return true;
    }
    const head = queue[0];
    if (head === undefined || states[head]!.kind !== 'leading') return false;
    // The leader resigns; its successor is elected only after three bounds (a lost watch, say).
    const successor = queue[1];
    const op = recorder.invoke(head, 'resign', { election });
    queue.shift();
    states[head] = { kind: 'idle' };
    recorder.complete(op, head, 'resign', 'ok', { election });
    if (successor === undefined) {
      // Somebody must be waiting: an idle client campaigns first.
      // Any other client will do: one whose campaign went unanswered resigns first, as the workload does.
      const idle = states.findIndex((state, client) => client !== head && (state.kind === 'idle' || state.kind === 'unknown'));
      if (states[idle]!.kind === 'unknown') resignUnknown(idle);
      campaign(idle, false, false);
    }
    recorder.time += 3 * recorder.boundNs(options);
    electHead();
    return true;
  };
  /** `electAlone`: a candidate joining an empty queue leads at once (the correct service always does). */
  const campaign = (client: number, unknown: boolean, electAlone = true): void => {
    const op = recorder.invoke(client, 'campaign', { election });
    if (unknown) {
      // The answer is lost; the service never queued it. The candidate resigns next.
      recorder.complete(op, client, 'campaign', 'info', { election, error: 'connection loss' });
      states[client] = { kind: 'unknown' };
      return;
    }
    const czxid = recorder.zxid();
    const name = `n_${String(sequence++).padStart(10, '0')}`;
    states[client] = { kind: 'waiting', node: { name, path: `/locks/${election}/${name}`, czxid, ephemeralOwner: recorder.session(client) } };
    queue.push(client);
    recorder.complete(op, client, 'campaign', 'ok', { election });
    if (queue.length === 1 && electAlone) elect(client);
  };

  let index = 0;
  for (const step of steps) {
    recorder.time += Math.max(0, Math.round(step.dtNs));
    const violation = options.violation;
    if (violation !== undefined && !injected && index >= violation.atStep) injected = inject(violation.type);
    const client = step.client % options.clients;
    const state = states[client]!;
    if (state.kind === 'idle') campaign(client, step.unknown);
    else if (state.kind === 'unknown') resignUnknown(client);
    else if (state.kind === 'waiting' && step.giveUp) resign(client);
    else if (state.kind === 'leading') write(client, state);
    if (options.faultEvery > 0 && index % options.faultEvery === 0) recorder.toggleFault();
    index++;
    yield* recorder.flush();
  }
  if (options.violation !== undefined && !injected) {
    // Too few steps to meet the violation's conditions: make them (a leader and a waiting candidate).
    for (const client of [0, 1]) {
      if (states[client]!.kind === 'unknown') resignUnknown(client);
      if (states[client]!.kind === 'idle') campaign(client, false);
    }
    injected = inject(options.violation.type);
  }
  // The end of the run: every candidate resigns, leaders first.
  while (queue.length > 0) resign(queue[0]!);
  states.forEach((state, client) => {
    if (state.kind === 'unknown') resignUnknown(client);
  });
  // A campaign still in flight when the history ends: pending, so no candidate to count on.
  recorder.invoke(0, 'campaign', { election });
  recorder.finish({ locks: {}, elections: { [election]: [] }, resources: { [election]: { value: counter, highestToken: highestToken || null } } });
  yield* recorder.flush();
}

type Leaseholder = { kind: 'idle' } | { kind: 'waiting'; op: number; node: LockChild } | { kind: 'holding'; node: LockChild };

export function* simulateSemaphore(steps: Iterable<RecipeStep>, options: SemaphoreOptions): Generator<HistoryLine> {
  const recorder = new Recorder(options.clients + options.permits + 1);
  const lock = 'S1';
  const { permits } = options;
  // Past the schedule's clients, spares that only the violation uses (so it needs no idle client of the schedule).
  const spares = Array.from({ length: permits + 1 }, (_, index) => options.clients + index);
  const states: Leaseholder[] = Array.from({ length: options.clients + spares.length }, () => ({ kind: 'idle' }));
  const queue: number[] = [];
  const holders = new Set<number>();
  const orphans: LockChild[] = [];
  let sequence = 0;
  let injected = false;
  recorder.header('semaphore', { fencing: 'off', permits, sessionTimeoutMs: options.sessionTimeoutMs, holdMs: options.holdMs });

  const newNode = (client: number): LockChild => {
    const name = `lease-${String(sequence++).padStart(10, '0')}`;
    return { name, path: `/locks/${lock}/leases/${name}`, czxid: recorder.zxid(), ephemeralOwner: recorder.session(client) };
  };
  const grant = (client: number): void => {
    const state = states[client] as Extract<Leaseholder, { kind: 'waiting' }>;
    holders.add(client);
    states[client] = { kind: 'holding', node: state.node };
    recorder.complete(state.op, client, 'acquire', 'ok', { lock, permits, node: state.node.path, token: state.node.czxid });
  };
  const acquire = (client: number, tryOnly: boolean, force = false): void => {
    const mode = tryOnly ? 'try' : 'blocking';
    const op = recorder.invoke(client, 'acquire', { lock, permits, mode });
    const free = holders.size < permits && queue.length === 0;
    if (tryOnly && !free && !force) {
      recorder.complete(op, client, 'acquire', 'fail', { lock, permits, mode, error: 'held' });
      return;
    }
    states[client] = { kind: 'waiting', op, node: newNode(client) };
    if (free || force) grant(client);
    else queue.push(client);
  };
  const release = (client: number): void => {
    const op = recorder.invoke(client, 'release', { lock });
    holders.delete(client);
    states[client] = { kind: 'idle' };
    recorder.complete(op, client, 'release', 'ok', { lock });
    while (holders.size < permits && queue.length > 0) grant(queue.shift()!);
  };
  /** over-permits: spares are let in until one more than `permits` hold. leaked-node: a spare's try whose cleanup failed. */
  const inject = (type: SemaphoreViolation): void => {
    if (type === 'leaked-node') {
      const spare = spares[0]!;
      const op = recorder.invoke(spare, 'acquire', { lock, permits, mode: 'try' });
      orphans.push(newNode(spare));
      recorder.complete(op, spare, 'acquire', 'info', { lock, permits, mode: 'try', error: 'connection loss' });
      return;
    }
    for (const spare of spares) if (holders.size <= permits) acquire(spare, true, true);
  };

  let index = 0;
  for (const step of steps) {
    recorder.time += Math.max(0, Math.round(step.dtNs));
    const violation = options.violation;
    if (violation !== undefined && !injected && index >= violation.atStep) {
      inject(violation.type);
      injected = true;
    }
    const client = step.client % options.clients;
    const state = states[client]!;
    if (state.kind === 'idle' && step.giveUp && step.unknown) {
      // A try whose answer was lost, though the service had given its node up: unknown, and nothing left.
      const op = recorder.invoke(client, 'acquire', { lock, permits, mode: 'try' });
      recorder.complete(op, client, 'acquire', 'info', { lock, permits, mode: 'try', error: 'connection loss' });
    } else if (state.kind === 'idle') acquire(client, step.giveUp);
    else if (state.kind === 'holding') release(client);
    if (options.faultEvery > 0 && index % options.faultEvery === 0) recorder.toggleFault();
    index++;
    yield* recorder.flush();
  }
  if (options.violation !== undefined && !injected) inject(options.violation.type);
  // The end of the run: holders release, and waiters get their leases in turn, until nobody holds.
  while (holders.size > 0) release(holders.values().next().value!);
  // An acquire still in flight when the history ends: pending, holding nothing.
  recorder.invoke(0, 'acquire', { lock, permits, mode: 'blocking' });
  recorder.finish({ locks: { [lock]: orphans.map((node) => ({ ...node })) }, resources: {} });
  yield* recorder.flush();
}
