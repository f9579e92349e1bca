/**
 * What clients do. Every workload is the same loop — pick a lock, acquire it, do something while holding,
 * release — with two parameters: how to acquire (try or blocking) and what to do while holding.
 * Every call a loop makes is recorded in the history by the runner (the ClientSession it is given).
 */
import type { AcquireMode } from '../src/history.ts';
import type { Random } from '../src/random.ts';
import type { WorkloadName } from '../src/config.ts';
import type { WorkerAnswer } from './protocol.ts';

/** One client as a workload sees it: each method is one operation in the history. */
export interface ClientSession {
  readonly client: string;
  acquire(lock: string, mode: AcquireMode): Promise<WorkerAnswer>;
  release(lock: string): Promise<WorkerAnswer>;
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
  random: Random;
}

export interface Workload {
  name: WorkloadName;
  mode: AcquireMode;
  /** Whether the runner must serve a fenced resource per lock. */
  usesResource: boolean;
  run(session: ClientSession, context: WorkloadContext): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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

function lockLoop(name: WorkloadName, mode: AcquireMode, whileHolding: WhileHolding, usesResource = false): Workload {
  return {
    name,
    mode,
    usesResource,
    async run(session, context) {
      while (session.running()) {
        const lock = context.random.pick(context.locks);
        const acquired = await session.acquire(lock, mode);
        if (acquired.type === 'ok') {
          await whileHolding(session, lock, context);
          await session.release(lock);
        } else if (acquired.type === 'info') {
          // Unknown outcome: the recipe may hold the lock without the client believing it. Releasing lets the
          // recipe clean up whatever it has; the client never counts as a holder (no hold window opens).
          await session.release(lock);
        }
        // fail: it definitely did not get the lock; the try-lock storm tries again at once.
      }
    },
  };
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  // The kazoo #732 loop: many clients try random locks without blocking, hold briefly, release.
  'try-lock': lockLoop('try-lock', 'try', holdBriefly),
  mutex: lockLoop('mutex', 'blocking', holdBriefly),
  'fenced-counter': lockLoop('fenced-counter', 'blocking', incrementCounter, true),
};
