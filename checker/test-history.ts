/**
 * For tests: write a small history by hand, in milliseconds, in any order; `lines()` sorts it by time as the
 * runner would have written it. Each client cN has worker w1 and session 0x1N unless a test says otherwise.
 */
import {
  HISTORY_VERSION,
  type HistoryLine,
  type LockAccess,
  type LockChild,
  type OpFunction,
  type OpLine,
  type Outcome,
  type ProxyLine,
} from '../ground/history.ts';

const MS = 1e6;

export const DEFAULT_CONFIG = {
  recipe: 'node-safe', workload: 'mutex', nemesis: 'pause', seed: 1, fencing: 'off', sessionTimeoutMs: 1000, holdMs: 100, timeLimitS: 10,
};

export function sessionOf(client: string): string {
  return `0x1${client.slice(1)}`;
}

export function child(lock: string, sequence: number, owner: string, czxid = 100 + sequence, prefix = 'lock-'): LockChild {
  const name = `${prefix}${String(sequence).padStart(10, '0')}`;
  return { name, path: `/locks/${lock}/${name}`, czxid, ephemeralOwner: owner };
}

export class TestHistory {
  private readonly body: HistoryLine[] = [];
  private nextId = 0;
  private readonly header: HistoryLine | null;

  constructor(config: Record<string, unknown> | null = DEFAULT_CONFIG) {
    this.header = config === null ? null : { kind: 'header', version: HISTORY_VERSION, runId: 'test', startedAt: '2026-01-01T00:00:00Z', config };
  }

  /** An operation invoked at `startMs` and answered at `endMs` (never answered when endMs is null). */
  op(client: string, f: OpFunction, startMs: number, endMs: number | null, outcome: Outcome, fields: Partial<OpLine> = {}): number {
    const id = this.nextId++;
    const base = { kind: 'op' as const, id, f, client, worker: 'w1' };
    const { node, token, session, error, ...invokeFields } = fields;
    this.body.push({ ...base, ...invokeFields, type: 'invoke', time: startMs * MS });
    if (endMs !== null) {
      const answer = f === 'acquire' && outcome === 'ok' ? { node, token: token ?? null } : {};
      this.body.push({ ...base, ...invokeFields, ...answer, ...(error === undefined ? {} : { error }), type: outcome, time: endMs * MS, session: session ?? sessionOf(client) });
    }
    return id;
  }

  acquire(client: string, lock: string, startMs: number, endMs: number | null, outcome: Outcome = 'ok', fields: Partial<OpLine> = {}): number {
    return this.op(client, 'acquire', startMs, endMs, outcome, { lock, mode: 'blocking', ...fields });
  }

  release(client: string, lock: string, startMs: number, endMs: number | null = startMs + 1, fields: Partial<OpLine> = {}): number {
    return this.op(client, 'release', startMs, endMs, 'ok', { lock, ...fields });
  }

  /** A blocking acquire of one side of a read/write lock, and its release at `releaseMs` (never when null). */
  hold(client: string, lock: string, access: LockAccess, startMs: number, okMs: number, releaseMs: number | null): number {
    const id = this.acquire(client, lock, startMs, okMs, 'ok', { access });
    if (releaseMs !== null) this.release(client, lock, releaseMs, releaseMs + 1, { access });
    return id;
  }

  /** A fenced-write op with the resource line it caused (arriving halfway). */
  write(client: string, lock: string, startMs: number, endMs: number | null, value: number, token: number | null, accepted: boolean, outcome: Outcome = accepted ? 'ok' : 'fail'): number {
    const id = this.op(client, 'fenced-write', startMs, endMs, outcome, { lock, value });
    const arrival = endMs === null ? startMs + 1 : (startMs + endMs) / 2;
    this.body.push({ kind: 'resource', time: arrival * MS, resource: `counter-${lock}`, client, token, value, accepted });
    return id;
  }

  /** The worker reports the client's session, as workers do when a session is established. */
  connected(client: string, atMs = 0, session = sessionOf(client)): this {
    this.body.push({ kind: 'worker', time: atMs * MS, worker: 'w1', client, event: 'connected', session });
    return this;
  }

  /** The worker reports that `client` now leads `election` (with its token and node), or no longer does. */
  leadership(client: string, election: string, atMs: number, leading: boolean, token: number | null = null, worker = 'w1'): this {
    this.body.push({
      kind: 'worker', time: atMs * MS, worker, client, event: 'leadership', election, leading,
      ...(leading ? { token, node: `/locks/${election}/${client}-lock`, session: sessionOf(client) } : {}),
    });
    return this;
  }

  /** A session event of the client, or the worker's end (client absent). */
  workerEvent(event: 'connected' | 'disconnected' | 'expired' | 'crashed', atMs: number, client?: string, session?: string, worker = 'w1'): this {
    this.body.push({ kind: 'worker', time: atMs * MS, worker, event, ...(client === undefined ? {} : { client }), ...(session === undefined ? {} : { session }) });
    return this;
  }

  /** A nemesis fault with its value (targets), started and (unless null) stopped. */
  faultOn(id: number, f: string, value: Record<string, unknown>, startMs: number, stopMs: number | null): this {
    this.body.push({ kind: 'nemesis', id, type: 'start', time: startMs * MS, f, description: `${f} starts`, value });
    if (stopMs !== null) this.body.push({ kind: 'nemesis', id, type: 'stop', time: stopMs * MS, f, description: `${f} stops`, value });
    return this;
  }

  snapshot(atMs: number, final: boolean, locks: Record<string, LockChild[]>, sessions: string[], resources: Record<string, { value: number; highestToken: number | null }> = {}): this {
    this.body.push({ kind: 'snapshot', time: atMs * MS, final, locks, sessions, resources });
    return this;
  }

  fault(id: number, f: string, startMs: number, stopMs: number | null): this {
    this.body.push({ kind: 'nemesis', id, type: 'start', time: startMs * MS, f, description: `${f} starts`, value: {} });
    if (stopMs !== null) this.body.push({ kind: 'nemesis', id, type: 'stop', time: stopMs * MS, f, description: `${f} stops`, value: {} });
    return this;
  }

  proxy(atMs: number, fields: Omit<ProxyLine, 'kind' | 'time'>): this {
    this.body.push({ kind: 'proxy', time: atMs * MS, ...fields });
    return this;
  }

  end(atMs: number): this {
    this.body.push({ kind: 'end', time: atMs * MS, reason: 'completed' });
    return this;
  }

  lines(): HistoryLine[] {
    const sorted = [...this.body].sort((a, b) => timeOf(a) - timeOf(b));
    return this.header === null ? sorted : [this.header, ...sorted];
  }
}

function timeOf(line: HistoryLine): number {
  return line.kind === 'header' ? -1 : line.time;
}
