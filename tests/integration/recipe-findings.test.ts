/**
 * What ZooKeeper's own recipes (zk-recipes@3.8.0: Debian bookworm's zookeeper-recipes-election and -lock) do
 * without any fault, pinned step by step against a real ensemble (workloads/findings/RecipeFindings.java drives the
 * recipes themselves, on the recipe's own classpath):
 * - LeaderElectionSupport determines a candidate's place by listing the offers and then reading each one's data; an
 *   offer withdrawn in between makes the read fail (NoNode), the candidate goes FAILED and stops: it neither leads
 *   nor watches anything, though its offer stays in the queue, at its head once those before it are gone. Nobody
 *   leads until it withdraws: the `leader` workload's `no-leader` on zk-recipes@3.8.0, with no fault.
 * - WriteLock loses its wakeup when its predecessor goes between the recipe's listing of the queue and its exists()
 *   watch on it: exists() answers null, the recipe logs "Could not find the stats for less than me" and returns
 *   without a watch. When the holder releases, the contender never learns it: nobody holds the lock, the contender
 *   waits for nothing at the head of the queue, and everyone behind it waits too (the `mutex` workload's
 *   `stuck-acquire` on zk-recipes@3.8.0, with no fault). The race is a round trip wide: the program tries again
 *   until the servers (4lw `wchp`) show that nobody watches the holder's node.
 * - A contender waiting behind a holder that gives up with unlock(), as the recipe documents ("removes your
 *   request in the queue"), is not out of the queue for good: the watch lock() set on the holder's node outlives
 *   unlock(), and when the holder releases it runs lock() again, which queues a new node and takes the lock for an
 *   attempt nobody waits for. The lock is then held by nobody who will release it, until that session ends.
 * - close() after unlock() ends the WriteLock, and the late watch finds it closed: no node is left. The Java
 *   worker gives every attempt up that way, so the runs measure the recipe, not this trap.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Testbed } from '../../testbed/testbed.ts';
import { RECIPES } from '../../workloads/recipes.ts';

const execFileAsync = promisify(execFile);
const program = fileURLToPath(new URL('../../workloads/findings/RecipeFindings.java', import.meta.url));

let testbed: Testbed | undefined;

beforeAll(async () => {
  const runDir = await mkdtemp(join(tmpdir(), 'zkj-recipe-findings-'));
  testbed = await Testbed.start({ cluster: { runDir }, afterTeardown: () => rm(runDir, { recursive: true, force: true }) });
});

afterAll(async () => {
  await testbed?.teardown();
});

/** Runs one finding of the program against the ensemble; its facts, by their words before the colon. */
async function facts(finding: 'ghost' | 'ghost-close' | 'lost-wakeup' | 'election', path: string): Promise<Record<string, string>> {
  const { command } = RECIPES['zk-recipes@3.8.0'].launch();
  const classpath = command[command.indexOf('-cp') + 1]!;
  const { stdout } = await execFileAsync('java', ['-cp', classpath, program, testbed!.cluster.connectString(), path, finding], { timeout: 120_000 });
  return Object.fromEntries(stdout.trim().split('\n').map((line) => line.split(': ') as [string, string]));
}

const writeLockGiveUp = (how: 'unlock' | 'unlock-close', lock: string) => facts(how === 'unlock' ? 'ghost' : 'ghost-close', `/findings/${lock}`);

describe('zk-recipes@3.8.0: a LeaderElectionSupport candidate whose predecessor resigns while other offers go', () => {
  it('fails its determination (an offer vanished between the listing and its read) and never leads, its offer at the head', async () => {
    const found = await facts('election', '/findings/election');
    expect(found['candidate ready behind the leader']).toBe('true');
    expect(found['candidate failed']).toBe('true');
    expect(found['candidate elected']).toBe('false');
    expect(found['offers left']).toBe('1');
    expect(found['the candidate\'s offer is the lowest']).toBe('true');
  });
});

describe('zk-recipes@3.8.0: a WriteLock contender whose predecessor goes just as it queues', () => {
  it('sets no watch, and stays at the head of the queue, waiting for nothing, once the holder released', async () => {
    const found = await facts('lost-wakeup', '/findings/wakeup');
    expect(found['holder locks']).toBe('true');
    expect(Number(found['attempts until the predecessor went inside the window'])).toBeGreaterThan(0);
    expect(found['the contender watches the holder\'s node']).toBe('false');
    expect(found['contender acquired after the holder released']).toBe('false');
    expect(found['nodes left']).toBe('1');
    expect(found['the contender\'s node is the lowest']).toBe('true');
  });
});

describe('zk-recipes@3.8.0: a WriteLock contender that gives up behind a holder', () => {
  it('with unlock() alone takes the lock later, for an attempt nobody waits for (its watch runs lock() again)', async () => {
    const facts = await writeLockGiveUp('unlock', 'ghost');
    expect(facts['holder locks']).toBe('true');
    expect(facts['giver locks']).toBe('false');
    expect(facts['nodes after the giver gave up']).toBe('1');
    expect(facts['giver acquired after the holder released']).toBe('true');
    expect(facts['nodes of the giver\'s session left']).toBe('1');
  });

  it('with unlock() then close() stays out: no node of its session is left', async () => {
    const facts = await writeLockGiveUp('unlock-close', 'closed');
    expect(facts['giver locks']).toBe('false');
    expect(facts['nodes after the giver gave up']).toBe('1');
    expect(facts['giver acquired after the holder released']).toBe('false');
    expect(facts['nodes of the giver\'s session left']).toBe('0');
  });
});
