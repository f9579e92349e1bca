/**
 * The leader and semaphore workloads end to end, and ZooKeeper's own lock recipe: real runs of the CLI (the local
 * backend, the fault proxy, real workers). Without faults a correct recipe is valid, or, where a library is wrong
 * without any fault (ZooKeeper's election), tests/integration/recipe-findings.test.ts pins it step by step; a
 * leader frozen past its session (pause-holder) shows a double leader whatever the recipe; a correct semaphore
 * never lets more than its permits in, with or without server faults.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryLine } from '../../ground/history.ts';
import { anomalyTypes, itRecordsACompleteRun, refusedRun, summary, useJepsenRun } from './harness.ts';

const SEED = 3;
// Java workers are JVMs: on two shared cores starting them can take tens of seconds.
const RUN_BOUND_MS = 180_000;
const COMMON = ['--backend', 'local', '--seed', String(SEED), '--clients', '4', '--workers', '2'];
/** Without faults a few seconds show the workload; faults need time to bite. */
const SHORT = [...COMMON, '--time-limit', '5'];
const FAULTED = [...COMMON, '--time-limit', '8'];

/**
 * One recipe of each kind of worker per run shape: the conformance suite (tests/integration/conformance.test.ts)
 * holds every recipe and version to the protocol's election and semaphore cases; these runs show the workloads,
 * the nemesis and the checks over the whole CLI.
 */
const LEADER_RECIPES: [recipe: string, leaderRecipe: string][] = [['node-safe', 'latch'], ['kazoo@2.11.0', 'latch'], ['curator@5.7.1', 'selector']];
/** A frozen leader outlives its session whatever the recipe: Python, Java and ZooKeeper's own election. */
const PAUSED_LEADER_RECIPES: [recipe: string, leaderRecipe: string][] = [['kazoo@2.8.0', 'latch'], ['curator@5.4.0', 'latch'], ['zk-recipes@3.8.0', 'latch']];
const SEMAPHORE_RECIPES = ['kazoo@2.11.0', 'curator@5.4.0'];

/** Leaders one after another per election: how many leadership events opened a window. */
function leaderships(lines: readonly HistoryLine[]): number {
  return lines.filter((line) => line.kind === 'worker' && line.event === 'leadership' && line.leading === true).length;
}

/** The most clients that believed they held a lease of one semaphore at once. */
function peakLeases(lines: readonly HistoryLine[]): number {
  const holding = new Map<string, Set<string>>();
  const acquires = new Set<number>();
  let peak = 0;
  for (const line of lines) {
    if (line.kind !== 'op' || line.lock === undefined) continue;
    const holders = holding.get(line.lock) ?? new Set<string>();
    holding.set(line.lock, holders);
    if (line.f === 'acquire' && line.type === 'invoke') acquires.add(line.id);
    if (line.f === 'acquire' && line.type === 'ok' && acquires.has(line.id)) holders.add(line.client);
    if (line.f === 'release' && line.type === 'invoke') holders.delete(line.client);
    peak = Math.max(peak, holders.size);
  }
  return peak;
}

// zk-recipes@3.8.0 is not among them: its election goes without a leader with no fault at all (a candidate's failed
// determination), which tests/integration/recipe-findings.test.ts pins step by step.
describe.each(LEADER_RECIPES)('%s (leader recipe %s), leader, no faults', (recipe, leaderRecipe) => {
  const run = useJepsenRun([...SHORT, '--recipe', recipe, '--leader-recipe', leaderRecipe, '--workload', 'leader', '--locks', '2'], RUN_BOUND_MS);

  it('elects leaders in turn, each writing the election\'s counter with its token, and is valid', () => {
    const { results, history, outcome } = run();
    expect(outcome.code, summary(run())).toBe(0);
    expect(results.checkers.leader.windows).toBeGreaterThan(4);
    expect(leaderships(history.lines)).toBeGreaterThanOrEqual(results.checkers.leader.windows);
    const acknowledged = Object.values(results.checkers.fencing.resources).reduce((sum, resource) => sum + resource.acknowledged, 0);
    expect(acknowledged).toBeGreaterThan(4);
    expect(anomalyTypes(results)).toEqual([]);
  });

  itRecordsACompleteRun(run, SEED);
});

describe.each(PAUSED_LEADER_RECIPES)('%s (leader recipe %s), leader, pause-holder', (recipe, leaderRecipe) => {
  const run = useJepsenRun([
    ...FAULTED, '--recipe', recipe, '--leader-recipe', leaderRecipe, '--workload', 'leader', '--nemesis', 'pause-holder', '--nemesis-interval', '1',
    '--locks', '1', '--hold', '1000', '--session-timeout', '1000', '--fencing', 'off',
  ], RUN_BOUND_MS);

  it('finds a double leader: the frozen leader outlives its session while another is elected', () => {
    const { results, outcome } = run();
    expect(results.stats.faults.map((fault) => fault.f)).toContain('pause-holder');
    const found = results.checkers.leader.anomalies.filter((anomaly) => anomaly.type === 'double-leader');
    expect(found.length, summary(run())).toBeGreaterThan(0);
    const [first] = found;
    if (first?.type !== 'double-leader') return;
    expect(first.windows[0].client).not.toBe(first.windows[1].client);
    expect(first.windows[0].session).not.toBe(first.windows[1].session);
    expect(results.checkers.leader.valid).toBe(false);
    expect(outcome.code).toBe(1);
  });
});

describe.each(SEMAPHORE_RECIPES)('%s, semaphore of 2 permits', (recipe) => {
  const run = useJepsenRun([...SHORT, '--recipe', recipe, '--workload', 'semaphore', '--permits', '2', '--locks', '1', '--hold', '100'], RUN_BOUND_MS);

  it('lets two clients hold at once and never three, and is valid', () => {
    const { results, history, outcome } = run();
    expect(outcome.code, summary(run())).toBe(0);
    expect(peakLeases(history.lines)).toBe(2);
    expect(results.checkers.semaphore.windows).toBeGreaterThan(10);
    expect(anomalyTypes(results)).toEqual([]);
  });

  itRecordsACompleteRun(run, SEED);
});

describe('curator@5.7.1, semaphore of 2 permits, servers killed and paused', () => {
  const run = useJepsenRun([
    ...FAULTED, '--recipe', 'curator@5.7.1', '--workload', 'semaphore', '--permits', '2', '--locks', '1', '--nemesis', 'kill,pause', '--nemesis-interval', '2',
  ], RUN_BOUND_MS);

  it('never lets more than two hold', () => {
    const { results } = run();
    expect(results.stats.faults.length).toBeGreaterThan(0);
    expect(anomalyTypes(results), summary(run())).not.toContain('over-permits');
    expect(results.checkers.semaphore.valid).toBe(true);
  });
});

// A blocking WriteLock loses its wakeup when its predecessor goes just as it queues (pinned step by step in
// tests/integration/recipe-findings.test.ts): with no fault, that stuck acquire is all this run may show.
describe('zk-recipes@3.8.0 (ZooKeeper\'s WriteLock), fenced-counter, no faults', () => {
  const run = useJepsenRun([...SHORT, '--recipe', 'zk-recipes@3.8.0', '--workload', 'fenced-counter', '--locks', '2'], RUN_BOUND_MS);

  it('excludes, leaks nothing and loses no update; at most acquires wait while the lock is free (the lost wakeup)', () => {
    const { results } = run();
    expect(results.checkers.mutex.windows).toBeGreaterThan(10);
    for (const check of ['mutex', 'leaks', 'fencing'] as const) expect(results.checkers[check].valid, summary(run())).toBe(true);
    expect(results.checkers.liveness.anomalies.map((anomaly) => anomaly.cause).filter((cause) => cause !== 'waited-while-free'), summary(run())).toEqual([]);
  });
});

// The same refusal for a worker that lacks a feature altogether is in rwlock.test.ts.
it('a recipe without a semaphore is refused with one line: ZooKeeper\'s recipes have none', async () => {
  const outcome = await refusedRun([...SHORT, '--recipe', 'zk-recipes@3.8.0', '--workload', 'semaphore'], RUN_BOUND_MS);
  expect(outcome.code).toBe(254);
  expect(outcome.stderr).toMatch(/--workload semaphore needs workers that announce 'semaphore' in init_ok; zk-recipes@3\.8\.0 does not/);
  expect(outcome.stderr).not.toMatch(/\n\s+at /);
}, RUN_BOUND_MS);
