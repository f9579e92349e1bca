/**
 * The ZooKeeper lock recipe (sequential ephemeral children; the lowest sequence number holds; a waiter watches its
 * predecessor) with the choices that decide whether it survives faults as policy flags. `NAIVE` is how many
 * recipes are written and reproduces pathologies P1 and P3 (README.md); `SAFE` is the one we would ship.
 * The same queue serves ZooKeeper's shared-lock recipe: `read-` and `write-` nodes instead of `lock-`; a writer
 * waits for the node just before it, a reader only for the last non-read node before it. And a semaphore of N
 * permits: `lease-` nodes, the N lowest hold; a waiter watches the children (any of the nodes before it may go).
 * An election is the exclusive lock held in the background (workers/node/host.ts): the lowest node leads.
 */
import { randomUUID } from 'node:crypto';
import { ANSWER_ERRORS, type LockAccess } from '../../protocol.ts';
import type { Session } from './session.ts';
import { deferred, raceTimeout, sleep } from './wait.ts';
import {
  describeZkError, isOutcomeUnknown, isSessionGone, ZkCode, zkErrorCode, ZOO_EPHEMERAL_SEQUENTIAL, ZOO_PERSISTENT,
} from '../../../ground/zk.ts';

export interface RecipePolicy {
  /**
   * Node names carry a GUID of the attempt, so a create whose outcome is unknown is followed by `sync` and a lookup
   * of our own node. Without it the create is blindly repeated, and a lost reply leaves an orphan node (P3).
   */
  guidNames: boolean;
  /**
   * Cleanup deletes (failed try, timed-out wait, release) are retried until done or the session is gone. Without it
   * a delete that hits a connection loss is swallowed and its node may live as long as the session (P1).
   */
  retryCleanup: boolean;
  /** Acquire returns the czxid of the lock node as fence token; without it the token is null. */
  fenceToken: boolean;
  /** The recipe watches its session: a waiter stops when it expires and a holder learns it lost the lock. */
  watchSession: boolean;
}

export const NAIVE: RecipePolicy = { guidNames: false, retryCleanup: false, fenceToken: false, watchSession: false };
export const SAFE: RecipePolicy = { guidNames: true, retryCleanup: true, fenceToken: true, watchSession: true };

/** A definite `fail` (it did not happen) or an indefinite `info` (it may have). */
export interface Failure {
  type: 'fail' | 'info';
  error: string;
}
export type Outcome<T = unknown> = ({ type: 'ok' } & T) | Failure;

export interface Hold {
  lock: string;
  node: string;
  token: number | null;
  session: Session;
  /** Set when the recipe learned that the hold's session ended. */
  lost: boolean;
}

/** The session of an operation ended: its ephemeral nodes are gone, so nothing it did lasts. */
class SessionGone extends Error {}

const SEQUENCE_DIGITS = 10;
/** After a connection loss, wait this long before retrying, so a client between two connections does not spin. */
const RETRY_PAUSE_MS = 20;

/** What else an acquire may be given. */
export interface AcquireOptions {
  /** A side of the shared lock; absent, the exclusive lock. */
  access?: LockAccess;
  /** The lock is a semaphore of this many leases (excludes `access`). */
  permits?: number;
  /** Resolving it gives up a blocking wait as a timeout does (a campaign's resign). */
  cancel?: Promise<void>;
  /** Called once our node is in the queue, with its path. */
  onQueued?: (node: string) => void;
}

export class LockRecipe {
  constructor(readonly policy: RecipePolicy) {}

  /** `deadline` (performance.now() ms) bounds a blocking wait; Infinity waits for ever. */
  async acquire(session: Session, lockPath: string, mode: 'try' | 'blocking', deadline: number, options: AcquireOptions = {}): Promise<Outcome<{ node: string; token: number | null }>> {
    const { access, permits, cancel } = options;
    try {
      const node = await this.createContender(session, lockPath, permits !== undefined ? 'lease' : (access ?? 'lock'));
      options.onQueued?.(node);
      const name = node.slice(lockPath.length + 1);
      for (;;) {
        const changed = deferred();
        // A semaphore's waiter may be let in by the departure of any node before it: it watches them all.
        const children = await untilDone(session, () =>
          permits === undefined ? session.handle.get_children(lockPath, false) : session.handle.w_get_children(lockPath, () => changed.resolve()));
        const queue = children.filter(isContender).sort(bySequence);
        const position = queue.indexOf(name);
        // Only the session's end removes our ephemeral node (nobody else deletes it).
        if (position < 0) throw new SessionGone();
        const free = permits !== undefined ? position < permits : blockerOf(queue, position, access) === undefined;
        if (free) return { type: 'ok', node, token: await this.fenceToken(session, node) };
        if (mode === 'try') return await this.abandon(session, node, ANSWER_ERRORS.held);
        if (permits === undefined) {
          const predecessor = await untilDone(session, () =>
            session.handle.w_exists(`${lockPath}/${blockerOf(queue, position, access)!}`, () => changed.resolve()));
          if (predecessor === null) continue;
        }
        const wakes = [changed.promise, ...(this.policy.watchSession ? [session.whenEnded] : [])];
        // A cancelled wait ends as a timed-out one: the node is given up.
        const stop = cancel === undefined ? raceTimeout(Promise.race(wakes), deadline - performance.now())
          : Promise.race([raceTimeout(Promise.race(wakes), deadline - performance.now()), cancel.then(() => false)]);
        if (!(await stop)) return await this.abandon(session, node, ANSWER_ERRORS.timeout);
      }
    } catch (error) {
      return answerForError(error);
    }
  }

  async release(hold: Hold): Promise<Outcome> {
    if (hold.lost) return { type: 'fail', error: ANSWER_ERRORS.lost };
    try {
      const deleted = await this.deleteOwnNode(hold.session, hold.node);
      // Our node vanished before our delete reached it: the session that owned it ended.
      return deleted === 'already gone' ? { type: 'fail', error: ANSWER_ERRORS.lost } : { type: 'ok' };
    } catch (error) {
      const code = zkErrorCode(error);
      if (error instanceof SessionGone || isSessionGone(code)) return { type: 'fail', error: ANSWER_ERRORS.lost };
      return { type: 'info', error: describeZkError(error) };
    }
  }

  /** Creates our sequential ephemeral node (`<kind>-<seq>`) under lockPath and returns its full path. */
  private async createContender(session: Session, lockPath: string, kind: NodeKind): Promise<string> {
    const prefix = this.policy.guidNames ? `${randomUUID()}-${kind}-` : `${kind}-`;
    for (;;) {
      try {
        return await session.handle.create(`${lockPath}/${prefix}`, '', ZOO_EPHEMERAL_SEQUENTIAL);
      } catch (error) {
        const code = zkErrorCode(error);
        if (code === ZkCode.noNode) {
          await ensurePath(session, lockPath);
          continue;
        }
        if (!isOutcomeUnknown(code)) throw error;
        await untilReconnected(session);
        if (!this.policy.guidNames) continue; // the blind retry of P3
        // The lost create may have failed for want of the parent: then neither it nor our node exists.
        const children = await untilDone(session, async () => {
          await session.handle.sync(lockPath);
          return session.handle.get_children(lockPath, false);
        }).catch(absentAsNoChildren);
        const ours = children.find((child) => child.startsWith(prefix));
        if (ours !== undefined) return `${lockPath}/${ours}`;
      }
    }
  }

  private async fenceToken(session: Session, node: string): Promise<number | null> {
    if (!this.policy.fenceToken) return null;
    const stat = await untilDone(session, () => session.handle.exists(node, false));
    if (stat === null) throw new SessionGone();
    return stat.czxid;
  }

  /** Gives up a contender node and answers `fail` with `error`, or `info` if the node may have stayed behind. */
  private async abandon(session: Session, node: string, error: string): Promise<Failure> {
    try {
      await this.deleteOwnNode(session, node);
    } catch (cleanupError) {
      if (!(cleanupError instanceof SessionGone || isSessionGone(zkErrorCode(cleanupError)))) {
        return { type: 'info', error: `${error}; cleanup of ${node} failed: ${describeZkError(cleanupError)}` };
      }
    }
    return { type: 'fail', error };
  }

  /**
   * Deletes a node of our session. With retryCleanup, a lost reply is retried until done or the session is gone;
   * NONODE on a retry means the earlier attempt worked. Without it, errors other than NONODE are swallowed.
   */
  private async deleteOwnNode(session: Session, node: string): Promise<'deleted' | 'already gone'> {
    for (let attempt = 0; ; attempt++) {
      try {
        await session.handle.delete_(node, -1);
        return 'deleted';
      } catch (error) {
        const code = zkErrorCode(error);
        if (code === ZkCode.noNode) return attempt === 0 ? 'already gone' : 'deleted';
        if (isSessionGone(code)) throw new SessionGone();
        if (!this.policy.retryCleanup) {
          console.error(`delete ${node}: ${describeZkError(error)} (ignored)`);
          return 'deleted';
        }
        if (!isOutcomeUnknown(code)) throw error;
        await untilReconnected(session);
      }
    }
  }
}

/** Creates every missing persistent node on the way to `path` (the lock's parent, when nobody made it yet). */
async function ensurePath(session: Session, path: string): Promise<void> {
  let prefix = '';
  for (const part of path.split('/').slice(1)) {
    prefix = `${prefix}/${part}`;
    await untilDone(session, () => session.handle.create(prefix, '', ZOO_PERSISTENT).catch((error: unknown) => {
      if (zkErrorCode(error) !== ZkCode.nodeExists) throw error;
      return prefix;
    }));
  }
}

function absentAsNoChildren(error: unknown): string[] {
  if (zkErrorCode(error) === ZkCode.noNode) return [];
  throw error;
}

/** `lock-` for the exclusive lock, `read-` and `write-` for the sides of the shared one, `lease-` for a semaphore. */
type NodeKind = 'lock' | 'lease' | LockAccess;
const isContender = (name: string): boolean => /(?:lock|read|write|lease)-\d{10}$/.test(name);
const isReader = (name: string): boolean => /read-\d{10}$/.test(name);
/** The node a lock's contender waits for: the one just before it, or for a reader the last writer before it. */
function blockerOf(queue: readonly string[], position: number, access: LockAccess | undefined): string | undefined {
  return access === 'read' ? queue.slice(0, position).filter((child) => !isReader(child)).pop() : queue[position - 1];
}
const bySequence = (a: string, b: string): number => Number(a.slice(-SEQUENCE_DIGITS)) - Number(b.slice(-SEQUENCE_DIGITS));

/** Runs an idempotent call, retrying it after every connection loss until it answers or the session is gone. */
async function untilDone<T>(session: Session, call: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const code = zkErrorCode(error);
      if (isSessionGone(code)) throw new SessionGone();
      if (!isOutcomeUnknown(code)) throw error;
      await untilReconnected(session);
    }
  }
}

async function untilReconnected(session: Session): Promise<void> {
  await sleep(RETRY_PAUSE_MS);
  if ((await session.untilConnected()) === 'gone') throw new SessionGone();
}

/** A session that ended took our node with it: the acquire definitely did not take the lock. */
function answerForError(error: unknown): Failure {
  if (error instanceof SessionGone || isSessionGone(zkErrorCode(error))) return { type: 'fail', error: ANSWER_ERRORS.sessionExpired };
  return { type: 'info', error: describeZkError(error) };
}
