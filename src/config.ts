/** Everything a run is made of, as flags give it; written whole to results/<run>/config.json. */
import type { ZooKeeperVersion } from '../cluster/zookeeper.ts';
import { RECIPE_NAMES, type RecipeName } from '../workloads/recipes.ts';

export const WORKLOADS = ['try-lock', 'mutex', 'fenced-counter', 'rwlock', 'semaphore', 'leader'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export const NEMESES = [
  'kill', 'pause', 'partition', 'partition-clients', 'pause-holder', 'kill-mid-create', 'lost-reply', 'lost-delete',
] as const;
export type NemesisName = (typeof NEMESES)[number];

export const BACKENDS = ['local', 'docker', 'external', 'auto'] as const;

/** Curator's two leader recipes, picked by the worker option `leaderRecipe` (workload leader). */
export const LEADER_RECIPES = ['latch', 'selector'] as const;
export type LeaderRecipe = (typeof LEADER_RECIPES)[number];

/** Nemeses that act on servers: they need a backend that owns the servers (not external). */
export const SERVER_NEMESES: readonly NemesisName[] = ['kill', 'pause', 'partition', 'kill-mid-create'];
export type BackendName = (typeof BACKENDS)[number];

export interface RunConfig {
  /** A shipped recipe, or "custom" when `worker` names the user's own worker command. */
  recipe: RecipeName | 'custom';
  worker?: string;
  workload: WorkloadName;
  nemesis: NemesisName[];
  timeLimitS: number;
  clients: number;
  /** Worker processes (client hosts) the clients are spread over; the unit a nemesis pauses or cuts off. */
  workers: number;
  locks: number;
  holdMs: number;
  sessionTimeoutMs: number;
  /** Blocking acquires give up after this long. */
  acquireTimeoutMs: number;
  nemesisIntervalS: number;
  /** Seconds between mid-run snapshots of the lock directories; 0 for none (the final one is always taken). Absent in runs before it existed. */
  snapshotIntervalS?: number;
  fencing: boolean;
  /** Workload semaphore: leases per semaphore. Absent in runs before it existed. */
  permits?: number;
  /** Workload leader: the worker option `leaderRecipe` (Curator: LeaderLatch or LeaderSelector). Absent: the worker's default. */
  leaderRecipe?: LeaderRecipe;
  seed: number;
  nodes: number;
  tickTimeMs: number;
  /** The ZooKeeper servers' version (local and docker backends); absent in runs from before it was selectable: 3.8.0. */
  zkVersion?: ZooKeeperVersion;
  backend: BackendName;
  /** backend external: the ensemble's servers, "host:port,...". */
  connect?: string;
  results: string;
}

export const RECIPE_CHOICES = [...RECIPE_NAMES];

/** The command that reproduces a run, for the report and the summary. */
export function reproduceCommand(config: RunConfig): string {
  const flags = [
    config.worker === undefined ? `--recipe ${config.recipe}` : `--worker ${JSON.stringify(config.worker)}`,
    `--workload ${config.workload}`,
    config.nemesis.length > 0 ? `--nemesis ${config.nemesis.join(',')}` : '',
    `--time-limit ${config.timeLimitS}`,
    `--clients ${config.clients}`,
    `--workers ${config.workers}`,
    `--locks ${config.locks}`,
    `--hold ${config.holdMs}`,
    `--session-timeout ${config.sessionTimeoutMs}`,
    `--acquire-timeout ${config.acquireTimeoutMs}`,
    `--nemesis-interval ${config.nemesisIntervalS}`,
    config.snapshotIntervalS === undefined ? '' : `--snapshot-interval ${config.snapshotIntervalS}`,
    `--fencing ${config.fencing ? 'on' : 'off'}`,
    config.permits === undefined ? '' : `--permits ${config.permits}`,
    config.leaderRecipe === undefined ? '' : `--leader-recipe ${config.leaderRecipe}`,
    `--seed ${config.seed}`,
    `--nodes ${config.nodes}`,
    `--tick-time ${config.tickTimeMs}`,
    config.zkVersion === undefined ? '' : `--zk-version ${config.zkVersion}`,
    `--backend ${config.backend}`,
    config.connect === undefined ? '' : `--connect ${config.connect}`,
  ].filter((flag) => flag !== '');
  return `npm run jepsen -- ${flags.join(' ')}`;
}
