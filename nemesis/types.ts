/**
 * A nemesis, in two verbs (Jepsen's nemesis protocol, split where reproducibility needs it):
 * - `plan` draws what to hit and for how long from the nemesis stream alone, before the run needs it, so that a
 *   seed gives the same schedule whatever the timing of the answers, and a recorded schedule can be replayed;
 * - `apply` carries one planned fault out now, against the ensemble as it is, and returns it with its own `heal`.
 * Faults become `nemesis` lines in the history, so every anomaly can be set beside the faults around it.
 */
import type { Capability, Cluster } from '../cluster/types.ts';
import type { Random } from '../ground/random.ts';
import type { ProxyHandle } from './proxy/client.ts';

/** How many of the servers (or of the client hosts, for client faults) a fault hits. */
export const TARGETS = ['one', 'minority', 'majority', 'all', 'leader', 'followers'] as const;
export type TargetSpec = (typeof TARGETS)[number];

/** Plain data, as written to schedule.json and the history: drawn by `plan`, read by `apply`. */
export type PlannedTarget =
  /** Servers by id, drawn at plan time. */
  | { nodes: number[] }
  /** Servers by role, resolved when the fault is applied (the leader may have changed by then). */
  | { role: 'leader' | 'followers' }
  /** Client hosts by name. */
  | { workers: string[] }
  /** Holders, resolved when applied: that share of the hosts holding a lock then, chosen by `pick`. */
  | { holders: 'one' | 'minority' | 'majority' | 'all'; pick: number }
  /** Whatever request matches first (the proxy's one-shot faults). */
  | { next: 'request' };

/** One fault of a schedule. */
export interface FaultPlan {
  /** The nemesis that applies it. */
  nemesis: string;
  /** When it starts: milliseconds after the schedule starts. */
  atMs: number;
  /** How long it stays before it is healed. */
  durationMs: number;
  target: PlannedTarget;
  /** Anything else the nemesis drew (partition-clients: whether it outlasts the session). */
  params?: Record<string, string | number | boolean>;
}

/** What a nemesis draws for one fault; the schedule adds the nemesis and the time. */
export type Draw = Pick<FaultPlan, 'durationMs' | 'target' | 'params'>;

/** What `plan` may know: the run's shape, never its state. */
export interface PlanSettings {
  nodeIds: readonly number[];
  clientHosts: readonly string[];
  sessionTimeoutMs: number;
  intervalMs: number;
  target: TargetSpec;
  /** --fault-duration: every fault stays this long; undefined: each nemesis's own default. */
  faultDurationMs?: number;
}

export interface Fault {
  /** One line for a person: "SIGKILL zk2 (the leader)". */
  description: string;
  /** What it hit, resolved: nodes, side, workers, frame; for the history and the report. */
  value: Record<string, unknown>;
  heal(): Promise<void>;
}

/** A worker process: one client host, paused or cut off as a unit. */
export interface ClientHost {
  name: string;
  /** Resolves once the host is frozen (at once for a local process; after the signal got there for a remote one). */
  pause(): void | Promise<void>;
  resume(): void | Promise<void>;
}

export interface Holder {
  client: string;
  worker: string;
  lock: string;
}

export interface NemesisContext {
  cluster: Cluster;
  proxy: ProxyHandle;
  sessionTimeoutMs: number;
  intervalMs: number;
  /** Parent of every lock node: faults aimed at lock operations match paths under it. */
  lockRoot: string;
  clientHosts: readonly ClientHost[];
  /** Clients that believe they hold a lock right now. */
  holders(): readonly Holder[];
}

/**
 * What a nemesis needs of the run: server capabilities of the backend, or the ZooKeeper-aware fault proxy (faults
 * aimed at one ZooKeeper request). Every nemesis may use the proxy's generic faults and the client hosts.
 */
export type Need = Capability | 'zookeeper-aware-proxy';

export interface Nemesis {
  readonly name: string;
  readonly needs: readonly Need[];
  plan(random: Random, settings: PlanSettings): Draw;
  /** Applies one planned fault now; undefined when there is nothing to hit (no holder, no matching request in time). */
  apply(plan: FaultPlan, context: NemesisContext): Promise<Fault | undefined>;
}
