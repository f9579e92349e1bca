/**
 * `npm run jepsen -- shrink <run-dir> [--budget N] [--anomaly TYPE]`: from an invalid run, a smaller run that still
 * shows the same anomaly type. Practical, not clever: each attempt is an ordinary replayed run (its own directory
 * and report) of the current smallest reproducer with one thing less, kept when it still reproduces:
 *   1. fewer faults: drop a part of the recorded schedule, halves first, then quarters, ... down to one at a time;
 *   2. fewer clients (and workers), halving; then fewer locks, halving;
 *   3. a shorter time limit, halving, never before the last fault left has healed.
 * N attempts at most (default 12). Each is printed as it finishes; shrink.json lists them all and the smallest
 * reproducer, given as one command (a replay of its directory).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Results } from '../checker/types.ts';
import { UserError, EXIT } from '../ground/errors.ts';
import type { FaultPlan } from '../nemesis/types.ts';
import type { RunConfig } from './config.ts';
import { anomalyCountsOf, describeOutcome, readRecordedRun, runReplay, type RecordedRun, type ReplayChanges } from './replay.ts';

export const SHRINK_VERSION = 1;

/** One reproducer: the schedule and the sizes a replay runs with. */
export interface Candidate {
  schedule: FaultPlan[];
  clients: number;
  workers: number;
  locks: number;
  timeLimitS: number;
}

interface Attempt {
  attempt: number;
  /** What this attempt left out of the smallest reproducer before it. */
  removed: string;
  faults: number;
  clients: number;
  locks: number;
  timeLimitS: number;
  verdict: 'valid' | 'invalid' | 'unknown' | 'crashed';
  anomalies: Record<string, number>;
  reproduced: boolean;
  run: string | null;
  error?: string;
}

/** The order anomaly types are picked in when none is named: the pathologies' own first. */
const PREFERRED_ANOMALIES = ['double-holder', 'leaked-node', 'stuck-acquire', 'stale-write', 'lost-update'];

export interface ShrinkOptions {
  budget: number;
  anomaly?: string;
  results?: string;
}

/** A schedule as a key: the faults it keeps. */
const scheduleKey = (schedule: readonly FaultPlan[]): string => JSON.stringify(schedule);

/**
 * Every way to make `current` one step smaller, in the order they are tried. A schedule that already lost the anomaly
 * is not tried again when only the sizes have shrunk since: fewer clients make a fault less likely to bite, not more.
 */
export function* smallerCandidates(current: Candidate, lostSchedules: ReadonlySet<string>): Generator<{ removed: string; candidate: Candidate }> {
  const faults = current.schedule;
  // Parts of the schedule to drop: halves first, then quarters, ... down to single faults.
  for (let size = Math.ceil(faults.length / 2); faults.length > 0; size = Math.ceil(size / 2)) {
    for (let start = 0; start < faults.length; start += size) {
      const end = Math.min(start + size, faults.length);
      const label = end - start === 1 ? `fault ${start + 1} (${faults[start]!.nemesis})` : `faults ${start + 1}–${end}`;
      const schedule = [...faults.slice(0, start), ...faults.slice(end)];
      if (!lostSchedules.has(scheduleKey(schedule))) yield { removed: `${label} of ${faults.length}`, candidate: { ...current, schedule } };
    }
    if (size === 1) break;
  }
  if (current.clients > 1) {
    const clients = Math.ceil(current.clients / 2);
    yield { removed: `clients ${current.clients} → ${clients}`, candidate: { ...current, clients, workers: Math.min(current.workers, clients) } };
  }
  if (current.locks > 1) {
    const locks = Math.ceil(current.locks / 2);
    yield { removed: `locks ${current.locks} → ${locks}`, candidate: { ...current, locks } };
  }
  const lastHealedS = Math.ceil(Math.max(0, ...faults.map((fault) => fault.atMs + fault.durationMs)) / 1000) + 1;
  const timeLimitS = Math.max(lastHealedS, Math.ceil(current.timeLimitS / 2));
  if (timeLimitS < current.timeLimitS) yield { removed: `time limit ${current.timeLimitS} s → ${timeLimitS} s`, candidate: { ...current, timeLimitS } };
}

const verdictOf = (results: Results | undefined): Attempt['verdict'] =>
  results === undefined ? 'crashed' : results.valid === true ? 'valid' : results.valid === false ? 'invalid' : 'unknown';

/** Runs the shrink; returns the exit code: 0 when a reproducer smaller than the original was found, 1 when none. */
export async function shrink(runDir: string, options: ShrinkOptions): Promise<number> {
  const original = readRecordedRun(runDir, 'shrink');
  const anomaly = targetAnomaly(original, options.anomaly);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-').replace('Z', '');
  const dir = join(options.results ?? dirname(original.dir), `shrink-${stamp}-${basename(original.dir)}`);
  mkdirSync(dir, { recursive: true });
  const runs = join(dir, 'runs');
  const attempts: Attempt[] = [];
  let current: Candidate = {
    schedule: original.schedule,
    clients: original.config.clients,
    workers: original.config.workers,
    locks: original.config.locks,
    timeLimitS: original.config.timeLimitS,
  };
  let smallest: { run: string; candidate: Candidate } | undefined;
  const lostSchedules = new Set<string>();
  const write = (): void => writeShrinkFile(join(dir, 'shrink.json'), original, anomaly, options.budget, attempts, smallest);

  console.log(`shrink: ${original.dir}: ${describeOutcome(original.results)}; looking for ${anomaly} in at most ${options.budget} runs → ${dir}`);
  write();
  let improved = true;
  while (improved && attempts.length < options.budget) {
    improved = false;
    for (const { removed, candidate } of smallerCandidates(current, lostSchedules)) {
      if (attempts.length >= options.budget) break;
      const attempt = await tryCandidate(original, candidate, removed, anomaly, runs, attempts.length + 1);
      attempts.push(attempt);
      console.log(`[${attempt.attempt}/${options.budget}] without ${removed} (${describeSize(candidate)}): ${attempt.verdict.toUpperCase()}` +
        `${Object.keys(attempt.anomalies).length === 0 ? '' : ` ${Object.entries(attempt.anomalies).map(([type, count]) => `${type} ×${count}`).join(', ')}`}` +
        ` → ${attempt.reproduced ? 'still shows it, kept' : 'lost it'}`);
      write();
      if (!attempt.reproduced && candidate.schedule.length < current.schedule.length) lostSchedules.add(scheduleKey(candidate.schedule));
      if (attempt.reproduced) {
        current = candidate;
        smallest = { run: attempt.run!, candidate };
        improved = true;
        break;
      }
    }
  }
  write();
  if (smallest === undefined) {
    console.log(`shrink: nothing smaller shows ${anomaly} within ${attempts.length} runs; the original stays the smallest: npm run jepsen -- replay ${original.dir}`);
    return EXIT.invalid;
  }
  console.log(`shrink: smallest reproducer: ${describeSize(smallest.candidate)} (the original: ${describeSize(sizeOf(original))})`);
  console.log(`npm run jepsen -- replay ${smallest.run}`);
  return EXIT.valid;
}

function sizeOf(run: RecordedRun): Candidate {
  return { schedule: run.schedule, clients: run.config.clients, workers: run.config.workers, locks: run.config.locks, timeLimitS: run.config.timeLimitS };
}

function describeSize(candidate: Candidate): string {
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  return `${count(candidate.schedule.length, 'fault')}, ${count(candidate.clients, 'client')} on ${count(candidate.workers, 'worker')}, ` +
    `${count(candidate.locks, 'lock')}, ${candidate.timeLimitS} s`;
}

/** The anomaly to keep: the one named, or the original's first by PREFERRED_ANOMALIES. Refuses a run with nothing to shrink. */
function targetAnomaly(original: RecordedRun, named: string | undefined): string {
  const results = original.results;
  if (results === undefined) throw new UserError(`shrink: ${original.dir} has no results.json (check it first: npm run check -- ${original.dir}).`);
  if (results.valid === 'unknown') throw new UserError(`shrink: ${original.dir} is unknown (${reasonOf(results)}): there is no anomaly to keep.`, EXIT.unknown);
  const found = [...anomalyCountsOf(results).keys()];
  if (results.valid === true || found.length === 0) throw new UserError(`shrink: ${original.dir} is valid: there is no anomaly to keep.`);
  if (named !== undefined) {
    if (!found.includes(named)) throw new UserError(`shrink: ${original.dir} shows ${found.join(', ')}, not ${named}.`);
    return named;
  }
  return [...found].sort((a, b) => rank(a) - rank(b))[0]!;
}

const rank = (type: string): number => (PREFERRED_ANOMALIES.includes(type) ? PREFERRED_ANOMALIES.indexOf(type) : PREFERRED_ANOMALIES.length);

function reasonOf(results: Results): string {
  return Object.values(results.checkers).map((check) => check.reason).find((reason) => reason !== undefined) ?? 'the checks could not decide';
}

async function tryCandidate(original: RecordedRun, candidate: Candidate, removed: string, anomaly: string, results: string, attempt: number): Promise<Attempt> {
  const changes: ReplayChanges = { clients: candidate.clients, workers: candidate.workers, locks: candidate.locks, timeLimitS: candidate.timeLimitS };
  const size = { faults: candidate.schedule.length, clients: candidate.clients, locks: candidate.locks, timeLimitS: candidate.timeLimitS };
  try {
    const replayed = await runReplay(original, {
      results,
      schedule: candidate.schedule.filter((fault) => fault.atMs < candidate.timeLimitS * 1000),
      changes,
      origin: { kind: 'shrink', run: original.dir, removed },
    });
    const anomalies = Object.fromEntries(anomalyCountsOf(replayed.results));
    return { attempt, removed, ...size, verdict: verdictOf(replayed.results), anomalies, reproduced: (anomalies[anomaly] ?? 0) > 0, run: replayed.runDir };
  } catch (error) {
    return { attempt, removed, ...size, verdict: 'crashed', anomalies: {}, reproduced: false, run: null, error: error instanceof Error ? error.message : String(error) };
  }
}

/** shrink.json, version 1 (docs/results-format.md, "shrink.json"). */
function writeShrinkFile(path: string, original: RecordedRun, anomaly: string, budget: number, attempts: Attempt[], smallest: { run: string; candidate: Candidate } | undefined): void {
  const document = {
    version: SHRINK_VERSION,
    original: { run: original.dir, ...sizeSummary(sizeOf(original)) },
    anomaly,
    budget,
    attempts,
    smallest: smallest === undefined ? null : { run: smallest.run, command: `npm run jepsen -- replay ${smallest.run}`, ...sizeSummary(smallest.candidate) },
  };
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
}

function sizeSummary(candidate: Candidate): Pick<RunConfig, 'clients' | 'workers' | 'locks' | 'timeLimitS'> & { faults: number } {
  return { faults: candidate.schedule.length, clients: candidate.clients, workers: candidate.workers, locks: candidate.locks, timeLimitS: candidate.timeLimitS };
}
