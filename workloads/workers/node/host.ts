/**
 * The protocol side of the Node worker (docs/worker-protocol.md): turns requests into recipe calls and recipe
 * outcomes into answers. It keeps what each client believes it holds, which is what release, fenced-write and read use.
 */
import {
  ANSWER_ERRORS, holdKey, WORKER_FEATURES, WorkerRequest, type InitRequest, type WorkerAnswer, type WorkerMessage,
} from '../../protocol.ts';
import { LockRecipe, type Hold, type Outcome } from './lock-recipe.ts';
import { LockClient, type Session } from './session.ts';

type Request = Exclude<WorkerRequest, InitRequest>;

/** After this long, init names the clients still connecting on stderr (it keeps waiting: the runner bounds init). */
const SLOW_INIT_MS = 10_000;

export class WorkerHost {
  private readonly clients = new Map<string, LockClient>();
  /** client → holdKey(lock, access) → what the client believes it holds. */
  private readonly holds = new Map<string, Map<string, Hold>>();
  /** Clients with a request in progress: the protocol allows one at a time per client. */
  private readonly busy = new Set<string>();
  private lockRoot = '';
  private initialized = false;

  constructor(
    private readonly recipe: LockRecipe,
    private readonly send: (message: WorkerMessage) => void,
  ) {}

  /** Handles one line of stdin; every request gets exactly one answer, in time. */
  handleLine(line: string): void {
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.send({ in_reply_to: null, type: 'error', error: `not JSON: ${line.slice(0, 200)}` });
      return;
    }
    const parsed = WorkerRequest.safeParse(message);
    if (!parsed.success) {
      const id = (message as { id?: unknown } | null)?.id;
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      this.send({ in_reply_to: typeof id === 'number' ? id : null, type: 'error', error: `malformed request: ${where}${issue?.message ?? 'invalid'}` });
      return;
    }
    void this.handle(parsed.data).then(
      (answer) => this.send({ in_reply_to: parsed.data.id, ...answer }),
      (error: unknown) => this.send({ in_reply_to: parsed.data.id, type: 'info', error: `worker error: ${String(error)}` }),
    );
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
  }

  private async handle(request: WorkerRequest): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    if (request.type === 'init') return this.init(request);
    if (!this.initialized) return { type: 'error', error: 'not initialized: send init first' };
    const client = this.clients.get(request.client);
    if (client === undefined) return { type: 'error', error: `unknown client ${request.client}` };
    if (this.busy.has(client.id)) return { type: 'fail', error: ANSWER_ERRORS.busy };
    this.busy.add(client.id);
    try {
      return await this.perform(client, request);
    } finally {
      this.busy.delete(client.id);
    }
  }

  private async init(request: InitRequest): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    if (this.initialized) return { type: 'error', error: 'already initialized' };
    this.initialized = true;
    this.lockRoot = request.lockRoot.replace(/\/$/, '');
    for (const id of new Set(request.clients)) {
      this.holds.set(id, new Map());
      this.clients.set(id, new LockClient(id, request.connect, request.sessionTimeoutMs, this.send, (session) => this.sessionEnded(id, session)));
    }
    const slow = setTimeout(() => {
      const waiting = [...this.clients.values()].filter((client) => !client.current.connected).map((client) => client.id);
      console.error(`init: ${waiting.length} clients not connected after ${SLOW_INIT_MS} ms (${waiting.slice(0, 10).join(', ')}); ` +
        'is a server refusing them (maxClientCnxns, default 60 per client address)?');
    }, SLOW_INIT_MS);
    await Promise.all([...this.clients.values()].map((client) => client.current.untilConnected()));
    clearTimeout(slow);
    // No downgrade: ZooKeeper's shared-lock recipe has none (a read behind the client's own write waits for it).
    return { type: 'init_ok', features: [WORKER_FEATURES.readWrite] };
  }

  private async perform(client: LockClient, request: Request): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    const holds = this.holds.get(client.id)!;
    switch (request.type) {
      case 'acquire': {
        const key = holdKey(request.lock, request.access);
        if (holds.has(key)) return { type: 'fail', error: ANSWER_ERRORS.alreadyHeld };
        const session = client.current;
        const deadline = request.mode === 'blocking' && request.timeoutMs !== undefined ? performance.now() + request.timeoutMs : Infinity;
        const outcome = await this.recipe.acquire(session, `${this.lockRoot}/${request.lock}`, request.mode, deadline, request.access);
        if (outcome.type !== 'ok') return withSession(outcome, session);
        holds.set(key, { lock: request.lock, node: outcome.node, token: outcome.token, session, lost: false });
        return { type: 'ok', token: outcome.token, node: outcome.node, session: session.id };
      }
      case 'release': {
        const key = holdKey(request.lock, request.access);
        const hold = holds.get(key);
        if (hold === undefined) return { type: 'fail', error: ANSWER_ERRORS.notHeld };
        // Whatever the answer, the client no longer believes it holds the lock.
        holds.delete(key);
        return withSession(await this.recipe.release(hold), hold.session);
      }
      case 'fenced-write': {
        const hold = holds.get(holdKey(request.lock, undefined));
        if (hold === undefined) return { type: 'fail', error: ANSWER_ERRORS.notHeld };
        if (hold.lost) return { type: 'fail', error: ANSWER_ERRORS.lost, session: hold.session.id };
        return withSession(await postWrite(request.resource, { client: client.id, token: hold.token, value: request.value }), hold.session);
      }
      case 'read': {
        // The hold's token goes with the read, so that the resource fences older holders off from here on.
        const hold = request.lock === undefined ? undefined : holds.get(holdKey(request.lock, undefined));
        return readResource(request.resource, client.id, hold?.token ?? null);
      }
    }
  }

  /** A recipe that watches its session tells each holder of that session that its lock is lost. */
  private sessionEnded(clientId: string, session: Session): void {
    if (!this.recipe.policy.watchSession) return;
    for (const hold of this.holds.get(clientId)?.values() ?? []) {
      if (hold.session === session) hold.lost = true;
    }
  }
}

function withSession(outcome: Outcome, session: Session): Omit<WorkerAnswer, 'in_reply_to'> {
  return outcome.type === 'ok' ? { type: 'ok', session: session.id } : { type: outcome.type, error: outcome.error, session: session.id };
}

async function postWrite(resource: string, body: { client: string; token: number | null; value: number }): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetch(resource, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (error) {
    // The write may have reached the resource before the connection failed.
    return { type: 'info', error: `resource unreachable: ${String(error)}` };
  }
  const answer = (await response.json().catch(() => ({}))) as { accepted?: unknown };
  if (!response.ok || typeof answer.accepted !== 'boolean') return { type: 'info', error: `resource answered ${response.status}` };
  return answer.accepted ? { type: 'ok' } : { type: 'fail', error: ANSWER_ERRORS.rejected };
}

async function readResource(resource: string, client: string, token: number | null): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
  const url = new URL(resource);
  url.searchParams.set('client', client);
  if (token !== null) url.searchParams.set('token', String(token));
  try {
    const response = await fetch(url);
    const answer = (await response.json()) as { value?: unknown };
    if (response.ok && typeof answer.value === 'number') return { type: 'ok', value: answer.value };
    return { type: 'fail', error: `resource answered ${response.status}` };
  } catch (error) {
    // A read changes no value (at most it raised the highest token seen), so a failed one is a fail, never info.
    return { type: 'fail', error: `resource unreachable: ${String(error)}` };
  }
}
