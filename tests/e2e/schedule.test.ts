/**
 * A seed reproduces the fault schedule: two runs with the same --seed and --nemesis kill,partition hit the same
 * kinds and targets at the same offsets (within 100 ms), whatever the timing of the answers, and each carries out
 * exactly the schedule.json it wrote. `npm run jepsen -- replay <run>` carries out the recorded schedule again:
 * same kinds, targets and offsets, its config and report naming the original.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FaultPlan } from '../../nemesis/types.ts';
import { exitWithin, itRecordsACompleteRun, linesOf, parseHistory, spawnScript, tail, useJepsenRun, type JepsenRun } from './harness.ts';

const SEED = 20261201;
const RUN_BOUND_MS = 180_000;
const OFFSET_TOLERANCE_MS = 100;
const ARGS = [
  '--backend', 'local', '--seed', String(SEED), '--recipe', 'node-safe', '--workload', 'mutex', '--nemesis', 'kill,partition',
  '--time-limit', '12', '--nemesis-interval', '2', '--clients', '4', '--workers', '2', '--snapshot-interval', '0',
];

/** The faults as the history records them: kind, planned target, planned offset, and when the nemesis acted. */
function faultsOf(run: JepsenRun): { f: string; target: unknown; atMs: number; offsetMs: number }[] {
  return linesOf(run.history, 'nemesis').filter((line) => line.type === 'start').map((line) => ({
    f: line.f, target: line.plan?.target, atMs: line.plan!.atMs, offsetMs: line.plan!.offsetMs!,
  }));
}

async function scheduleOf(run: JepsenRun): Promise<FaultPlan[]> {
  return (JSON.parse(await readFile(join(run.runDir, 'schedule.json'), 'utf8')) as { faults: FaultPlan[] }).faults;
}

// The first run serves both: the second run of its seed is set beside it, and the replay carries it out again.
const first = useJepsenRun(ARGS, RUN_BOUND_MS);

describe('two runs of one seed, kill and partition', () => {
  const second = useJepsenRun(ARGS, RUN_BOUND_MS);

  it('plan the same schedule and carry it out: same kinds, same targets, offsets within 100 ms', async () => {
    const planned = await scheduleOf(first());
    expect(planned.length).toBeGreaterThanOrEqual(3);
    expect(new Set(planned.map((plan) => plan.nemesis))).toEqual(new Set(['kill', 'partition']));
    expect(await scheduleOf(second())).toEqual(planned);

    const [a, b] = [faultsOf(first()), faultsOf(second())];
    // Every planned fault hit something (kill and partition always find a server).
    expect(a.map(({ f, target, atMs }) => ({ nemesis: f, target, atMs }))).toEqual(planned.map(({ nemesis, target, atMs }) => ({ nemesis, target, atMs })));
    expect(b.map(({ f, target }) => ({ f, target }))).toEqual(a.map(({ f, target }) => ({ f, target })));
    for (const [index, fault] of a.entries()) {
      expect(Math.abs(fault.offsetMs - fault.atMs), `run 1 fault ${index} late`).toBeLessThan(OFFSET_TOLERANCE_MS);
      expect(Math.abs(fault.offsetMs - b[index]!.offsetMs), `fault ${index} offsets differ`).toBeLessThan(OFFSET_TOLERANCE_MS);
    }
  });

  itRecordsACompleteRun(first, SEED);
});

describe('replay of a recorded run', () => {

  it('carries out the original schedule: same kinds, targets and offsets within 100 ms; prints both outcomes', async () => {
    const cli = spawnScript('src/cli.ts', ['replay', first().runDir]);
    const outcome = await exitWithin(cli, RUN_BOUND_MS);
    expect([0, 1], tail(outcome.stderr)).toContain(outcome.code);
    const replayDir = /^replay {4}(\S+): (VALID|INVALID|UNKNOWN)/m.exec(outcome.stdout)?.[1];
    expect(outcome.stdout).toMatch(new RegExp(`^original  ${first().runDir}: (VALID|INVALID)`, 'm'));
    expect(replayDir, outcome.stdout).toBeDefined();

    const config = JSON.parse(await readFile(join(replayDir!, 'config.json'), 'utf8')) as { origin: unknown; seed: number };
    expect(config.origin).toEqual({ kind: 'replay', run: first().runDir });
    const scheduleIn = async (dir: string): Promise<unknown> => JSON.parse(await readFile(join(dir, 'schedule.json'), 'utf8'));
    expect(await scheduleIn(replayDir!)).toEqual(await scheduleIn(first().runDir));
    const replayed = faultsOf({ ...first(), history: await parseHistory(join(replayDir!, 'history.jsonl')) });
    const recorded = faultsOf(first());
    expect(replayed.map(({ f, target, atMs }) => ({ f, target, atMs }))).toEqual(recorded.map(({ f, target, atMs }) => ({ f, target, atMs })));
    for (const [index, fault] of replayed.entries()) {
      expect(Math.abs(fault.offsetMs - recorded[index]!.offsetMs), `fault ${index} offsets differ`).toBeLessThan(OFFSET_TOLERANCE_MS);
    }
    const report = await readFile(join(replayDir!, 'report.html'), 'utf8');
    expect(report).toContain('A replay of');
    expect(report).toContain(`href="../${first().config.runId}/report.html"`);
  }, RUN_BOUND_MS + 30_000);
});
