/** Everything a run is made of, as flags give it; written whole to results/<run>/config.json. */
import { join } from 'node:path';
import type { BackendName } from '../cluster/index.ts';
import type { ZooKeeperVersion } from '../cluster/zookeeper.ts';
import type { NemesisName } from '../nemesis/index.ts';
import type { TargetSpec } from '../nemesis/types.ts';
import type { RecipeName } from '../workloads/recipes.ts';
import type { LeaderRecipe, WorkloadName } from '../workloads/workloads.ts';

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
  /** What server faults hit (--nemesis-target); absent in runs before it existed: one. */
  nemesisTarget?: TargetSpec;
  /** How long each fault stays (--fault-duration); absent: each nemesis's own default. */
  faultDurationMs?: number;
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
  backend: BackendName | 'auto';
  /** backend external: the ensemble's servers, "host:port,...". */
  connect?: string;
  /** A Toxiproxy server's API URL: it carries the client-path faults instead of the built-in proxy. */
  toxiproxy?: string;
  /** backend ssh: the servers' hosts, "[user@]host[:port],...", one server each. */
  hosts?: string;
  /** Workers on these hosts over SSH instead of this machine, "[user@]host[:port],...". */
  clientHosts?: string;
  /** The private key for --hosts and --client-hosts. */
  sshKey?: string;
  /** Take a host's first key when known_hosts has none for it. */
  sshAcceptNew?: boolean;
  results: string;
  /** A run that carries out another run's schedule rather than its own seed's: a replay, or a shrink's attempt. */
  origin?: RunOrigin;
}

export interface RunOrigin {
  kind: 'replay' | 'shrink';
  /** The original run's directory. */
  run: string;
  /** shrink: what this attempt left out of the original ("faults 3–4", "clients 8 → 4"). */
  removed?: string;
}

/**
 * The command that reproduces a run, for the report and the summary: its flags (the seed plans the same schedule),
 * or, for a run that carried out another's schedule, a replay of its own directory.
 */
export function reproduceCommand(config: RunConfig & { runId?: string }): string {
  if (config.origin !== undefined && config.runId !== undefined) return `npm run jepsen -- replay ${join(config.results, config.runId)}`;
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
    config.nemesisTarget === undefined || config.nemesisTarget === 'one' ? '' : `--nemesis-target ${config.nemesisTarget}`,
    config.faultDurationMs === undefined ? '' : `--fault-duration ${config.faultDurationMs}`,
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
    config.toxiproxy === undefined ? '' : `--toxiproxy ${config.toxiproxy}`,
    config.hosts === undefined ? '' : `--hosts ${config.hosts}`,
    config.clientHosts === undefined ? '' : `--client-hosts ${config.clientHosts}`,
    config.sshKey === undefined ? '' : `--ssh-key ${config.sshKey}`,
    config.sshAcceptNew ? '--ssh-accept-new' : '',
  ].filter((flag) => flag !== '');
  return `npm run jepsen -- ${flags.join(' ')}`;
}
