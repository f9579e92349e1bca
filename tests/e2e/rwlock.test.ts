/**
 * The rwlock workload end to end: real runs of the CLI (an ensemble on the local backend, the fault proxy, real
 * workers), checked by the checker as a user would run them. One run per describe, shared by its tests.
 */
import { describe, expect, it } from 'vitest';
import type { DoubleHolderAnomaly, Results } from '../../checker/types.ts';
import type { OpLine } from '../../ground/history.ts';
import { FEATURELESS_WORKER, itRecordsACompleteRun, linesOf, refusedRun, summary, useJepsenRun, type JepsenRun } from './harness.ts';

const SEED = 7;
const RUN_BOUND_MS = 150_000;
const RWLOCK = ['--workload', 'rwlock', '--backend', 'local', '--seed', String(SEED)];

interface Window {
  client: string;
  lock: string;
  access: string | undefined;
  start: number;
  end: number;
}

/** [acquire ok, release invoked] per client, lock and side: what the test needs to see that the workload did its job. */
function holdWindows(ops: readonly OpLine[]): Window[] {
  const acquires = new Set<number>();
  const open = new Map<string, Window>();
  const windows: Window[] = [];
  for (const op of ops) {
    const key = `${op.client} ${op.lock} ${op.access}`;
    if (op.type === 'invoke' && op.f === 'acquire') acquires.add(op.id);
    if (op.type === 'invoke' && op.f === 'release') {
      const window = open.get(key);
      if (window !== undefined) window.end = op.time;
      open.delete(key);
    }
    if (op.type === 'ok' && acquires.has(op.id)) {
      const window = { client: op.client, lock: op.lock!, access: op.access, start: op.time, end: Infinity };
      windows.push(window);
      open.set(key, window);
    }
  }
  return windows;
}

const overlap = (a: Window, b: Window): boolean => a.lock === b.lock && a.start < b.end && b.start < a.end;

const writerDoubleHolders = (results: Results): DoubleHolderAnomaly[] =>
  results.checkers.mutex.anomalies.filter((anomaly) => anomaly.windows.some((window) => window.access === 'write'));

const windowsOf = (run: JepsenRun): Window[] => holdWindows(linesOf(run.history, 'op'));

describe('node-safe, rwlock, no faults', () => {
  const run = useJepsenRun([...RWLOCK, '--recipe', 'node-safe', '--time-limit', '8'], RUN_BOUND_MS);

  it('readers share locks, writers exclude them, the run is valid', () => {
    expect(run().outcome.code, summary(run())).toBe(0);
    const windows = windowsOf(run());
    const reads = windows.filter((window) => window.access === 'read');
    const writes = windows.filter((window) => window.access === 'write');
    expect(writes.length).toBeGreaterThan(10);
    expect(reads.some((a) => reads.some((b) => a.client !== b.client && overlap(a, b))), 'two readers held one lock at once').toBe(true);
    expect(run().results.checkers.mutex.anomalies).toEqual([]);
  });

  itRecordsACompleteRun(run, SEED);
});

describe('curator@5.7.1, rwlock, no faults', () => {
  const run = useJepsenRun([...RWLOCK, '--recipe', 'curator@5.7.1', '--time-limit', '8'], RUN_BOUND_MS);

  it('writers downgrade (write, read, release write) and the run is valid', () => {
    expect(run().outcome.code, summary(run())).toBe(0);
    const windows = windowsOf(run());
    const downgrades = windows.filter((read) => read.access === 'read' &&
      windows.some((write) => write.access === 'write' && write.client === read.client && overlap(write, read)));
    expect(downgrades.length).toBeGreaterThan(5);
  });
});

describe('curator@5.4.0, rwlock, no faults (CURATOR-621)', () => {
  const run = useJepsenRun([...RWLOCK, '--recipe', 'curator@5.4.0', '--time-limit', '12', '--locks', '2'], RUN_BOUND_MS);

  it('a writer queued behind a downgrade gets in while the downgraded reader reads', () => {
    expect(run().outcome.code, summary(run())).toBe(1);
    const found = writerDoubleHolders(run().results);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((anomaly) => anomaly.windows.some((window) => window.access === 'read')), 'a writer beside a reader').toBe(true);
  });
});

describe('node-safe, rwlock, pause-holder', () => {
  const run = useJepsenRun([
    ...RWLOCK, '--recipe', 'node-safe', '--time-limit', '10', '--nemesis', 'pause-holder', '--nemesis-interval', '2', '--hold', '1000', '--locks', '1',
  ], RUN_BOUND_MS);

  it('a paused holder outlives its session and a writer overlaps it', () => {
    expect(run().outcome.code, summary(run())).toBe(1);
    expect(writerDoubleHolders(run().results).length).toBeGreaterThan(0);
  });
});

it('a worker that does not announce read-write is refused with one line', async () => {
  const outcome = await refusedRun(['--worker', FEATURELESS_WORKER, '--workload', 'rwlock', '--backend', 'local', '--time-limit', '5', '--clients', '2', '--workers', '1'], RUN_BOUND_MS);
  expect(outcome.code).toBe(254);
  expect(outcome.stderr).toMatch(/--workload rwlock needs workers that announce 'read-write' in init_ok/);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}, RUN_BOUND_MS);
