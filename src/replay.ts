/**
 * `npm run jepsen -- replay <run-dir>`: a fresh run with the recorded config, in which the nemesis carries out the
 * recorded schedule (schedule.json: kinds, targets, offsets, durations) instead of drawing one. It prints the
 * original's and the replay's anomaly types side by side and exits as a run does. The replay's config.json says what
 * it replays (`origin`), and its report links the original.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Results } from '../checker/types.ts';
import { UserError } from '../ground/errors.ts';
import type { FaultPlan } from '../nemesis/types.ts';
import type { RunConfig } from './config.ts';

/** schedule.json, version 1: the faults a run planned, in order (docs/history-format.md, "schedule.json"). */
const ScheduleFile = z.object({
  version: z.literal(1),
  faults: z.array(z.object({
    nemesis: z.string(),
    atMs: z.number().nonnegative(),
    durationMs: z.number().nonnegative(),
    target: z.record(z.string(), z.unknown()),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  })),
});

/** A recorded run, as replay and shrink read it. */
export interface RecordedRun {
  dir: string;
  config: RunConfig & { runId?: string };
  schedule: FaultPlan[];
  /** Its results.json, when it was checked. */
  results: Results | undefined;
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UserError(`${what}: ${path} cannot be read (${error instanceof Error ? error.message : String(error)}).`);
  }
}

/** Reads a run directory for replay: it must hold a history, its config.json and its schedule.json. */
export function readRecordedRun(path: string, command: 'replay' | 'shrink'): RecordedRun {
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new UserError(`${command}: no run directory at ${path}.`);
  // results/latest is a link that the replay itself moves: hold on to the run it names now.
  const dir = realpathSync(path);
  if (!existsSync(join(dir, 'history.jsonl'))) throw new UserError(`${command}: ${path} has no history.jsonl: not a run directory.`);
  if (!existsSync(join(dir, 'schedule.json'))) {
    throw new UserError(`${command}: ${path} has no schedule.json (runs before schedules were recorded cannot be replayed; run again with its --seed).`);
  }
  const config = readJson(join(dir, 'config.json'), command) as RecordedRun['config'];
  if (typeof config !== 'object' || config === null || typeof config.recipe !== 'string' || typeof config.seed !== 'number') {
    throw new UserError(`${command}: ${join(dir, 'config.json')} is not a run's config.`);
  }
  const schedule = ScheduleFile.safeParse(readJson(join(dir, 'schedule.json'), command));
  if (!schedule.success) throw new UserError(`${command}: ${join(dir, 'schedule.json')} is not a schedule: ${schedule.error.issues[0]?.message ?? ''}.`);
  const results = existsSync(join(dir, 'results.json')) ? (readJson(join(dir, 'results.json'), command) as Results) : undefined;
  return { dir, config, schedule: schedule.data.faults as FaultPlan[], results };
}

/** Anomaly type → count over every check, as results.json has them (tolerated ones apart). */
export function anomalyCountsOf(results: Results | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const check of Object.values(results?.checkers ?? {})) {
    if (check.valid !== false) continue;
    for (const anomaly of check.anomalies) counts.set(anomaly.type, (counts.get(anomaly.type) ?? 0) + 1);
  }
  return counts;
}

const verdictOf = (results: Results | undefined): string =>
  results === undefined ? 'UNCHECKED' : results.valid === true ? 'VALID' : results.valid === false ? 'INVALID' : 'UNKNOWN';

/** "INVALID  stuck-acquire ×35, leaked-node ×4". */
export function describeOutcome(results: Results | undefined): string {
  const counts = [...anomalyCountsOf(results)].map(([type, count]) => `${type} ×${count}`).join(', ');
  return `${verdictOf(results)}${counts === '' ? '' : `  ${counts}`}`;
}

/** What a replay may change of the original: the shrink's smaller runs. */
export type ReplayChanges = Partial<Pick<RunConfig, 'clients' | 'workers' | 'locks' | 'timeLimitS'>>;

/** A fresh run of a recorded one, with its schedule or the one given; resolves with its exit code and directory. */
export async function runReplay(
  original: RecordedRun,
  options: { results?: string; schedule?: readonly FaultPlan[]; changes?: ReplayChanges; origin?: RunConfig['origin'] } = {},
): Promise<{ exitCode: number; runDir: string; results: Results | undefined }> {
  const { runId: _runId, ...recorded } = original.config;
  const config: RunConfig = {
    ...recorded,
    ...options.changes,
    results: options.results ?? dirname(original.dir),
    origin: options.origin ?? { kind: 'replay', run: original.dir },
  };
  const { runTest } = await import('./runner.ts');
  const { exitCode, runDir } = await runTest(config, { schedule: options.schedule ?? original.schedule });
  const results = existsSync(join(runDir, 'results.json')) ? (readJson(join(runDir, 'results.json'), 'replay') as Results) : undefined;
  return { exitCode, runDir, results };
}

/** `npm run jepsen -- replay <run-dir>`: prints both outcomes; returns the replay's exit code. */
export async function replay(runDir: string, options: { results?: string } = {}): Promise<number> {
  const original = readRecordedRun(runDir, 'replay');
  const replayed = await runReplay(original, options);
  console.log(`original  ${original.dir}: ${describeOutcome(original.results)}`);
  console.log(`replay    ${replayed.runDir}: ${describeOutcome(replayed.results)}`);
  return replayed.exitCode;
}
