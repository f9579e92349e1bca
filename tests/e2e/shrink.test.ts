/**
 * `npm run jepsen -- shrink`: node-naive on mutex under lost-reply deadlocks behind its own orphan (P3); the shrink
 * replays smaller runs (fewer faults, then fewer clients) and ends with a smaller reproducer that is still invalid
 * with stuck-acquire, printed as one command, listed in shrink.json, its report naming the original.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anomalyTypes, exitWithin, spawnScript, summary, tail, useJepsenRun } from './harness.ts';

const RUN_BOUND_MS = 180_000;
const BUDGET = 4;

interface ShrinkFile {
  version: number;
  anomaly: string;
  original: { run: string; faults: number; clients: number };
  attempts: { attempt: number; removed: string; reproduced: boolean; verdict: string; anomalies: Record<string, number>; run: string | null }[];
  smallest: { run: string; command: string; faults: number; clients: number; locks: number; timeLimitS: number } | null;
}

describe('shrink of node-naive, mutex, lost-reply', () => {
  const original = useJepsenRun([
    '--backend', 'local', '--seed', '3', '--recipe', 'node-naive', '--workload', 'mutex', '--nemesis', 'lost-reply',
    '--time-limit', '10', '--nemesis-interval', '2', '--clients', '8', '--workers', '4', '--locks', '2', '--snapshot-interval', '0',
  ], RUN_BOUND_MS);

  it('ends with fewer faults and clients, still invalid with stuck-acquire', async () => {
    expect(anomalyTypes(original().results), summary(original())).toContain('stuck-acquire');
    const cli = spawnScript('src/cli.ts', ['shrink', original().runDir, '--budget', String(BUDGET), '--anomaly', 'stuck-acquire']);
    const outcome = await exitWithin(cli, BUDGET * RUN_BOUND_MS);
    expect(outcome.code, tail(outcome.stderr)).toBe(0);
    const attemptLines = outcome.stdout.split('\n').filter((line) => new RegExp(`^\\[\\d+/${BUDGET}\\] without `).test(line));
    expect(attemptLines.length).toBeGreaterThan(0);
    expect(attemptLines.length).toBeLessThanOrEqual(BUDGET);

    const dir = /→ (\S+shrink-\S+)$/m.exec(outcome.stdout)![1]!;
    const file = JSON.parse(await readFile(join(dir, 'shrink.json'), 'utf8')) as ShrinkFile;
    expect(file).toMatchObject({ version: 1, anomaly: 'stuck-acquire', original: { run: original().runDir, clients: 8 } });
    expect(file.attempts).toHaveLength(attemptLines.length);
    const smallest = file.smallest!;
    expect(smallest.faults).toBeLessThan(file.original.faults);
    expect(smallest.clients).toBeLessThan(8);
    expect(outcome.stdout.trim().split('\n').at(-1)).toBe(smallest.command);
    expect(smallest.command).toBe(`npm run jepsen -- replay ${smallest.run}`);

    const kept = file.attempts.find((attempt) => attempt.run === smallest.run)!;
    expect(kept).toMatchObject({ reproduced: true, verdict: 'invalid' });
    expect(kept.anomalies['stuck-acquire']).toBeGreaterThan(0);
    const results = JSON.parse(await readFile(join(smallest.run, 'results.json'), 'utf8')) as { valid: unknown };
    expect(results.valid).toBe(false);
    const config = JSON.parse(await readFile(join(smallest.run, 'config.json'), 'utf8')) as { origin: { kind: string; run: string }; clients: number };
    expect(config.origin).toMatchObject({ kind: 'shrink', run: original().runDir });
    expect(config.clients).toBe(smallest.clients);
    const report = await readFile(join(smallest.run, 'report.html'), 'utf8');
    expect(report).toContain('A shrunk reproduction of');
    expect(report).toContain(`${original().config.runId}/report.html`);
    console.log(`shrink test: ${file.original.faults} faults, 8 clients → ${smallest.faults} faults, ${smallest.clients} clients in ${file.attempts.length} runs`);
  }, BUDGET * RUN_BOUND_MS);
});
