/**
 * What clients do. Every workload is the same loop — pick a lock, acquire it, do something while holding,
 * release — with parameters: how to acquire (try or blocking), which side of a read/write lock (none: the
 * exclusive lock), and what to do while holding.
 * Every call a loop makes is recorded in the history by the runner (the ClientSession it is given).
 */
import type { AcquireMode, LockAccess } from '../ground/history.ts';
import type { Random } from '../ground/random.ts';
import { WORKER_FEATURES, type WorkerAnswer } from './protocol.ts';

/** One client as a workload sees it: each method is one operation in the history. */
export interface ClientSession {
  readonly client: string;
  /** `access` absent: the exclusive lock. */
  acquire(lock: string, mode: AcquireMode, access?: LockAccess): Promise<WorkerAnswer>;
  release(lock: string, access?: LockAccess): Promise<WorkerAnswer>;
  /** Reads the fenced resource guarded by `lock`. */
  read(lock: string): Promise<WorkerAnswer>;
  /** Writes `value` to the resource guarded by `lock`, with the client's own fence token. */
  fencedWrite(lock: string, value: number): Promise<WorkerAnswer>;
  /** False once the time limit is reached, the run is interrupted or the client's worker died. */
  running(): boolean;
}

export interface WorkloadContext {
  locks: readonly string[];
  holdMs: number;
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

/** Read the counter, then write value + 1 with the fence token: two holders at once lose an update. */
const incrementCounter: WhileHolding = async (session, lock, context) => {
  const read = await session.read(lock);
  if (read.type === 'ok' && read.value !== undefined) {
    // The hold sits between read and write so that a second holder's increment can interleave.
    await sleep(context.holdMs);
    await session.fencedWrite(lock, read.value + 1);
  }
};

/** One turn: acquire, do `whileHolding`, release. */
async function holdOnce(session: ClientSession, lock: string, mode: AcquireMode, access: LockAccess | undefined, whileHolding: WhileHolding, context: WorkloadContext): Promise<void> {
  const acquired = await session.acquire(lock, mode, access);
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

function lockLoop(name: string, mode: AcquireMode, whileHolding: WhileHolding, usesResource = false): Workload {
  return {
    name,
    mode,
    usesResource,
    requires: [],
    async run(session, context) {
      while (session.running()) await holdOnce(session, context.random.pick(context.locks), mode, undefined, whileHolding, context);
    },
  };
}

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
  'fenced-counter': lockLoop('fenced-counter', 'blocking', incrementCounter, true),
  rwlock: readWriteLoop,
} as const satisfies Record<string, Workload>;

export type WorkloadName = keyof typeof WORKLOADS;
export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];
