/**
 * End to end: locks are not mutexes (P2). A holder frozen past its session timeout wakes up still
 * believing it holds while another client has taken the lock: every recipe, safe or not, shows a double holder.
 * One lock, holds of a second and sessions of one: a holder exists whenever the nemesis looks for one, and its
 * session expires well within the pause (twice the session timeout plus half a second).
 */
import { describe, expect, it } from 'vitest';
import { anomalyTypes, itRecordsACompleteRun, summary, useJepsenRun } from './harness.ts';

const SEED = 1;
/** A recipe of each kind of worker (kazoo and curator: Debian bookworm's versions); the safe Node recipe stands for both of its. */
const RECIPES = ['node-safe', 'kazoo', 'curator'];
// Curator's workers are JVMs: on two shared cores starting them can take tens of seconds.
const RUN_BOUND_MS = 180_000;

describe.each(RECIPES)('%s, mutex, pause-holder', (recipe) => {
  const run = useJepsenRun([
    '--backend', 'local', '--seed', String(SEED), '--recipe', recipe, '--workload', 'mutex', '--nemesis', 'pause-holder',
    '--nemesis-interval', '1', '--time-limit', '8', '--clients', '4', '--workers', '2', '--locks', '1', '--hold', '1000',
    '--session-timeout', '1000',
  ], RUN_BOUND_MS);

  it('finds a double holder while the paused holder sleeps through its session, and exits 1', () => {
    const { results, outcome } = run();
    expect(results.stats.faults.map((fault) => fault.f)).toContain('pause-holder');
    expect(anomalyTypes(results), summary(run())).toContain('double-holder');
    const [first] = results.checkers.mutex.anomalies;
    // Two different clients in two different sessions, both believing they held L1 at once.
    expect(first!.windows[0].client).not.toBe(first!.windows[1].client);
    expect(first!.windows[0].session).not.toBe(first!.windows[1].session);
    expect(first!.overlap.end).toBeGreaterThan(first!.overlap.start);
    expect(results.checkers.mutex.valid).toBe(false);
    expect(outcome.code).toBe(1);
  });

  itRecordsACompleteRun(run, SEED);
});
