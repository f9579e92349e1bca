/**
 * The protocol side of the Node worker (docs/worker-protocol.md): turns requests into recipe calls and recipe
 * outcomes into answers. It keeps what each client believes it holds, which is what release, fenced-write and read use,
 * and its candidacies: a campaign is the exclusive lock of the election acquired in the background, without a
 * deadline; getting it is being elected (a leadership event), resigning gives it up, waiting or held.
 */
import {
  ANSWER_ERRORS, holdKey, WORKER_FEATURES, WorkerRequest, type InitRequest, type WorkerAnswer, type WorkerMessage,
} from '../../protocol.ts';
import { LockRecipe, type Hold, type Outcome } from './lock-recipe.ts';
import { LockClient, type Session } from './session.ts';
import { deferred, type Deferred } from './wait.ts';

type Request = Exclude<WorkerRequest, InitRequest>;

/** After this long, init names the clients still connecting on stderr (it keeps waiting: the runner bounds init). */
const SLOW_INIT_MS = 10_000;

/** A client's candidacy in one election: the background acquire of the election's lock, and its hold once elected. */
interface Candidacy {
  session: Session;
  /** Resolved by resign: the acquire stops waiting and gives its node up. */
  cancel: Deferred<void>;
  /** The background acquire's outcome. */
  outcome: Promise<Outcome<{ node: string; token: number | null }>>;
  /** Set once elected. */
  hold: Hold | null;
  resigned: boolean;
}

export class WorkerHost {
  private readonly clients = new Map<string, LockClient>();
  /** client → holdKey(lock, access) → what the client believes it holds. */
  private readonly holds = new Map<string, Map<string, Hold>>();
  /** client → election → its candidacy. */
  private readonly candidacies = new Map<string, Map<string, Candidacy>>();
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
      this.candidacies.set(id, new Map());
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
    return { type: 'init_ok', features: [WORKER_FEATURES.readWrite, WORKER_FEATURES.leader, WORKER_FEATURES.semaphore] };
  }

  private async perform(client: LockClient, request: Request): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    const holds = this.holds.get(client.id)!;
    switch (request.type) {
      case 'acquire': {
        const key = holdKey(request.lock, request.access);
        if (holds.has(key)) return { type: 'fail', error: ANSWER_ERRORS.alreadyHeld };
        const session = client.current;
        const deadline = request.mode === 'blocking' && request.timeoutMs !== undefined ? performance.now() + request.timeoutMs : Infinity;
        const outcome = await this.recipe.acquire(session, `${this.lockRoot}/${request.lock}`, request.mode, deadline, {
          ...(request.access === undefined ? {} : { access: request.access }), ...(request.permits === undefined ? {} : { permits: request.permits }),
        });
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
        const hold = this.guardHold(client.id, request);
        if (hold === undefined) return { type: 'fail', error: request.lock === undefined ? ANSWER_ERRORS.notCampaigning : ANSWER_ERRORS.notHeld };
        if (hold.lost) return { type: 'fail', error: ANSWER_ERRORS.lost, session: hold.session.id };
        return withSession(await postWrite(request.resource, { client: client.id, token: hold.token, value: request.value }), hold.session);
      }
      case 'read':
        // The hold's token goes with the read, so that the resource fences older holders off from here on.
        return readResource(request.resource, client.id, this.guardHold(client.id, request)?.token ?? null);
      case 'campaign':
        return this.campaign(client, request.election);
      case 'resign':
        return this.resign(client, request.election);
    }
  }

  /** The hold that entitles a fenced write or read: of the exclusive lock, or the leadership of the election. */
  private guardHold(clientId: string, request: { lock?: string | undefined; election?: string | undefined }): Hold | undefined {
    if (request.lock !== undefined) return this.holds.get(clientId)!.get(holdKey(request.lock, undefined));
    return request.election === undefined ? undefined : (this.candidacies.get(clientId)!.get(request.election)?.hold ?? undefined);
  }

  /** `ok` once the candidate node is in the queue; the election itself is reported by a leadership event. */
  private async campaign(client: LockClient, election: string): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    const candidacies = this.candidacies.get(client.id)!;
    if (candidacies.has(election)) return { type: 'fail', error: ANSWER_ERRORS.alreadyCampaigning };
    const session = client.current;
    const queued = deferred<string>();
    const cancel = deferred();
    const outcome = this.recipe.acquire(session, `${this.lockRoot}/${election}`, 'blocking', Infinity, { cancel: cancel.promise, onQueued: (node) => queued.resolve(node) });
    const candidacy: Candidacy = { session, cancel, outcome, hold: null, resigned: false };
    candidacies.set(election, candidacy);
    // Being elected takes a ZooKeeper round trip after the node is queued, by which time this ok is on stdout:
    // the leadership event always follows the campaign's answer.
    void outcome.then((elected) => {
      if (elected.type !== 'ok' || candidacy.resigned) return;
      candidacy.hold = { lock: election, node: elected.node, token: elected.token, session, lost: false };
      this.send({ type: 'event', client: client.id, event: 'leadership', election, leading: true, token: elected.token, node: elected.node, session: session.id });
    });
    // The node is queued before the acquire can succeed, so only a failure can come first.
    const first = await Promise.race([queued.promise.then(() => null), outcome]);
    if (first === null || first.type === 'ok') return { type: 'ok', session: session.id };
    // It ended before its node was queued: nothing of it is left.
    candidacies.delete(election);
    return withSession(first, session);
  }

  /** Gives up the candidacy: deletes the node of a leader, or stops the waiting acquire, which deletes its own. */
  private async resign(client: LockClient, election: string): Promise<Omit<WorkerAnswer, 'in_reply_to'>> {
    const candidacies = this.candidacies.get(client.id)!;
    const candidacy = candidacies.get(election);
    if (candidacy === undefined) return { type: 'fail', error: ANSWER_ERRORS.notCampaigning };
    // Whatever the answer, the client no longer campaigns nor leads.
    candidacies.delete(election);
    candidacy.resigned = true;
    candidacy.cancel.resolve();
    const outcome = await candidacy.outcome;
    if (outcome.type === 'ok') return withSession(await this.recipe.release(candidacy.hold ?? { lock: election, node: outcome.node, token: outcome.token, session: candidacy.session, lost: false }), candidacy.session);
    // The wait gave up its node (a timeout-like fail) or its session is gone: either way nothing of it remains.
    if (outcome.type === 'fail') return { type: outcome.error === ANSWER_ERRORS.sessionExpired ? 'fail' : 'ok', ...(outcome.error === ANSWER_ERRORS.sessionExpired ? { error: ANSWER_ERRORS.lost } : {}), session: candidacy.session.id };
    return withSession(outcome, candidacy.session);
  }

  /** A recipe that watches its session tells each holder of that session that its lock is lost, and each leader that it no longer leads. */
  private sessionEnded(clientId: string, session: Session): void {
    if (!this.recipe.policy.watchSession) return;
    for (const hold of this.holds.get(clientId)?.values() ?? []) {
      if (hold.session === session) hold.lost = true;
    }
    for (const [election, candidacy] of this.candidacies.get(clientId) ?? []) {
      if (candidacy.session !== session || candidacy.hold === null || candidacy.hold.lost) continue;
      candidacy.hold.lost = true;
      this.send({ type: 'event', client: clientId, event: 'leadership', election, leading: false, session: session.id });
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
