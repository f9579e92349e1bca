/**
 * What clients do. Every lock workload is the same loop — pick a lock, acquire it, do something while holding,
 * release — with parameters: how to acquire (try or blocking), which side of a read/write lock (none: the
 * exclusive lock), how many may hold it (a semaphore's permits), and what to do while holding. The leader
 * workload is its election counterpart: campaign, lead for a while, resign, campaign again.
 * Every call a loop makes is recorded in the history by the runner (the ClientSession it is given).
 */
import type { AcquireMode, LockAccess } from '../ground/history.ts';
import type { Random } from '../ground/random.ts';
import { WORKER_FEATURES, type WorkerAnswer } from './protocol.ts';

/** Curator's two leader recipes, picked by the worker option `leaderRecipe` (workload leader); other workers have one. */
export const LEADER_RECIPES = ['latch', 'selector'] as const;
export type LeaderRecipe = (typeof LEADER_RECIPES)[number];

/** What guards a fenced resource: a lock's hold, or the leadership of an election. */
export type Guard = 'lock' | 'election';

/** One client as a workload sees it: each method but `untilLeading` and `leading` is one operation in the history. */
export interface ClientSession {
  readonly client: string;
  /** `access` absent: the exclusive lock. `permits`: the lock is a semaphore of that many leases. */
  acquire(lock: string, mode: AcquireMode, access?: LockAccess, permits?: number): Promise<WorkerAnswer>;
  release(lock: string, access?: LockAccess): Promise<WorkerAnswer>;
  /** Reads the fenced resource guarded by the lock or election `name`. */
  read(name: string, guard?: Guard): Promise<WorkerAnswer>;
  /** Writes `value` to the resource guarded by `name`, with the client's own fence token (hold or leadership). */
  fencedWrite(name: string, value: number, guard?: Guard): Promise<WorkerAnswer>;
  campaign(election: string): Promise<WorkerAnswer>;
  resign(election: string): Promise<WorkerAnswer>;
  /** Resolves true once the client leads `election` (its leadership event came), false after `timeoutMs` or when the run stops. */
  untilLeading(election: string, timeoutMs: number): Promise<boolean>;
  /** Whether the client believes it leads `election`: elected, and neither resigned nor told it lost the leadership. */
  leading(election: string): boolean;
  /** False once the time limit is reached, the run is interrupted or the client's worker died. */
  running(): boolean;
}

export interface WorkloadContext {
  /** The locks, semaphores or elections of the run. */
  locks: readonly string[];
  holdMs: number;
  /** How long a candidate waits to be elected before it resigns and campaigns again. */
  acquireTimeoutMs: number;
  /** The semaphores' permits (workload semaphore). */
  permits: number;
  /** This client's own stream of the run's seed: its choices never shift with other clients' timing. */
  random: Random;
  /** The WORKER_FEATURES every worker of the run announced in init_ok. */
  features: ReadonlySet<string>;
}

export interface Workload {
  name: string;
  mode: AcquireMode;
  /** Whether the runner must serve a fenced resource per lock. */
  usesResource: boolean;
  /** The WORKER_FEATURES every worker must announce; the runner refuses the run otherwise. */
  requires: readonly string[];
  run(session: ClientSession, context: WorkloadContext): Promise<void>;
}

// A zero hold skips the timer: even setTimeout(0) waits for the next turn of a busy event loop (milliseconds).
const sleep = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

type WhileHolding = (session: ClientSession, lock: string, context: WorkloadContext) => Promise<void>;

const holdBriefly: WhileHolding = (_session, _lock, context) => sleep(context.holdMs);

/**
 * Read the counter, then write value + 1 with the fence token: two holders (or leaders) at once lose an update.
 * `stillEntitled` is asked before the write: a leader told it lost the leadership does not write.
 */
async function incrementCounter(session: ClientSession, name: string, context: WorkloadContext, guard: Guard, stillEntitled = (): boolean => true): Promise<void> {
  const read = await session.read(name, guard);
  if (read.type === 'ok' && read.value !== undefined) {
    // The hold sits between read and write so that a second holder's increment can interleave.
    await sleep(context.holdMs);
    if (stillEntitled()) await session.fencedWrite(name, read.value + 1, guard);
  }
}

/** One turn: acquire, do `whileHolding`, release. */
async function holdOnce(session: ClientSession, lock: string, mode: AcquireMode, access: LockAccess | undefined, whileHolding: WhileHolding, context: WorkloadContext, permits?: number): Promise<void> {
  const acquired = await session.acquire(lock, mode, access, permits);
  if (acquired.type === 'ok') {
    await whileHolding(session, lock, context);
    await session.release(lock, access);
  } else if (acquired.type === 'info') {
    // Unknown outcome: the recipe may hold the lock without the client believing it. Releasing lets the
    // recipe clean up whatever it has; the client never counts as a holder (no hold window opens).
    await session.release(lock, access);
  }
  // fail: it definitely did not get the lock; the try-lock storm tries again at once.
}

/** `semaphore`: every lock is a semaphore of `context.permits` leases. */
function lockLoop(name: string, mode: AcquireMode, whileHolding: WhileHolding, usesResource = false, semaphore = false): Workload {
  return {
    name,
    mode,
    usesResource,
    requires: semaphore ? [WORKER_FEATURES.semaphore] : [],
    async run(session, context) {
      while (session.running()) {
        await holdOnce(session, context.random.pick(context.locks), mode, undefined, whileHolding, context, semaphore ? context.permits : undefined);
      }
    },
  };
}

/**
 * Every client is a candidate: it campaigns in a random election, waits to be elected (at most the acquire
 * timeout), leads — reads the election's counter, holds, writes value + 1 with its leadership token unless the
 * library told it meanwhile that it lost the leadership — then resigns, and campaigns again.
 */
const leaderLoop: Workload = {
  name: 'leader',
  mode: 'blocking',
  usesResource: true,
  requires: [WORKER_FEATURES.leader],
  async run(session, context) {
    while (session.running()) {
      const election = context.random.pick(context.locks);
      const campaign = await session.campaign(election);
      if (campaign.type === 'ok' && (await session.untilLeading(election, context.acquireTimeoutMs))) {
        await incrementCounter(session, election, context, 'election', () => session.leading(election));
      }
      // Also after an unknown campaign: the library may hold a candidacy the client does not know of.
      if (campaign.type !== 'fail') await session.resign(election);
    }
  },
};

/** Share of an rwlock client's turns it takes as a writer; the rest it reads. */
const WRITER_SHARE = 0.3;
/** Share of a writer's turns that end in a downgrade, with workers that announce it. */
const DOWNGRADE_SHARE = 0.5;

/**
 * Curator's lock downgrade: holding the write side, take the read side, release the write side, go on as a
 * reader. The read acquire must not wait for the client's own write hold.
 */
const downgradeToRead: WhileHolding = async (session, lock, context) => {
  await sleep(context.holdMs);
  const read = await session.acquire(lock, 'blocking', 'read');
  await session.release(lock, 'write');
  if (read.type === 'fail') return;
  if (read.type === 'ok') await sleep(context.holdMs);
  await session.release(lock, 'read');
};

/** Readers and writers on shared locks, blocking with the timeout; writers downgrade when the workers can. */
const readWriteLoop: Workload = {
  name: 'rwlock',
  mode: 'blocking',
  usesResource: false,
  requires: [WORKER_FEATURES.readWrite],
  async run(session, context) {
    const downgrades = context.features.has(WORKER_FEATURES.downgrade);
    while (session.running()) {
      const lock = context.random.pick(context.locks);
      if (!context.random.chance(WRITER_SHARE)) {
        await holdOnce(session, lock, 'blocking', 'read', holdBriefly, context);
      } else if (downgrades && context.random.chance(DOWNGRADE_SHARE)) {
        // The write hold is released inside: the read hold must be taken before it.
        const acquired = await session.acquire(lock, 'blocking', 'write');
        if (acquired.type === 'ok') await downgradeToRead(session, lock, context);
        else if (acquired.type === 'info') await session.release(lock, 'write');
      } else {
        await holdOnce(session, lock, 'blocking', 'write', holdBriefly, context);
      }
    }
  },
};

/** Every workload by the name `--workload` gives it: the one list the CLI, compare and the docs read. */
export const WORKLOADS = {
  // The kazoo #732 loop: many clients try random locks without blocking, hold briefly, release.
  'try-lock': lockLoop('try-lock', 'try', holdBriefly),
  mutex: lockLoop('mutex', 'blocking', holdBriefly),
  'fenced-counter': lockLoop('fenced-counter', 'blocking', (session, lock, context) => incrementCounter(session, lock, context, 'lock'), true),
  rwlock: readWriteLoop,
  semaphore: lockLoop('semaphore', 'blocking', holdBriefly, false, true),
  leader: leaderLoop,
} as const satisfies Record<string, Workload>;

export type WorkloadName = keyof typeof WORKLOADS;
export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];
