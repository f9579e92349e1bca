/**
 * The registered checks, in the order results.json lists them. Adding a check is its own file (a `Check`,
 * check.ts) and one line here; `Results['checkers']` and `Anomaly` (types.ts) follow from this list.
 */
import type { Check } from './check.ts';
import { fencingCheck } from './fencing.ts';
import { leaderCheck } from './leader.ts';
import { leaksCheck } from './leaks.ts';
import { livenessCheck } from './liveness.ts';
import { mutexCheck } from './mutex.ts';
import { semaphoreCheck } from './semaphore.ts';

export const CHECKS = [mutexCheck, leaksCheck, livenessCheck, fencingCheck, leaderCheck, semaphoreCheck] as const;

type ResultOf<C> = C extends Check<string, infer R> ? R : never;

/** results.json's `checkers`: each registered check's result under its name. */
export type CheckerResults = { [C in (typeof CHECKS)[number] as C['name']]: ResultOf<C> };
